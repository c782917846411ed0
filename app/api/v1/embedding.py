"""SEO embedding: one review's script block, an article's markup, the public card.

These are hot public reads: async routes on the event loop that serve the stored JSON-LD
(api/hot.py, db/reads.py). Nothing is re-rendered; the JSON-LD is only escaped for
HTML by ``jsonld.script_block``, so the embed, the markup, the page and ``GET .jsonld`` always
carry the same document.

Rules (docs/embedding.md explains them to integrators):

- The reviews of an article are the published reviews whose ``url`` without its ``#anchor``
  is the requested URL without its anchor, in the order they were published (publication
  date, then creation order), at most ``MAX_PER_ARTICLE``.
- ``mode=single`` picks one, as Google shows one ClaimReview per page: a review whose ``url``
  has no ``#anchor`` (it reviews the article as a whole) before anchored ones, then the most
  recently modified, then the smallest id.
- ``format=jsonld``: ``mode=single`` answers that ClaimReview object; ``mode=all`` always a
  JSON array of ClaimReview objects (even of one), so a client never branches on the type.
- ``format=html``: one ``<script type="application/ld+json">`` block per review, each
  byte-identical to that review's ``/embed``, joined by newlines. Separate blocks keep every
  review a self-contained document (a consumer that rejects one still reads the others) and
  make ``mode=single`` output exactly one review's embed.
"""

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import Response

from app.api import openapi
from app.api.deps import app_state
from app.api.hot import (
    CORS,
    public_cache_control,
    readable_review,
    reader,
    stored_response,
)
from app.core import jsonld, verdicts
from app.core.document import article_url, check_http_url
from app.db import query
from app.db.query import ReviewFilter
from app.db.reads import StoredReview
from app.errors import NotFound, Unprocessable
from app.http.caching import EMBED, etag, none_match
from app.http.security_headers import PAGE_POLICY

router = APIRouter(tags=["embedding"])

HTML = "text/html"  # Starlette adds "; charset=utf-8"
LD_JSON = "application/ld+json"
MAX_PER_ARTICLE = 100
RTL_LANGUAGES = frozenset({"ar", "ckb", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"})


def _html_responses(*codes: int, description: str) -> dict[int | str, Any]:
    ok = {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}
    return {200: ok, **openapi.responses(*codes)}


@router.get(
    "/v1/claim-reviews/{review_id}/embed",
    response_class=Response,
    responses=_html_responses(
        304, 401, 404, 410, description='One `<script type="application/ld+json">` element.'
    ),
)
async def embed_review(review_id: str, request: Request) -> Response:
    """Get a claim review's `<script type="application/ld+json">` block for a page template."""
    row, cache_control = await readable_review(request, review_id)
    return stored_response(
        request,
        row,
        tag=etag(row.id, row.version, EMBED),
        cache_control=cache_control,
        media_type=HTML,
        body=lambda: jsonld.script_block(row.jsonld),
        vary="Authorization",
    )


@router.get(
    "/v1/markup",
    response_class=Response,
    responses={
        200: {
            "description": "The article's ClaimReview JSON-LD, or its script blocks.",
            "content": {
                LD_JSON: {"schema": openapi.JSONLD_OBJECT},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **openapi.responses(304, 401, 404, 422),
    },
)
async def article_markup(
    request: Request,
    url: Annotated[
        str, Query(max_length=2048, description="The article URL; its #anchor is ignored.")
    ],
    format: Annotated[
        Literal["jsonld", "html"],
        Query(description="`jsonld` (a JSON-LD document) or `html` (script blocks)."),
    ] = "jsonld",
    mode: Annotated[
        Literal["all", "single"],
        Query(description="`all` reviews of the article, or the `single` one to show."),
    ] = "all",
) -> Response:
    """Get the markup of every published claim review of an article, or of the one to show."""
    try:
        article = article_url(check_http_url(url.strip()))
    except ValueError as error:
        raise Unprocessable(
            f"The query parameter 'url' is not valid: {error}.",
            errors=[{"path": "url", "message": str(error)}],
        ) from None
    await reader(request)
    reads = app_state(request).reads
    sql, params = query.list_reviews(
        ReviewFilter(article_url=article),
        dialect=reads.dialect,
        sort="oldest",
        after=None,
        limit=MAX_PER_ARTICLE,
        body_column="jsonld",
    )
    documents = [bytes(row[2]) for row in await reads.fetch(sql, params)]
    if not documents:
        raise NotFound(f"No published claim review of the article '{article[:200]}'.")
    if mode == "single":
        documents = [min(documents, key=_single_preference)]
    digest = hashlib.blake2b(f"{format}:{mode}".encode(), digest_size=16)
    for document in documents:
        digest.update(b"\0" + document)
    tag = f'"markup.{digest.hexdigest()}"'
    # No Last-Modified: a retraction drops a review without making the rest any newer.
    headers = {
        "ETag": tag,
        "Cache-Control": public_cache_control(request),
        "Vary": "Authorization",
        **CORS,
    }
    if none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    if format == "html":
        body = b"\n".join(jsonld.script_block(document) for document in documents)
        return Response(body, media_type=HTML, headers=headers)
    body = documents[0] if mode == "single" else b"[" + b",".join(documents) + b"]"
    return Response(body, media_type=LD_JSON, headers=headers)


def _single_preference(document: bytes) -> tuple[bool, float, str]:
    """Sort key of ``mode=single``: unanchored first, then newest dateModified, then id."""
    node = orjson.loads(document)
    modified = datetime.fromisoformat(node["dateModified"]).timestamp()
    return "#" in node.get("url", ""), -modified, node["@id"].rsplit("/", 1)[-1]


# The public page ----------------------------------------------------------------------------

_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
_environment = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def human_date(value: str) -> str:
    """``2024-01-30`` or an RFC 3339 time -> ``30 January 2024`` (the date part, in English)."""
    try:
        day = datetime.fromisoformat(value[:10]).date()
    except ValueError:
        return value
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


_environment.filters["human_date"] = human_date
_page = _environment.get_template("claim_review.html")
# The page's bytes depend on the template as well as on the review: a new template is a new tag.
PAGE = "-html." + hashlib.sha256((_TEMPLATES / "claim_review.html").read_bytes()).hexdigest()[:10]


@router.get(
    "/claim-reviews/{review_id}",
    response_class=Response,
    tags=["public pages"],
    responses=_html_responses(
        304, 401, 404, 410, description="An HTML fact-check card with its JSON-LD embedded."
    ),
)
async def review_page(review_id: str, request: Request) -> Response:
    """Show a claim review as a readable HTML fact-check card with its JSON-LD embedded."""
    row, cache_control = await readable_review(request, review_id)
    return stored_response(
        request,
        row,
        tag=etag(row.id, row.version, PAGE),
        cache_control=cache_control,
        media_type=HTML,
        body=lambda: render_page(row).encode(),
        vary="Authorization",
        headers={"Content-Security-Policy": PAGE_POLICY},
    )


def render_page(row: StoredReview) -> str:
    review = orjson.loads(row.native)
    node = orjson.loads(row.jsonld)
    publisher = node.get("author") or {}
    rating = review.get("rating") or {}
    claim = review.get("claim") or {}
    claimant = claim.get("author") or {}
    language = review.get("language")
    verdict = review.get("verdict") or "unknown"
    category = review.get("media_authenticity")
    return _page.render(
        language=language or "und",
        language_tag=language,
        direction="rtl" if (language or "").split("-")[0].lower() in RTL_LANGUAGES else "ltr",
        title=review.get("headline") or review.get("claim_reviewed") or "Fact check",
        headline=review.get("headline"),
        claim=review.get("claim_reviewed"),
        claimant=claimant.get("name"),
        claimant_title=claimant.get("job_title"),
        claim_date=claim.get("date"),
        appearances=[
            _fields(item, "url", "platform", "date_published", "archived_at")
            for item in claim.get("appearances", [])
            if item.get("url")
        ],
        media_label=verdicts.media_label(category) if category else None,
        original_context=review.get("original_media_context"),
        original_link=review.get("original_media_link"),
        media=[
            _fields(item, "type", "content_url", "embed_url", "date_published", "archived_at")
            for item in (review.get("media") or {}).get("appearances", [])
            if item.get("content_url") or item.get("embed_url")
        ],
        label=rating.get("label"),
        rating_image=rating.get("image"),
        explanation=rating.get("explanation"),
        verdict=verdict,
        verdict_name=verdict.replace("_", " ").capitalize(),
        url=review.get("url"),
        date_published=review.get("date_published"),
        date_modified=node.get("dateModified", ""),
        authors=[_fields(item, "name", "url") for item in review.get("authors", [])],
        corrections=[_fields(item, "date", "text") for item in review.get("corrections", [])],
        publisher=_fields(publisher, "name", "url", "logo"),
        jsonld_href=f"/v1/claim-reviews/{row.id}.jsonld",
        jsonld=Markup(jsonld.script_block(row.jsonld).decode()),
    )


def _fields(item: dict[str, Any], *names: str) -> dict[str, Any]:
    # Every name present (None when absent): the template's StrictUndefined catches typos.
    return {name: item.get(name) for name in names}
