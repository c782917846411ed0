"""The application factory: routers, middleware, error handlers and the lifespan that opens
and closes the database handles."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app import errors
from app.api import openapi
from app.api.deps import refuse_nul
from app.api.routes import (
    embedding,
    google,
    imports,
    operations,
    publishers,
    reviews,
    search,
    syndication,
    webhooks,
)
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.middleware import RequestMiddleware
from app.stored_reads import open_reads
from app.webhooks import Dispatcher


def configure_logging(level: str) -> None:
    """Send the service's own log lines (access log, errors) to stderr, once per process."""
    logger = logging.getLogger("claimreview")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.reads = await open_reads(
            settings.database_url, is_sqlite=settings.is_sqlite, pool_size=settings.read_pool_size
        )
        dispatcher = None
        if settings.dispatcher_enabled:
            dispatcher = Dispatcher(settings=settings, sessionmaker=app.state.sessionmaker)
            dispatcher.start()
        try:
            yield
        finally:
            if dispatcher is not None:
                await dispatcher.stop()
            await app.state.reads.close()
            engine.dispose()

    app = FastAPI(
        title="ClaimReview API",
        version="1.0.0",
        summary="Store fact-checks once; publish them everywhere as schema.org ClaimReview.",
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul)],
    )
    app.state.settings = settings
    app.add_middleware(
        RequestMiddleware, max_body_bytes=settings.max_body_bytes, access_log=settings.access_log
    )
    errors.install(app)
    for module in (
        search,
        reviews,
        embedding,
        publishers,
        syndication,
        webhooks,
        imports,
        operations,
        google,
    ):
        app.include_router(module.router)
    openapi.install(app)
    return app
