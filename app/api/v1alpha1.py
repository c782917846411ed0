"""Google Fact Check Tools API compatibility (``/v1alpha1``): integrations written against
Google's API, with Google's own client libraries, work here by changing only the endpoint.

Paths, verbs, parameters and field names are those of Google's discovery document
(``factchecktools.v1alpha1.json``, revision 20240929). The data is the same rows ``/v1``
serves: a page is a publisher's published reviews sharing an article URL (app.core.google),
written through app.services.reviews (revisions, outbox events, verdicts, stored JSON-LD) and listed
through the one query builder. docs/google.md lists where this differs from Google.

Every error of these routes has Google's shape ``{"error": {"code", "message", "status"}}``,
never problem+json: ``GoogleRoute`` renders it. Writes therefore run in a transaction of their
own (``_writing``) rather than the session dependency, so that a failed write is rolled back
before its error is rendered.
"""

import logging
import re
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from app.api import by_image, openapi
from app.api.deps import Body, JsonBody, acting_publisher, app_state, authenticate
from app.core import google
from app.core.document import ReviewIn, article_url, check_http_url, prune
from app.core.google import (
    INT32_MAX,
    GoogleClaimReviewMarkupPage,
    GoogleFactCheckedClaimImageSearchResponse,
    GoogleFactCheckedClaimSearchResponse,
    GoogleListClaimReviewMarkupPagesResponse,
)
from app.core.security import Principal
from app.core.textfold import fold
from app.core.validation import url_on_domains
from app.db import crud, query
from app.db.query import Dialect, ReviewFilter
from app.db.tables import ClaimReview, Publisher
from app.errors import (
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidCursor,
    NotFound,
    Unauthorized,
    Unprocessable,
    input_errors,
)
from app.http import cursors
from app.services import reviews

logger = logging.getLogger("claimreview.errors")

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MAX_OFFSET = 1000
# More reviews than one article carries; a page read never stops short of its markups.
MAX_PAGE_REVIEWS = 10_000
_SCAN_BATCH = 100
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][\w-]*)?$")

# HTTP status of an error -> Google's (HTTP code, canonical status).
_GOOGLE_STATUS = {
    400: (400, "INVALID_ARGUMENT"),
    401: (401, "UNAUTHENTICATED"),
    403: (403, "PERMISSION_DENIED"),
    404: (404, "NOT_FOUND"),
    405: (404, "NOT_FOUND"),
    409: (409, "ABORTED"),
    410: (404, "NOT_FOUND"),
    412: (400, "FAILED_PRECONDITION"),
    413: (400, "INVALID_ARGUMENT"),
    415: (400, "INVALID_ARGUMENT"),
    422: (400, "INVALID_ARGUMENT"),
    429: (429, "RESOURCE_EXHAUSTED"),
    501: (501, "UNIMPLEMENTED"),
    503: (503, "UNAVAILABLE"),
}


# Reading Google's request body


def parse_page(data: Any) -> GoogleClaimReviewMarkupPage:
    if not isinstance(data, dict):
        raise BadRequest(
            "The request body must be a ClaimReviewMarkupPage JSON object.",
            errors=[{"path": "", "message": "must be an object"}],
        )
    try:
        return GoogleClaimReviewMarkupPage.model_validate(data)
    except ValidationError as error:
        violations = [
            {"path": field_path(item["loc"]), "message": _message(item)}
            for item in error.errors(include_url=False)
        ]
        first = violations[0]
        raise BadRequest(
            f"Invalid ClaimReviewMarkupPage: '{first['path']}' {first['message']}.",
            errors=violations,
        ) from None


def _message(item: Any) -> str:
    if item["type"] == "extra_forbidden":
        return "is not a field of this message"
    return str(item["msg"]).removeprefix("Value error, ")


def field_path(location: Sequence[Any]) -> str:
    """``("claimReviewMarkups", 0, "rating")`` -> ``claimReviewMarkups[0].rating``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def resolve_page_url(page: GoogleClaimReviewMarkupPage) -> str:
    """The article the page is about: ``pageUrl``, else the first markup's ``url``."""
    given = page.page_url or next((m.url for m in page.claim_review_markups if m.url), None)
    if given is None:
        raise BadRequest(
            "pageUrl is required.", errors=[{"path": "pageUrl", "message": "is required"}]
        )
    try:
        return article_url(check_http_url(given.strip()))
    except ValueError as error:
        raise BadRequest(
            f"pageUrl {error}.", errors=[{"path": "pageUrl", "message": str(error)}]
        ) from None


def markup_urls(page: GoogleClaimReviewMarkupPage, page_url: str) -> list[str]:
    """Each markup's URL: its own, which may only add an ``#anchor`` to the page's, or pageUrl."""
    default = page.page_url.strip() if page.page_url else page_url
    urls = []
    for index, markup in enumerate(page.claim_review_markups):
        url = markup.url or default
        if article_url(url) != page_url:
            raise BadRequest(
                "A markup's url may only be the page URL plus an optional #anchor.",
                errors=[
                    {
                        "path": f"claimReviewMarkups[{index}].url",
                        "message": f"must be {page_url} or {page_url}#anchor",
                    }
                ],
            )
        urls.append(url)
    return urls


class Aborted(Conflict):
    google_status = "ABORTED"


class AlreadyExists(Conflict):
    google_status = "ALREADY_EXISTS"


class GoogleStatus(BaseModel):
    code: int
    message: str
    status: str
    details: list[dict[str, Any]] | None = None


class GoogleError(BaseModel):
    """Google's error body (``google.rpc.Status`` inside ``error``)."""

    error: GoogleStatus


def google_error(error: Exception) -> Response:
    """Any error as Google's ``{"error": {"code", "message", "status"}}``."""
    headers: dict[str, str] = {}
    violations: list[dict[str, str]] = []
    if isinstance(error, APIError):
        status, message, headers = error.status, error.detail, error.headers
        violations = [
            {"field": item.get("path", ""), "description": item.get("message", "")}
            for item in error.errors
        ]
    elif isinstance(error, RequestValidationError):
        status = 400
        violations = [
            {
                "field": ".".join(str(part) for part in item["loc"][1:]),
                "description": str(item["msg"]).removeprefix("Value error, "),
            }
            for item in error.errors()
        ]
        message = "; ".join(f"{v['field']}: {v['description']}" for v in violations)
        message = f"Invalid request parameters: {message}"
    elif isinstance(error, StarletteHTTPException):
        status, message = error.status_code, str(error.detail)
        headers = dict(error.headers or {})
    else:
        status, message = 500, "An unexpected error occurred; it has been logged."
    code, name = _GOOGLE_STATUS.get(status, (500, "INTERNAL"))
    name = getattr(error, "google_status", name)
    body: dict[str, Any] = {"code": code, "message": message, "status": name}
    if violations and name == "INVALID_ARGUMENT":
        body["details"] = [
            {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}
        ]
    return GoogleJSON(orjson.dumps({"error": body}), status_code=code, headers=headers)


class GoogleJSON(JSONResponse):
    """JSON already serialised (by orjson). A JSONResponse, so that the OpenAPI document shows
    the route's model as its 200 schema."""

    def render(self, content: bytes) -> bytes:
        return content


class GoogleRoute(APIRoute):
    """Renders every error of its endpoint, its dependencies and its parameters in Google's
    shape. The app-wide handlers would answer problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def google_errors(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except Exception as error:
                if not isinstance(
                    error, APIError | RequestValidationError | StarletteHTTPException
                ):
                    logger.exception("unhandled error on %s %s", request.method, request.url.path)
                return google_error(error)
            return response

        return google_errors


router = APIRouter(
    prefix="/v1alpha1", tags=["Google Fact Check Tools (v1alpha1)"], route_class=GoogleRoute
)


def _responses(model: type[BaseModel] | None, *codes: int) -> dict[int | str, Any]:
    described: dict[int | str, Any] = {200: {"description": "OK"}}
    if model is not None:
        described[200]["model"] = model
    for code in codes:
        described[code] = {"description": HTTPStatus(code).phrase, "model": GoogleError}
    # Every client error of these routes, validation included, is a GoogleError.
    described["4XX"] = {"description": "Client Error", "model": GoogleError}
    return described


def _json(body: dict[str, Any], *, cache_control: str = "private, no-store") -> Response:
    return GoogleJSON(orjson.dumps(body), headers={"Cache-Control": cache_control})


# Who is calling: the key comes as Google's ``key=`` parameter or as a Bearer token.


def _credential(request: Request) -> str | None:
    if "authorization" in request.headers:
        return request.headers["authorization"]
    key = request.query_params.get("key")
    return f"Bearer {key}" if key else None


def _principal(*, session: Session, request: Request) -> Principal | None:
    try:
        return authenticate(
            session=session,
            settings=app_state(request).settings,
            authorization=_credential(request),
        )
    except Unauthorized:
        raise Unauthorized(
            "The API key is not valid or has been revoked: send a key of this service as "
            "'key=' or 'Authorization: Bearer <key>'."
        ) from None


def _page_owner(*, session: Session, request: Request) -> tuple[Principal, Publisher]:
    """The publisher whose pages the caller works on: the pages API needs its write key."""
    principal = _principal(session=session, request=request)
    if principal is None:
        raise Unauthorized(
            "The pages API needs a publisher's API key with the reviews:write scope, "
            "sent as 'key=' or 'Authorization: Bearer <key>'."
        )
    if not principal.can("reviews:write"):
        raise Forbidden("This API key lacks the reviews:write scope the pages API needs.")
    publisher = acting_publisher(session=session, principal=principal)
    if publisher is None:
        raise Forbidden("The pages API works on one publisher's pages: use that publisher's key.")
    return principal, publisher


@dataclass(frozen=True, slots=True)
class Owner:
    """The caller's publisher, read in a worker thread and used on the event loop."""

    id: int
    slug: str
    name: str
    url: str
    logo: str | None
    domains: tuple[str, ...]

    def card(self) -> dict[str, Any]:
        return {"name": self.name, "logo": self.logo}

    def is_organization(self, organization: str) -> bool:
        """``organization`` names this publisher: its slug, a domain, or its site's host."""
        names = {self.slug, *self.domains, google.site_of(self.url)}
        return google.normalise_site(organization) in names


def _reading_owner(request: Request) -> Owner:
    with app_state(request).sessionmaker() as session:
        _, publisher = _page_owner(session=session, request=request)
        return Owner(
            id=publisher.id,
            slug=publisher.slug,
            name=publisher.name,
            url=publisher.url,
            logo=publisher.logo,
            domains=tuple(publisher.domains),
        )


@contextmanager
def _writing(request: Request) -> Iterator[tuple[Session, Principal, Publisher]]:
    """A transaction for one page write: committed when the block ends, rolled back when it
    raises (before ``GoogleRoute`` renders the error)."""
    with app_state(request).sessionmaker.begin() as session:
        principal, publisher = _page_owner(session=session, request=request)
        # One page write per publisher at a time (PostgreSQL; SQLite writers are serial anyway),
        # so two creates of one page cannot both see it empty. FOR NO KEY UPDATE: /v1 writes,
        # which only take a key-share lock on the publisher, are not held up.
        session.refresh(publisher, with_for_update={"key_share": True})
        yield session, principal, publisher


# Reading pages: the one query builder, on the loop-side reads or in the write transaction.


def _page_query(*, publisher_id: int, page_url: str, dialect: Dialect) -> tuple[str, list[Any]]:
    """A page's reviews in page order: oldest review date first, then creation."""
    return query.list_reviews(
        # A page is ClaimReview markup: a MediaReview of the same article is in none.
        ReviewFilter(kind="claim", publisher_ids=(publisher_id,), article_url=page_url),
        dialect=dialect,
        sort="oldest",
        after=None,
        limit=MAX_PAGE_REVIEWS,
        body_column="native",
    )


async def _read_page(request: Request, *, publisher_id: int, page_url: str) -> list[Any]:
    reads = app_state(request).reads
    sql, params = _page_query(publisher_id=publisher_id, page_url=page_url, dialect=reads.dialect)
    rows: list[Any] = await reads.fetch(sql, params)
    return rows


def _natives(rows: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(bytes(row[2])) for row in rows]


def _stored_page(
    session: Session, *, publisher_id: int, page_url: str, dialect: Dialect
) -> list[dict[str, Any]]:
    sql, params = _page_query(publisher_id=publisher_id, page_url=page_url, dialect=dialect)
    return _natives(list(session.connection().exec_driver_sql(sql, tuple(params)).all()))


def _locked_page(
    session: Session, *, publisher: Publisher, page_url: str, dialect: Dialect
) -> list[ClaimReview]:
    """The page's reviews, locked for this transaction, in page order."""
    stored = _stored_page(session, publisher_id=publisher.id, page_url=page_url, dialect=dialect)
    locked = [
        crud.get_review(session=session, review_id=review["id"], for_update=True)
        for review in stored
    ]
    return [review for review in locked if review is not None and review.status == "published"]


def _page_id_or_404(page_id: str) -> str:
    page_url = google.page_url_of(page_id)
    if page_url is None:
        raise _no_page(page_id)
    return page_url


def _no_page(page_id: str) -> NotFound:
    return NotFound(f"No ClaimReview markup page 'pages/{page_id[:80]}'.")


def _page_body(
    session: Session, *, publisher: Publisher, page_url: str, dialect: Dialect
) -> dict[str, Any]:
    stored = _stored_page(session, publisher_id=publisher.id, page_url=page_url, dialect=dialect)
    card = {"name": publisher.name, "logo": publisher.logo}
    return google.page_of(page_url=page_url, reviews=stored, publisher=card)


# Writing markups


def _invalid_markup(errors: list[dict[str, Any]], *, markup: int) -> BadRequest:
    violations = [
        {
            "path": google.google_field(item["path"], markup=markup),
            "message": item["message"],
        }
        for item in errors
    ]
    first = violations[0]
    return BadRequest(
        f"Invalid ClaimReview markup: '{first['path']}' {first['message']}", errors=violations
    )


def _review_in(document: dict[str, Any], *, markup: int) -> ReviewIn:
    try:
        return ReviewIn.model_validate(document)
    except ValidationError as error:
        raise _invalid_markup(input_errors(error), markup=markup) from None


@contextmanager
def _publishing(markup: int) -> Iterator[None]:
    """Refusals to publish (app.services.reviews) named by the Google field they came from."""
    try:
        yield
    except Unprocessable as error:
        raise _invalid_markup(error.errors, markup=markup) from None


def _page_source(body: Body, *, page_url: str, markup: int) -> dict[str, Any]:
    """The page body as sent (``parse_page`` accepted it: an object with this markup)."""
    return google.page_source(
        body.data, page_url=page_url, markup=markup, media_type=body.media_type
    )


def _markups(page: GoogleClaimReviewMarkupPage, page_url: str) -> list[str]:
    if not page.claim_review_markups:
        raise BadRequest(
            "A page needs at least one ClaimReview markup (delete the page to remove them all).",
            errors=[{"path": "claimReviewMarkups", "message": "must not be empty"}],
        )
    return markup_urls(page, page_url)


@router.post(
    "/pages",
    response_class=GoogleJSON,
    openapi_extra=openapi.body_of(GoogleClaimReviewMarkupPage),
    responses=_responses(GoogleClaimReviewMarkupPage, 400, 401, 403, 409),
)
def create_page(request: Request, body: JsonBody) -> Response:
    """Create ClaimReview markup on a page: one published review per markup."""
    settings = app_state(request).settings
    with _writing(request) as (session, principal, publisher):
        page = parse_page(body.data)
        page_url = resolve_page_url(page)
        urls = _markups(page, page_url)
        existing = _stored_page(
            session, publisher_id=publisher.id, page_url=page_url, dialect=settings.dialect
        )
        if existing:
            raise AlreadyExists(
                f"This page already has ClaimReview markup: update "
                f"{google.page_name(page_url)} instead."
            )
        for index, (markup, url) in enumerate(zip(page.claim_review_markups, urls, strict=True)):
            document = google.to_document(
                markup,
                url=url,
                publish_date=page.publish_date,
                language=publisher.language,
                time_zone=publisher.time_zone,
            )
            incoming = _review_in(document, markup=index)
            source = _page_source(body, page_url=page_url, markup=index)
            with _publishing(index):
                reviews.create(
                    session=session,
                    publisher=publisher,
                    incoming=incoming,
                    actor=principal.actor,
                    base_url=settings.public_base_url,
                    source=source,
                )
        result = _page_body(
            session, publisher=publisher, page_url=page_url, dialect=settings.dialect
        )
    return _json(result)


@router.get(
    "/pages/{page_id}",
    response_class=GoogleJSON,
    responses=_responses(GoogleClaimReviewMarkupPage, 401, 403, 404),
)
async def get_page(page_id: str, request: Request) -> Response:
    """Get all ClaimReview markup on a page."""
    owner = await run_in_threadpool(_reading_owner, request)
    page_url = _page_id_or_404(page_id)
    rows = await _read_page(request, publisher_id=owner.id, page_url=page_url)
    if not rows:
        raise _no_page(page_id)
    page = google.page_of(page_url=page_url, reviews=_natives(rows), publisher=owner.card())
    return _json(page)


@router.put(
    "/pages/{page_id}",
    response_class=GoogleJSON,
    openapi_extra=openapi.body_of(GoogleClaimReviewMarkupPage),
    responses=_responses(GoogleClaimReviewMarkupPage, 400, 401, 403, 404, 409),
)
def update_page(page_id: str, request: Request, body: JsonBody) -> Response:
    """Replace all ClaimReview markup on a page; a stale versionId answers 409 ABORTED."""
    settings = app_state(request).settings
    with _writing(request) as (session, principal, publisher):
        page_url = _page_id_or_404(page_id)
        page = parse_page(body.data)
        if page.name is not None and page.name != f"pages/{page_id}":
            raise BadRequest(
                "The name in the body is not the page being updated.",
                errors=[{"path": "name", "message": f"must be pages/{page_id} or left out"}],
            )
        if page.page_url is not None and article_url(page.page_url.strip()) != page_url:
            raise BadRequest(
                "A page's URL cannot change: create a page at the new URL instead.",
                errors=[{"path": "pageUrl", "message": f"must be {page_url}"}],
            )
        urls = _markups(page, page_url)
        current = _locked_page(
            session, publisher=publisher, page_url=page_url, dialect=settings.dialect
        )
        if not current:
            raise _no_page(page_id)
        current_version = google.version_id((r.id, r.version) for r in current)
        if page.version_id is not None and page.version_id != current_version:
            raise Aborted(
                f"The page has changed since version {page.version_id} (it is now at "
                f"{current_version}): get it again and reapply your change."
            )
        chosen = google.pair_markups(
            [(review.url, review.document.get("claim_reviewed")) for review in current],
            [
                (url, markup.claim_reviewed)
                for url, markup in zip(urls, page.claim_review_markups, strict=True)
            ],
        )
        for index, (markup, url) in enumerate(zip(page.claim_review_markups, urls, strict=True)):
            position = chosen[index]
            kept = current[position] if position is not None else None
            document = google.to_document(
                markup,
                url=url,
                publish_date=page.publish_date,
                previous=kept.document if kept is not None else None,
                language=publisher.language,
                time_zone=publisher.time_zone,
            )
            incoming = _review_in(document, markup=index)
            source = _page_source(body, page_url=page_url, markup=index)
            with _publishing(index):
                if kept is None:
                    reviews.create(
                        session=session,
                        publisher=publisher,
                        incoming=incoming,
                        actor=principal.actor,
                        base_url=settings.public_base_url,
                        source=source,
                    )
                else:
                    reviews.replace(
                        session=session,
                        review=kept,
                        publisher=publisher,
                        incoming=incoming,
                        actor=principal.actor,
                        base_url=settings.public_base_url,
                        source=source,
                    )
        for index, review in enumerate(current):
            if index not in chosen:
                reviews.retract(session=session, review=review, actor=principal.actor)
        result = _page_body(
            session, publisher=publisher, page_url=page_url, dialect=settings.dialect
        )
    return _json(result)


@router.delete(
    "/pages/{page_id}", response_class=GoogleJSON, responses=_responses(None, 401, 403, 404)
)
def delete_page(page_id: str, request: Request) -> Response:
    """Delete all ClaimReview markup on a page: every review of it is retracted."""
    settings = app_state(request).settings
    with _writing(request) as (session, principal, publisher):
        page_url = _page_id_or_404(page_id)
        current = _locked_page(
            session, publisher=publisher, page_url=page_url, dialect=settings.dialect
        )
        if not current:
            raise _no_page(page_id)
        for review in current:
            reviews.retract(session=session, review=review, actor=principal.actor)
    return _json({})


# Paging: signed tokens carrying the last row's (sort key, pk), as /v1's cursors do.

LanguageCode = Annotated[
    str | None,
    Query(
        alias="languageCode",
        max_length=35,
        description="BCP-47; the region is ignored.",
        examples=["en-US"],
    ),
]
PageSize = Annotated[
    int | None,
    Query(
        alias="pageSize",
        ge=0,
        le=INT32_MAX,
        description="Default 10, at most 100.",
        examples=[DEFAULT_PAGE_SIZE],
    ),
]
PageToken = Annotated[
    str | None,
    Query(
        alias="pageToken",
        max_length=2000,
        description="A nextPageToken; empty (proto3's unset) for the first page.",
        examples=[""],
    ),
]
Offset = Annotated[
    int | None,
    Query(
        ge=0,
        le=INT32_MAX,
        description="Results to skip (without pageToken); at most 1000.",
        examples=[0],
    ),
]


def _page_size(page_size: int | None) -> int:
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _offset(offset: int | None, page_token: str | None) -> int:
    if page_token or not offset:
        return 0
    if offset > MAX_OFFSET:
        raise BadRequest(
            f"offset can skip at most {MAX_OFFSET} results: follow nextPageToken instead.",
            errors=[{"path": "offset", "message": f"must be at most {MAX_OFFSET}"}],
        )
    return offset


def _token(scope: str, row: Any, *, secret: bytes, **extra: Any) -> str:
    key = row[1] if isinstance(row[1], str | float | int) else row[1].isoformat()
    return cursors.encode({"s": scope, "k": key, "p": row[0], **extra}, secret=secret)


def _read_token(
    token: str | None, *, scope: str, key_of: Callable[[Any], Any], secret: bytes
) -> tuple[tuple[Any, int] | None, dict[str, Any]]:
    """The position a pageToken resumes after (its sort key read by ``key_of``), and the
    token's other values."""
    if not token:
        return None, {}
    try:
        payload = cursors.decode(token, secret=secret)
    except InvalidCursor:
        payload = {}
    if payload.get("s") != scope:
        raise BadRequest(
            "The pageToken is not one this service issued for these parameters: "
            "send every other parameter unchanged, or start again without it.",
            errors=[{"path": "pageToken", "message": "invalid for this request"}],
        )
    return (key_of(payload["k"]), int(payload["p"])), payload


# claims:search


def _cutoff(max_age_days: int | None) -> str | None:
    """The earliest publication date ``maxAgeDays`` lets through. Google takes any int32 there;
    one that reaches back past the year 1, the first date there is, lets every review through."""
    if not max_age_days:
        return None
    now = datetime.now(UTC)
    if max_age_days > (now - datetime.min.replace(tzinfo=UTC)).days:
        return None
    return (now - timedelta(days=max_age_days)).isoformat()


def _language(language_code: str | None) -> str | None:
    """Google ignores the region ("en-US" finds "en" and "en-GB"): so does this."""
    if not language_code:
        return None
    match = _LANGUAGE.match(language_code.strip())
    if match is None:
        raise BadRequest(
            "languageCode must be a BCP-47 language code such as 'en' or 'en-US'.",
            errors=[{"path": "languageCode", "message": "not a BCP-47 language code"}],
        )
    return match[1].lower()


def _publishers_on_site(request: Request, site: str) -> tuple[int, ...]:
    """Publishers whose domains are the site or on it (``bbc.co.uk`` finds ``news.bbc.co.uk``)."""
    with app_state(request).sessionmaker() as session:
        return tuple(
            publisher.id
            for publisher in crud.list_publishers(session=session)
            if any(url_on_domains(f"https://{domain}/", [site]) for domain in publisher.domains)
        )


def _search_principal(request: Request) -> Principal | None:
    with app_state(request).sessionmaker() as session:
        return _principal(session=session, request=request)


def _search_cache_control(request: Request) -> str:
    settings = app_state(request).settings
    return f"public, max-age={settings.cache_max_age}" if settings.public_reads else "private"


async def _require_reader(request: Request) -> None:
    """Searches are public reads: a key is needed only where public reads are off."""
    if not app_state(request).settings.public_reads:
        if await run_in_threadpool(_search_principal, request) is None:
            raise Unauthorized("This service requires an API key for every read.")


@router.get(
    "/claims:search",
    response_class=GoogleJSON,
    responses=_responses(GoogleFactCheckedClaimSearchResponse, 400, 401),
)
async def search_claims(
    request: Request,
    text: Annotated[
        str | None,
        Query(
            alias="query",
            max_length=500,
            description="Words to find (all must match). Required unless "
            "reviewPublisherSiteFilter is given.",
            examples=["north korea arms"],
        ),
    ] = None,
    language_code: LanguageCode = None,
    site: Annotated[
        str | None,
        Query(
            alias="reviewPublisherSiteFilter",
            max_length=253,
            description="Only reviews by the publisher of this site.",
            examples=["polygraph.info"],
        ),
    ] = None,
    max_age_days: Annotated[
        int | None,
        Query(
            alias="maxAgeDays",
            ge=0,
            le=INT32_MAX,
            description="Only reviews this recent (days); 0 for any age.",
            examples=[365],
        ),
    ] = None,
    page_size: PageSize = None,
    page_token: PageToken = None,
    offset: Offset = None,
) -> Response:
    """Search fact-checked claims: one claim per published review, best match first."""
    settings = app_state(request).settings
    await _require_reader(request)
    words = (text or "").strip() or None
    site_name = google.normalise_site(site) if site and site.strip() else None
    if words is None and site_name is None:
        raise BadRequest(
            "Either query or reviewPublisherSiteFilter is required.",
            errors=[{"path": "query", "message": "is required without reviewPublisherSiteFilter"}],
        )
    search = fold(words) if words else None
    if words is not None and not search:
        raise BadRequest(
            "query must contain a letter or a digit.",
            errors=[{"path": "query", "message": "must contain a letter or a digit"}],
        )
    language = _language(language_code)
    scope = cursors.fingerprint(["claims:search", search, language, site_name, max_age_days])
    after, token = _read_token(
        page_token,
        scope=scope,
        key_of=float if search is not None else datetime.fromisoformat,
        secret=settings.signing_key,
    )
    cutoff: str | None = token.get("c") if page_token else _cutoff(max_age_days)
    publisher_ids = (
        await run_in_threadpool(_publishers_on_site, request, site_name) if site_name else None
    )
    review_filter = ReviewFilter(
        publisher_ids=publisher_ids,
        language=language,
        published_since=datetime.fromisoformat(cutoff) if cutoff else None,
        search=search,
    )
    size, skip = _page_size(page_size), _offset(offset, page_token)
    reads = app_state(request).reads
    sql, params = query.list_reviews(
        review_filter,
        dialect=reads.dialect,
        sort="relevance" if search else "newest",
        after=after,
        limit=skip + size + 1,
        body_column="jsonld",
    )
    rows = (await reads.fetch(sql, params, heavy=search is not None))[skip:]
    claims = [google.claim_from_jsonld(orjson.loads(bytes(row[2]))) for row in rows[:size]]
    body: dict[str, Any] = {"claims": claims}
    if len(rows) > size:
        body["nextPageToken"] = _token(scope, rows[size - 1], secret=settings.signing_key, c=cutoff)
    return _json(prune(body), cache_control=_search_cache_control(request))


@router.get(
    "/claims:imageSearch",
    response_class=GoogleJSON,
    responses=_responses(GoogleFactCheckedClaimImageSearchResponse, 400, 401),
)
async def image_search_claims(
    request: Request,
    image_uri: Annotated[
        str | None,
        Query(
            alias="imageUri",
            max_length=2048,
            description="Required: the http(s) URL of the image to find.",
            examples=["https://example.org/viral.jpg"],
        ),
    ] = None,
    language_code: LanguageCode = None,
    page_size: PageSize = None,
    page_token: PageToken = None,
    offset: Offset = None,
) -> Response:
    """Search fact-checked claims by image: one claim per published review whose image looks
    like it, nearest first."""
    await _require_reader(request)
    settings = app_state(request).settings
    if not image_uri or not image_uri.strip():
        raise BadRequest(
            "imageUri is required.", errors=[{"path": "imageUri", "message": "is required"}]
        )
    try:
        image_url = check_http_url(image_uri.strip())
    except ValueError as error:
        raise BadRequest(
            f"imageUri {error}.", errors=[{"path": "imageUri", "message": str(error)}]
        ) from None
    language = _language(language_code)
    image = await by_image.image_from_url(request, image_url, field_name="imageUri")
    scope = by_image.scope(image, "claims:imageSearch", language)
    after, _ = _read_token(page_token, scope=scope, key_of=int, secret=settings.signing_key)
    size, skip = _page_size(page_size), _offset(offset, page_token)
    matches, more = await by_image.find(
        request,
        ReviewFilter(language=language),
        image,
        after=after,
        limit=skip + size,
        body_column="jsonld",
    )
    shown = matches[skip:]
    results = [{"claim": google.claim_from_jsonld(orjson.loads(m.body))} for m in shown]
    body: dict[str, Any] = {"results": results}
    if more and shown:
        last = shown[-1]
        body["nextPageToken"] = _token(scope, (last.pk, last.distance), secret=settings.signing_key)
    return _json(prune(body), cache_control=_search_cache_control(request))


# pages list


@router.get(
    "/pages",
    response_class=GoogleJSON,
    responses=_responses(GoogleListClaimReviewMarkupPagesResponse, 400, 401, 403),
)
async def list_pages(
    request: Request,
    organization: Annotated[
        str | None,
        Query(max_length=253, description="Your publisher: its site (e.g. polygraph.info)."),
    ] = None,
    url: Annotated[
        str | None, Query(max_length=2048, description="The page at this URL (at most one).")
    ] = None,
    page_size: PageSize = None,
    page_token: PageToken = None,
    offset: Offset = None,
) -> Response:
    """List your ClaimReview markup pages, most recently reviewed first, or the one at a URL."""
    owner = await run_in_threadpool(_reading_owner, request)
    if organization and url:
        raise BadRequest(
            "Specify organization or url, not both.",
            errors=[{"path": "url", "message": "cannot be combined with organization"}],
        )
    if url:
        try:
            page_url = article_url(check_http_url(url.strip()))
        except ValueError as error:
            raise BadRequest(
                f"url {error}.", errors=[{"path": "url", "message": str(error)}]
            ) from None
        rows = await _read_page(request, publisher_id=owner.id, page_url=page_url)
        pages = [google.page_of(page_url=page_url, reviews=_natives(rows), publisher=owner.card())]
        return _json({"claimReviewMarkupPages": pages} if rows else {})
    if organization and not owner.is_organization(organization):
        raise Forbidden(
            f"This API key can list only its own publisher's pages ({owner.slug}), "
            f"not those of '{organization[:80]}'."
        )
    settings = app_state(request).settings
    scope = cursors.fingerprint(["pages", owner.id])
    after, _ = _read_token(
        page_token, scope=scope, key_of=datetime.fromisoformat, secret=settings.signing_key
    )
    size = _page_size(page_size)
    found = await _pages_after(
        request, owner=owner, after=after, count=size + 1, skip=_offset(offset, page_token)
    )
    body: dict[str, Any] = {
        "claimReviewMarkupPages": [
            google.page_of(page_url=page_url, reviews=page, publisher=owner.card())
            for page_url, page, _ in found[:size]
        ]
    }
    if len(found) > size:
        body["nextPageToken"] = _token(scope, found[size - 1][2], secret=settings.signing_key)
    return _json(prune(body))


async def _pages_after(
    request: Request, *, owner: Owner, after: tuple[Any, int] | None, count: int, skip: int
) -> list[tuple[str, list[dict[str, Any]], Any]]:
    """Up to ``count`` pages after the position ``after``, as ``(page URL, reviews, row)``.

    Reviews are scanned newest first; a page is listed at its newest review (``row``), so the
    token of the last listed page resumes the scan after it, and each page is listed once.
    """
    reads = app_state(request).reads
    found: list[tuple[str, list[dict[str, Any]], Any]] = []
    seen: set[str] = set()
    position = after
    while True:
        sql, params = query.list_reviews(
            ReviewFilter(kind="claim", publisher_ids=(owner.id,)),
            dialect=reads.dialect,
            sort="newest",
            after=position,
            limit=_SCAN_BATCH,
            body_column="native",
        )
        rows = await reads.fetch(sql, params)
        for row in rows:
            position = (row[1], row[0])
            page_url = article_url(orjson.loads(bytes(row[2]))["url"])
            if page_url in seen:
                continue
            seen.add(page_url)
            page = await _read_page(request, publisher_id=owner.id, page_url=page_url)
            # Listed at its newest review: met earlier in this scan, or on an earlier page.
            if not page or page[-1][0] != row[0]:
                continue
            if skip:
                skip -= 1
                continue
            found.append((page_url, _natives(page), row))
            if len(found) == count:
                return found
        if len(rows) < _SCAN_BATCH:
            return found


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def unknown_method(path: str) -> Response:
    """Answer Google's NOT_FOUND to anything else under /v1alpha1 (not problem+json)."""
    raise NotFound(f"No method {path[:80]!r} in the Fact Check Tools API (v1alpha1).")
