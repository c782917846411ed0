"""The hot public read: one review by id, served from stored bytes on the event loop.

Published reviews never touch the thread pool or the ORM. Only a draft, a service with public
reads switched off, or a request that carries credentials pays for authentication, which runs
in the thread pool with an ordinary session.
"""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from app.api.deps import authenticate_request
from app.config import Settings
from app.errors import Gone, NotFound, Unauthorized
from app.http_cache import JSONLD, etag, http_date, none_match
from app.ids import is_review_id
from app.native import format_timestamp

MEDIA_TYPES = {JSONLD: "application/ld+json"}


async def serve_stored_review(request: Request, review_id: str, representation: str) -> Response:
    settings: Settings = request.app.state.settings
    row = await request.app.state.reads.review(review_id) if is_review_id(review_id) else None
    if row is None:
        raise NotFound(f"No claim review with id '{review_id[:64]}'.")
    cache_control = f"public, max-age={settings.cache_max_age}"
    anonymous = "authorization" not in request.headers
    if not (anonymous and settings.public_reads and row.status == "published"):
        principal = await run_in_threadpool(authenticate_request, request)
        if principal is None and not settings.public_reads:
            raise Unauthorized("This service requires an API key for every read.")
        if row.status == "draft" and not (principal and principal.owns(row.publisher_id)):
            raise NotFound(f"No claim review with id '{review_id[:64]}'.")
        cache_control = "private, no-cache"
    if row.status == "retracted":
        retracted = format_timestamp(row.retracted_at) if row.retracted_at else None
        raise Gone("This claim review has been retracted.", retracted_at=retracted)
    tag = etag(row.id, row.version, representation)
    headers = {
        "ETag": tag,
        "Last-Modified": http_date(row.updated_at),
        "Cache-Control": cache_control,
        "Vary": "Accept, Authorization",
    }
    if none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    body = row.jsonld if representation == JSONLD else row.native
    return Response(
        body, media_type=MEDIA_TYPES.get(representation, "application/json"), headers=headers
    )
