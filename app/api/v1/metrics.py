"""Prometheus metrics: ``GET /metrics`` in the text exposition format (see app/http/metrics.py).

Open by default, like most exporters (keep the port off the internet, or block the path at the
proxy); with ``CLAIMREVIEW_METRICS_TOKEN`` set a scrape must send it as a Bearer token.
"""

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from app.api import openapi
from app.api.deps import SettingsDep, app_state
from app.core.security import bearer_token, token_matches
from app.errors import Unauthorized
from app.http import metrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **openapi.responses(401),
    },
)
async def get_metrics(
    request: Request,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Expose request counts, latencies, database pools and the webhook backlog to Prometheus."""
    if settings.metrics_token is not None:
        token = bearer_token(authorization)
        if not token or not token_matches(token, settings.metrics_token):
            raise Unauthorized("Scraping /metrics needs 'Authorization: Bearer <metrics token>'.")
    body = await metrics.exposition(
        engine=app_state(request).engine, reads=app_state(request).reads
    )
    return Response(body, media_type=metrics.CONTENT_TYPE)
