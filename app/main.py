"""The application factory: routers, middleware, error handlers and the lifespan that opens
and closes the database handles."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app import errors
from app.api import openapi, v1alpha1
from app.api.deps import refuse_nul
from app.api.v1 import (
    embedding,
    image_search,
    imports,
    metrics,
    operations,
    partners,
    publishers,
    reviews,
    search,
    syndication,
    webhooks,
)
from app.config import Settings, get_settings
from app.db.engine import make_engine, make_sessionmaker
from app.db.facet_counts import Folding
from app.db.reads import open_reads
from app.http import logs, rate_limits, request_limits
from app.http.heap import settled_heap
from app.http.middleware import RequestMiddleware
from app.services.images.worker import ImageWorker
from app.services.webhooks.dispatcher import Dispatcher


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logs.configure(level=settings.log_level, fmt=settings.log_format)
    rate_store = rate_limits.make_store(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.reads = await open_reads(
            settings.database_url,
            is_sqlite=settings.is_sqlite,
            pool_size=settings.read_pool_size,
            cache_bytes=settings.read_cache_mb << 20,
        )
        folding = Folding(app.state.sessionmaker, interval=settings.facet_fold_interval_seconds)
        folding.start()
        dispatcher = images = None
        if settings.dispatcher_enabled:
            dispatcher = Dispatcher(settings=settings, sessionmaker=app.state.sessionmaker)
            dispatcher.start()
            images = ImageWorker(settings=settings, sessionmaker=app.state.sessionmaker)
            images.start()
        try:
            with settled_heap():
                yield
        finally:
            if images is not None:
                await images.stop()
            if dispatcher is not None:
                await dispatcher.stop()
            await folding.stop()
            await app.state.reads.close()
            await rate_store.close()
            engine.dispose()

    app = FastAPI(
        title="ClaimReview API",
        version="1.0.0",
        summary="Store fact-checks once; publish them everywhere as schema.org ClaimReview.",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry checks its providers on every request; the service
        # reports through Prometheus (app/http/metrics.py) instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    rates = None
    if settings.rate_limit_enabled:
        rates = rate_limits.Limiter(
            rate_store,
            ip=rate_limits.Rate(
                "ip", settings.rate_limit_ip_per_second, settings.rate_limit_ip_burst
            ),
            key=rate_limits.Rate(
                "key", settings.rate_limit_key_per_second, settings.rate_limit_key_burst
            ),
        )
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        access_log=settings.access_log,
        body_limits={
            "/v1/import": settings.max_import_bytes,
            # An uploaded query image, and its multipart framing.
            "/v1/image-search": settings.image_max_bytes + 64 * 1024,
        },
        limits=request_limits.Limits(
            max_query_bytes=settings.max_query_bytes,
            max_query_params=settings.max_query_params,
            body_timeout=settings.body_timeout_seconds,
        ),
        rates=rates,
        max_concurrency=settings.max_concurrency,
        trusted_proxies=settings.trusted_proxies,
        docs_paths=frozenset(
            filter(None, (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url))
        ),
    )
    errors.install(app)
    reviews.install_hot_reads(app)
    search.install_list(app)
    for module in (
        search,
        image_search,
        reviews,
        embedding,
        publishers,
        partners,
        syndication,
        webhooks,
        imports,
        operations,
        metrics,
        v1alpha1,
    ):
        # On every routed operation but the two hot reads, whose only parameter is an id that
        # must match ids.REVIEW_ID anyway (a dependency costs them a quarter of their time).
        app.include_router(module.router, dependencies=[Depends(refuse_nul)])
    openapi.install(app)
    return app
