"""The hot public reads of one review by id, served from stored bytes on the event loop.

No read touches the ORM, and only a request that carries credentials pays for authentication,
which runs in the thread pool with an ordinary session.

Every representation of one review (native JSON, JSON-LD, the embed snippet, the public page)
goes through ``readable_review`` (who may see it, by the rule every read of a review by id
follows: ``deps.require_visible``) and ``stored_response`` (ETag, caching, CORS, 304), so they
agree on access rules and headers.
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response

from app.api.deps import app_state, authenticate_request, no_review, require_visible
from app.config import Settings
from app.core.ids import is_review_id
from app.core.security import Principal
from app.db.reads import StoredReview
from app.errors import Unauthorized
from app.http.caching import JSONLD, etag, http_date, none_match

MEDIA_TYPES = {JSONLD: "application/ld+json"}
# Public reads may be fetched by any page's script (a CMS preview, a partner's widget); the
# answer is the same for every origin and never depends on cookies.
CORS = {"Access-Control-Allow-Origin": "*"}
CORS_RAW = [(name.lower().encode(), value.encode()) for name, value in CORS.items()]


class StoredRead(APIRoute):
    """A hot GET (a review by id, a list page): documented like every route (its OpenAPI
    operation comes from the endpoint's signature), but served without FastAPI's per-request
    machinery (dependency solving, parsing of the query, headers and cookies, two exit
    stacks), which took a quarter of such a request's time (bench/README.md). Its endpoint
    takes the path's parameters by name (strings: nothing to validate) and the request, and
    returns a Response; errors are rendered by the app's handlers as on any route."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        self.app = request_response(self.serve)

    async def serve(self, request: Request) -> Response:
        response: Response = await self.endpoint(request=request, **request.path_params)
        return response


async def reader(request: Request) -> Principal | None:
    """The caller of a public listing read: anonymous, or the key it sent (401 when bad, and
    when the service has public reads switched off and no key came)."""
    settings: Settings = app_state(request).settings
    if "authorization" not in request.headers:
        if not settings.public_reads:
            raise Unauthorized("This service requires an API key for every read.")
        return None
    principal = await run_in_threadpool(authenticate_request, request)
    if principal is None and not settings.public_reads:
        raise Unauthorized("This service requires an API key for every read.")
    return principal


def public_cache_control(request: Request) -> str:
    if "authorization" in request.headers:
        return "private, no-cache"
    return f"public, max-age={app_state(request).settings.cache_max_age}"


async def readable_review(request: Request, review_id: str) -> tuple[StoredReview, str]:
    """The stored review the caller may see (``deps.require_visible``), with its Cache-Control;
    401, 404 or 410 else. An anonymous read of a published review, which every service with
    public reads allows, is answered without authentication or the thread pool."""
    settings: Settings = app_state(request).settings
    row = await app_state(request).reads.review(review_id) if is_review_id(review_id) else None
    if row is None:
        raise no_review(review_id)
    if (
        row.status == "published"
        and settings.public_reads
        and "authorization" not in request.headers
    ):
        return row, f"public, max-age={settings.cache_max_age}"
    require_visible(row, principal=await reader(request))
    return row, "private, no-cache"


class StoredBytes(Response):
    """A response whose raw headers are built by its caller (``stored_response``, list pages):
    Starlette's constructor would encode and lowercase every header again on each request."""

    def __init__(self, body: bytes, status_code: int, raw_headers: list[tuple[bytes, bytes]]):
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = raw_headers


def stored_response(
    request: Request,
    row: StoredReview,
    *,
    tag: str,
    cache_control: str,
    media_type: str,
    body: Callable[[], bytes],
    vary: str = "Accept, Authorization",
    headers: dict[str, str] | None = None,
) -> Response:
    """200 with ``body()``, or 304 (without rendering it) when ``If-None-Match`` has ``tag``."""
    sent = [
        (b"etag", tag.encode("latin-1")),
        (b"last-modified", http_date(row.updated_at).encode("latin-1")),
        (b"cache-control", cache_control.encode("latin-1")),
        (b"vary", vary.encode("latin-1")),
        *CORS_RAW,
    ]
    if headers:
        sent += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if none_match(request.headers.get("if-none-match"), tag):
        return StoredBytes(b"", 304, sent)
    content = body()
    sent += [(b"content-length", str(len(content)).encode()), content_type(media_type)]
    return StoredBytes(content, 200, sent)


@cache
def content_type(media_type: str) -> tuple[bytes, bytes]:
    """The Content-Type header Starlette would send (text types get a charset)."""
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type += "; charset=utf-8"
    return b"content-type", media_type.encode()


async def serve_stored_review(request: Request, review_id: str, representation: str) -> Response:
    row, cache_control = await readable_review(request, review_id)
    return stored_response(
        request,
        row,
        tag=etag(row.id, row.version, representation),
        cache_control=cache_control,
        media_type=MEDIA_TYPES.get(representation, "application/json"),
        body=lambda: row.jsonld if representation == JSONLD else row.native,
    )
