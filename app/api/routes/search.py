"""Listing and searching reviews: filters, full-text `q`, cursor paging, facets (§8 Query).

Both routes run on the event loop (see stored_reads.py): a list page is one indexed query
whose rows are the stored native or JSON-LD bytes, joined without parsing.
"""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from app import cursors, query
from app.api import openapi
from app.api.review_reads import public_cache_control, reader
from app.errors import Unauthorized, Unprocessable
from app.native import check_http_url, normalise_date, normalise_language
from app.query import ReviewFilter, Sort
from app.reviews import article_url, moment
from app.textfold import fold
from app.verdicts import VOCABULARY

router = APIRouter(tags=["query"])

# Literal of a tuple is the Literal of its items: the vocabulary stays defined in one place.
Verdict = Literal[VOCABULARY]  # type: ignore[valid-type]


class Filters:
    """The filters shared by the list and facet endpoints, as query parameters."""

    def __init__(
        self,
        q: Annotated[
            str | None, Query(max_length=500, description="Full-text words, all must match.")
        ] = None,
        publisher: Annotated[
            str | None, Query(max_length=64, description="Publisher slug.")
        ] = None,
        language: Annotated[
            str | None, Query(max_length=35, description="BCP 47; `pt` also matches `pt-BR`.")
        ] = None,
        verdict: Annotated[Verdict | None, Query(description="Normalised verdict.")] = None,
        label: Annotated[
            str | None,
            Query(
                max_length=500,
                description="The publisher's own rating label (case and accents ignored).",
            ),
        ] = None,
        claimant: Annotated[
            str | None,
            Query(max_length=500, description="Who made the claim (case and accents ignored)."),
        ] = None,
        tag: Annotated[
            str | None, Query(max_length=500, description="A tag (case and accents ignored).")
        ] = None,
        url: Annotated[
            str | None, Query(max_length=2048, description="Article URL; anchors are ignored.")
        ] = None,
        status: Annotated[
            Literal["published", "draft"],
            Query(description="`draft` needs a key: your own drafts."),
        ] = "published",
        published_since: Annotated[
            str | None, Query(max_length=40, description="ISO 8601 date or date-time, inclusive.")
        ] = None,
        published_until: Annotated[
            str | None, Query(max_length=40, description="ISO 8601 date or date-time, inclusive.")
        ] = None,
        updated_since: Annotated[
            str | None, Query(max_length=40, description="ISO 8601 date or date-time, inclusive.")
        ] = None,
    ) -> None:
        self.raw = {
            key: value
            for key, value in {
                "q": q, "publisher": publisher, "language": language, "verdict": verdict,
                "label": label, "claimant": claimant, "tag": tag, "url": url, "status": status,
                "published_since": published_since, "published_until": published_until,
                "updated_since": updated_since,
            }.items()
            if value is not None
        }  # fmt: skip
        self.search = _folded("q", q)
        self.review_filter = ReviewFilter(
            publisher_slug=publisher,
            language=_parsed("language", language, normalise_language),
            verdict=verdict,
            label_key=_folded("label", label),
            claimant_key=_folded("claimant", claimant),
            tag_key=_folded("tag", tag),
            article_url=article_url(_parsed("url", url, check_http_url)) if url else None,
            published_since=_moment("published_since", published_since),
            published_before=_end_of("published_until", published_until),
            updated_since=_moment("updated_since", updated_since),
            search=self.search,
        )
        self.status = status

    async def visible_to(self, request: Request) -> ReviewFilter:
        """Narrow to what the caller may see: published for all, drafts only their own."""
        principal = await reader(request)
        if self.status == "published":
            return self.review_filter
        if principal is None:
            raise Unauthorized("Listing drafts needs an API key.")
        own = None if principal.is_admin else (principal.publisher_id or -1,)
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
    return start + (timedelta(days=1) if len(value.strip()) == 10 else timedelta(microseconds=1))


FiltersDep = Annotated[Filters, Depends()]
LD_JSON = "application/ld+json"


@router.get(
    "/v1/claim-reviews",
    response_class=Response,
    responses=openapi.responses(200, 400, 401, 422, page=True),
)
async def list_reviews(
    request: Request,
    filters: FiltersDep,
    sort: Annotated[
        Sort, Query(description="`newest` (default), `oldest`, or `relevance` (needs `q`).")
    ] = "newest",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """List and search claim reviews, newest first, one page at a time."""
    if sort == "relevance" and filters.search is None:
        raise bad_parameter("sort", "relevance needs q")
    review_filter = await filters.visible_to(request)
    settings = request.app.state.settings
    reads = request.app.state.reads
    scope = cursors.fingerprint([filters.raw, sort])
    after = _after(cursor, scope=scope, sort=sort, secret=settings.signing_key)
    accept = request.headers.get("accept", "")
    as_jsonld = LD_JSON in accept and "application/json" not in accept
    sql, params = query.list_reviews(
        review_filter,
        dialect=reads.dialect,
        sort=sort,
        after=after,
        limit=limit + 1,
        body_column="jsonld" if as_jsonld else "native",
    )
    rows = await reads.fetch(sql, params, heavy=review_filter.search is not None)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last_pk, last_key = rows[-1][0], rows[-1][1]
        key = last_key if sort == "relevance" else _iso(last_key)
        next_cursor = cursors.encode(
            {"s": scope, "k": key, "p": last_pk}, secret=settings.signing_key
        )
    items = b",".join(bytes(row[2]) for row in rows)
    headers = {"Cache-Control": public_cache_control(request)}
    if next_cursor:
        params_next = {**filters.raw, "sort": sort, "limit": limit, "cursor": next_cursor}
        headers["Link"] = (
            f'<{settings.public_base_url}/v1/claim-reviews?{urlencode(params_next)}>; rel="next"'
        )
    if as_jsonld:
        body = b'{"@context":"https://schema.org","@graph":[' + items + b"]}"
        return Response(body, media_type=LD_JSON, headers=headers)
    body = b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps(next_cursor) + b"}"
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
    reads = request.app.state.reads
    sql, params = query.count_facets(review_filter, dialect=reads.dialect, top=top)
    total = 0
    found: dict[str, list[dict[str, Any]]] = {facet: [] for facet in query.FACETS}
    for part, shown, count, _position in await reads.fetch(sql, params, heavy=True):
        if part == "total":
            total = count
        else:
            found[part].append({"value": shown, "count": count})
    return {"total": total, **found}
