"""Operations: liveness, readiness and the verdict vocabulary."""

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from app.api import openapi
from app.api.deps import app_state
from app.core import verdicts
from app.errors import problem_body

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Answer 200 while the process is up."""
    return {"status": "ok"}


def _database_reachable(request: Request) -> bool:
    try:
        with app_state(request).engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


@router.get("/readyz", responses=openapi.responses(503))
async def readyz(request: Request) -> Response:
    """Answer 200 when the database is reachable, 503 otherwise."""
    if await run_in_threadpool(_database_reachable, request):
        return Response(b'{"status":"ready"}', media_type="application/json")
    body = problem_body(
        status=503,
        title="Service Unavailable",
        code="database-unreachable",
        detail="The database cannot be reached.",
    )
    return Response(body, status_code=503, media_type="application/problem+json")


@router.get("/v1/verdicts", tags=["verdicts"])
def get_verdicts() -> dict[str, Any]:
    """Publish the normalised verdict vocabulary and the label dictionary with its version."""
    return verdicts.dictionary()
