"""Listing and searching reviews: filters, full-text `q`, cursor paging, facets.

Both routes run on the event loop (see db/reads.py): a list page is one indexed query
whose rows are the stored native or JSON-LD bytes, joined without parsing.
"""

from collections.abc import Hashable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from app.api import by_image, openapi
from app.api.deps import app_state, query_model, refuse_nul
from app.api.hot import (
    StoredBytes,
    StoredRead,
    content_type,
    public_cache_control,
    reader,
)
from app.core.document import article_url, check_http_url, normalise_date, normalise_language
from app.core.textfold import fold
from app.core.verdicts import VOCABULARY
from app.db import query
from app.db.query import ReviewFilter, Sort
from app.db.read_cache import text_size
from app.errors import Unauthorized, Unprocessable
from app.http import cursors
from app.services.reviews import moment

router = APIRouter(tags=["query"])

# Literal of a tuple is the Literal of its items: the vocabulary stays defined in one place.
Verdict = Literal[VOCABULARY]  # type: ignore[valid-type]


class FilterParams(BaseModel):
    """The filters shared by the list, facet and export endpoints, as query parameters: their
    one declaration (names, limits, documentation), validated in one pass."""

    q: str | None = Field(None, max_length=500, description="Full-text words, all must match.")
    publisher: str | None = Field(None, max_length=64, description="Publisher slug.")
    language: str | None = Field(
        None, max_length=35, description="BCP 47; `pt` also matches `pt-BR`."
    )
    verdict: Verdict | None = Field(None, description="Normalised verdict.")
    label: str | None = Field(
        None,
        max_length=500,
        description="The publisher's own rating label (case and accents ignored).",
    )
    claimant: str | None = Field(
        None, max_length=500, description="Who made the claim (case and accents ignored)."
    )
    tag: str | None = Field(None, max_length=500, description="A tag (case and accents ignored).")
    url: str | None = Field(None, max_length=2048, description="Article URL; anchors are ignored.")
    status: Literal["published", "draft"] = Field(
        "published", description="`draft` needs a key: your own drafts."
    )
    kind: Literal["claim", "media"] | None = Field(
        None, description="`claim`: ClaimReviews only; `media`: MediaReviews only."
    )
    published_since: str | None = Field(
        None, max_length=40, description="ISO 8601 date or date-time, inclusive."
    )
    published_until: str | None = Field(
        None, max_length=40, description="ISO 8601 date or date-time, inclusive."
    )
    updated_since: str | None = Field(
        None, max_length=40, description="ISO 8601 date or date-time, inclusive."
    )


_FILTER_NAMES = tuple(FilterParams.model_fields)


class ListParams(FilterParams):
    """The list endpoint's query parameters: the filters, the sort and the page."""

    sort: Sort = Field(
        "newest", description="`newest` (default), `oldest`, or `relevance` (needs `q`)."
    )
    limit: int = Field(20, ge=1, le=100, description="Reviews per page.")
    cursor: str | None = Field(
        None, max_length=1000, description="The `next_cursor` of the previous page."
    )
    image_url: str | None = Field(
        None,
        max_length=2048,
        description="Search by image: the reviews whose images look like the one at this URL, "
        "nearest first, each with its `image_match` (as `POST /v1/image-search`); not with "
        "`sort`.",
    )


class Filters:
    """The filters of a request, interpreted: folded text, parsed dates and URL, and the
    values as sent (``raw``) for cursors and next links."""

    def __init__(self, params: FilterParams) -> None:
        values = params.__dict__
        self.raw = {name: values[name] for name in _FILTER_NAMES if values[name] is not None}
        self.search = _folded("q", params.q)
        self.review_filter = ReviewFilter(
            kind=params.kind,
            publisher_slug=params.publisher,
            language=_parsed("language", params.language, normalise_language),
            verdict=params.verdict,
            label_key=_folded("label", params.label),
            claimant_key=_folded("claimant", params.claimant),
            tag_key=_folded("tag", params.tag),
            article_url=article_url(_parsed("url", params.url, check_http_url))
            if params.url
            else None,
            published_since=_moment("published_since", params.published_since),
            published_before=_end_of("published_until", params.published_until),
            updated_since=_moment("updated_since", params.updated_since),
            search=self.search,
        )
        self.status = params.status

    async def visible_to(self, request: Request) -> ReviewFilter:
        """Narrow to what the caller may see: published for all, drafts only their own."""
        principal = await reader(request)
        if self.status == "published":
            return self.review_filter
        if principal is None:
            raise Unauthorized("Listing drafts needs an API key.")
        own = None if principal.is_admin else (principal.own_publisher or -1,)
        return replace(self.review_filter, statuses=("draft",), publisher_ids=own)


def bad_parameter(parameter: str, message: str) -> Unprocessable:
    return Unprocessable(
        f"The query parameter '{parameter}' is not valid: {message}.",
        errors=[{"path": parameter, "message": message}],
    )


def _parsed(parameter: str, value: str | None, parse: Any) -> Any:
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as error:
        raise bad_parameter(parameter, str(error)) from None


def _folded(parameter: str, value: str | None) -> str | None:
    if value is None:
        return None
    folded = fold(value)
    if not folded:
        raise bad_parameter(parameter, "must contain a letter or a digit")
    return folded


def _moment(parameter: str, value: str | None) -> datetime | None:
    iso = _parsed(parameter, value, normalise_date)
    return moment(iso) if iso else None


def _end_of(parameter: str, value: str | None) -> datetime | None:
    """An inclusive 'until' as an exclusive bound: the next day, or the next microsecond."""
    start = _moment(parameter, value)
    if start is None or value is None:
        return None
    try:
        return start + (
            timedelta(days=1) if len(value.strip()) == 10 else timedelta(microseconds=1)
        )
    except OverflowError:
        return None  # until the last day there is: no upper bound


async def _filters(params: Annotated[FilterParams, Query()]) -> Filters:
    # async: as a plain class dependency, FastAPI ran Filters in the thread pool.
    return Filters(params)


FiltersDep = Annotated[Filters, Depends(_filters)]
LD_JSON = "application/ld+json"


def install_list(app: FastAPI) -> None:
    """Register the list endpoint on the app itself, ahead of every router, as
    ``reviews.install_hot_reads`` does for the reads by id: an included router is matched
    twice per request, and its ``refuse_nul`` dependency is one more resolution (the route
    makes that check itself); served as a ``StoredRead``. Call it before ``include_router``."""
    app.router.add_api_route(
        "/v1/claim-reviews",
        list_reviews,
        methods=["GET"],
        response_class=Response,
        responses=openapi.responses(200, 400, 401, 422, page=True),
        openapi_extra=openapi.query_parameters(ListParams),
        tags=list(router.tags),
        route_class_override=StoredRead,
    )


async def list_reviews(request: Request) -> Response:
    """List and search claim reviews, newest first, one page at a time."""
    await refuse_nul(request)
    reads = app_state(request).reads
    accept = request.headers.get("accept", "")
    as_jsonld = LD_JSON in accept and "application/json" not in accept
    # An anonymous page is the same for every caller while the database is unchanged: kept
    # whole, it skips parsing, cursors and joining (app/db/read_cache.py). Only a page that was
    # served is kept, so errors and access rules run as ever.
    kept = "authorization" not in request.headers and reads.cache.enabled
    version: Hashable = None
    if kept:
        page_key = ("page", request.scope["query_string"], as_jsonld)
        version = await reads.version()  # before the page's rows: they can only be newer
        page = reads.cache.get(page_key, version)
        if page is not None:
            return StoredBytes(page[0], 200, list(page[1]))
    # One validation of the whole query string: FastAPI's resolution of fifteen declared
    # parameters cost more than the rest of the page (bench/README.md, "List pages").
    page = query_model(ListParams, request)
    filters = Filters(page)
    if page.image_url is not None:
        # Never kept: the image at its URL may change while the database does not.
        return await _image_page(request, page, filters)
    sort, limit = page.sort, page.limit
    if sort == "relevance" and filters.search is None:
        raise bad_parameter("sort", "relevance needs q")
    review_filter = await filters.visible_to(request)
    settings = app_state(request).settings
    scope = cursors.fingerprint([filters.raw, sort])
    secret = settings.signing_key
    after = _after(page.cursor, scope=scope, sort=sort, secret=secret)
    sql, params = query.list_reviews(
        review_filter,
        dialect=reads.dialect,
        sort=sort,
        after=after,
        limit=limit + 1,
        body_column="jsonld" if as_jsonld else "native",
    )
    rows = await reads.fetch(sql, params, heavy=review_filter.search is not None, version=version)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last_pk, last_key = rows[-1][0], rows[-1][1]
        key = last_key if sort == "relevance" else _iso(last_key)
        next_cursor = cursors.encode({"s": scope, "k": key, "p": last_pk}, secret=secret)
    # The stored bytes as they are (bytes from both drivers): no copy, no parsing.
    items = b",".join([row[2] for row in rows])
    headers = [(b"cache-control", public_cache_control(request).encode("latin-1"))]
    if next_cursor:
        # Only the filters as sent need escaping: the sort is a keyword and a cursor base64url.
        link = (
            f"<{settings.public_base_url}/v1/claim-reviews?{urlencode(filters.raw)}"
            f'&sort={sort}&limit={limit}&cursor={next_cursor}>; rel="next"'
        )
        headers.append((b"link", link.encode("latin-1")))
    if as_jsonld:
        body = b'{"@context":"https://schema.org","@graph":[' + items + b"]}"
    else:
        body = b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps(next_cursor) + b"}"
    headers += [
        (b"content-length", str(len(body)).encode()),
        content_type(LD_JSON if as_jsonld else "application/json"),
    ]
    if kept:
        kept_page = (body, tuple(headers))
        reads.cache.put(page_key, version, kept_page, size=text_size(kept_page))
    return StoredBytes(body, 200, headers)


async def _image_page(request: Request, page: ListParams, filters: Filters) -> Response:
    """A list page searched by image (app/api/by_image.py): native JSON, nearest first."""
    if "sort" in request.query_params:
        raise bad_parameter("sort", "cannot be combined with image_url (nearest come first)")
    review_filter = await filters.visible_to(request)
    image_url = _parsed("image_url", page.image_url, check_http_url)
    image = await by_image.image_from_url(request, image_url, field_name="image_url")
    scope = by_image.scope(image, "list", filters.raw)
    body, next_cursor = await by_image.v1_page(
        request, review_filter, image, scope_key=scope, cursor=page.cursor, limit=page.limit
    )
    headers = {"cache-control": public_cache_control(request)}
    if next_cursor:
        query_string = urlencode({**filters.raw, "image_url": image_url, "limit": page.limit})
        headers["link"] = (
            f"<{app_state(request).settings.public_base_url}/v1/claim-reviews?{query_string}"
            f'&cursor={next_cursor}>; rel="next"'
        )
    return Response(body, media_type="application/json", headers=headers)


def _iso(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _after(cursor: str | None, *, scope: str, sort: Sort, secret: bytes) -> tuple[Any, int] | None:
    if cursor is None:
        return None
    payload = cursors.decode(cursor, secret=secret)
    if payload.get("s") != scope:
        raise bad_parameter("cursor", "was issued for other filters or another sort")
    key, pk = payload.get("k"), payload.get("p")
    if sort == "relevance":
        return float(key), int(pk)  # type: ignore[arg-type]
    return datetime.fromisoformat(str(key)), int(pk)  # type: ignore[arg-type]


@router.get("/v1/facets", responses=openapi.responses(200, 400, 401, 422))
async def facets(
    request: Request,
    filters: FiltersDep,
    top: Annotated[int, Query(ge=1, le=100, description="Values per facet.")] = 10,
) -> dict[str, Any]:
    """Count the matching reviews by publisher, verdict, language and claimant (top values)."""
    review_filter = await filters.visible_to(request)
    reads = app_state(request).reads
    total_sql, total_params = query.count_total(review_filter, dialect=reads.dialect)
    total = (await reads.fetch(total_sql, total_params, heavy=True))[0][0]
    counted: dict[str, Any] = {"total": total}
    for facet in ("publisher", "verdict", "language", "claimant"):
        sql, params = query.count_facet(review_filter, dialect=reads.dialect, facet=facet, top=top)
        rows = await reads.fetch(sql, params, heavy=True)
        counted[facet] = [{"value": row[1], "count": row[2]} for row in rows]
    return counted
