"""Syndication: the change feed with tombstones and streamed bulk exports."""

import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from app.api import openapi
from app.api.deps import app_state
from app.api.hot import reader
from app.api.v1.search import FiltersDep, bad_parameter
from app.core.document import normalise_language
from app.db import query
from app.db.query import ExportShape
from app.http import cursors
from app.http.caching import none_match
from app.services import syndication
from app.services.syndication import Format

router = APIRouter(tags=["syndication"])

FEED_START = (0, 0)
EXPORT_BATCH = 2000
DATA_FEED = {"type": "object", "description": "A schema.org DataFeed of ClaimReview JSON-LD"}
FEED_RESPONSES = {
    200: {"description": "OK", "content": {"application/ld+json": {"schema": DATA_FEED}}},
    **openapi.responses(304, 400, 401, 422),
}
EXPORT_SCHEMAS = {"ndjson": {"type": "string"}, "jsonld": DATA_FEED, "csv": {"type": "string"}}
EXPORT_RESPONSES = {
    200: {
        "description": "The reviews in the requested format (gzip with Accept-Encoding: gzip)",
        "content": {
            syndication.MEDIA_TYPES[format].partition(";")[0]: {"schema": EXPORT_SCHEMAS[format]}
            for format in syndication.FORMATS
        },
    },
    **openapi.responses(400, 401, 422),
}


@router.get("/v1/feed", response_class=Response, responses=FEED_RESPONSES)
async def feed(
    request: Request,
    since: Annotated[str | None, Query(max_length=1000, description="The `next` cursor.")] = None,
    publisher: Annotated[str | None, Query(max_length=64, description="Publisher slug.")] = None,
    language: Annotated[str | None, Query(max_length=35, description="BCP 47 language.")] = None,
    kind: Annotated[
        Literal["claim", "media"] | None,
        Query(description="`claim`: ClaimReviews only; `media`: MediaReviews only."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response:
    """Page through every change to published reviews, oldest first, as a schema.org DataFeed."""
    await reader(request)  # a bad key is refused, and no key when reads are not public
    settings = app_state(request).settings
    reads = app_state(request).reads
    if language is not None:
        try:
            language = normalise_language(language)
        except ValueError as error:
            raise bad_parameter("language", str(error)) from None
    filters = {"publisher": publisher, "language": language}
    if kind is not None:  # not in the scope of cursors made before the filter existed
        filters["kind"] = kind
    scope = cursors.fingerprint(["feed", filters])
    position = FEED_START
    if since is not None:
        payload = cursors.decode(since, secret=settings.signing_key)
        if payload.get("s") != scope:
            raise bad_parameter("since", "was issued for other filters")
        position = (int(payload["t"]), int(payload["i"]))
    sql, params = query.feed_events(
        dialect=reads.dialect,
        after=position,
        publisher_slug=publisher,
        language=language,
        limit=limit,
        kind=kind,
    )
    rows = await reads.fetch(sql, params, heavy=True)
    if rows:
        position = (int(rows[-1][0]), int(rows[-1][1]))
    next_since = cursors.encode(
        {"s": scope, "t": position[0], "i": position[1]}, secret=settings.signing_key
    )
    query_next = {key: value for key, value in filters.items() if value} | {
        "since": next_since,
        "limit": limit,
    }
    # A full page never changes; the last page grows as changes arrive, so check back soon.
    # Shared caches may keep pages only while reads are public.
    visibility = "public" if settings.public_reads else "private"
    headers = {
        "Link": f'<{settings.public_base_url}/v1/feed?{urlencode(query_next)}>; rel="next"',
        "ETag": f'"feed.{cursors.fingerprint([since, position, len(rows)])}"',
        "Cache-Control": f"{visibility}, max-age={3600 if len(rows) == limit else 5}",
    }
    if none_match(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    items = [
        syndication.feed_item(
            jsonld=bytes(row[7]),
            review_uri=syndication.review_uri(settings.public_base_url, row[4]),
            url=row[5],
            created_at=row[6],
            changed_at=row[3],
            deleted=row[2] == "review.retracted",
        )
        for row in rows
    ]
    body = syndication.DATA_FEED_OPEN + b",".join(items) + syndication.DATA_FEED_CLOSE
    return Response(body, media_type="application/ld+json", headers=headers)


@router.get(
    "/v1/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
async def export(
    request: Request,
    filters: FiltersDep,
    format: Annotated[Format, Query(description="`ndjson`, `jsonld` (a DataFeed) or `csv`.")] = (
        "ndjson"
    ),
    include_deleted: Annotated[bool, Query(description="Add retracted reviews as tombstones.")] = (
        False
    ),
) -> StreamingResponse:
    """Stream every matching review (constant memory; gzip when the client accepts it)."""
    review_filter = await filters.visible_to(request)
    settings = app_state(request).settings
    reads = app_state(request).reads
    if include_deleted:
        review_filter = query.with_deleted(review_filter)
    shape = syndication.export_shape(format, review_filter)
    sql, params = query.export_reviews(review_filter, dialect=reads.dialect, shape=shape)
    batches = reads.stream(sql, params, batch=EXPORT_BATCH)
    chunks = _serialised(batches, format, shape, settings.public_base_url)
    name = f"claimreviews-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{format}"
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        chunks = _gzipped(chunks)
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return StreamingResponse(chunks, media_type=syndication.MEDIA_TYPES[format], headers=headers)


async def _serialised(
    batches: AsyncIterator[list[Any]], format: Format, shape: ExportShape, base_url: str
) -> AsyncIterator[bytes]:
    yield syndication.export_head(format)
    first = True
    async for batch in batches:
        yield syndication.export_rows(
            batch, format=format, shape=shape, base_url=base_url, first=first
        )
        first = False
    yield syndication.export_tail(format)


async def _gzipped(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Compressed in a worker thread (zlib lets go of the GIL): a batch takes tens of
    milliseconds to deflate, which the event loop would otherwise withhold from every other
    request."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    async for chunk in chunks:
        if compressed := await run_in_threadpool(compressor.compress, chunk):
            yield compressed
    yield compressor.flush()
