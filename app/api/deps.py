"""Request dependencies: who is calling, the JSON body, and id → row (or the right error)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar, cast

import orjson
from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.core.document import format_timestamp
from app.core.ids import is_review_id
from app.core.security import (
    PARTNER_SCOPES,
    Principal,
    bearer_token,
    expand_scopes,
    secret_matches,
    split_key,
    token_matches,
)
from app.db import crud
from app.db.engine import SessionDep
from app.db.reads import StoredReads
from app.db.tables import ClaimReview, Publisher
from app.errors import (
    Forbidden,
    Gone,
    MalformedBody,
    NotFound,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    input_errors,
)


class AppState(Protocol):
    """What the application's lifespan (``app.main``) puts on ``app.state``, typed: the one place
    that says what the routes may find there."""

    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker[Session]
    reads: StoredReads


def app_state(request: Request) -> AppState:
    return cast(AppState, request.app.state)


ADMIN = Principal(actor="admin-token", scopes=expand_scopes(["admin"]))


async def get_settings(request: Request) -> Settings:
    # async: a plain def dependency costs a thread-pool hop for one attribute read.
    settings: Settings = app_state(request).settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def authenticate(
    *, session: Session, settings: Settings, authorization: str | None
) -> Principal | None:
    """The caller's principal; ``None`` for anonymous; 401 for a bad or revoked credential."""
    token = bearer_token(authorization)
    if token is None:
        return None
    if token_matches(token, settings.admin_token):
        return ADMIN
    parts = split_key(token) if token else None
    if parts is None:
        raise Unauthorized("The Authorization header must be 'Bearer <API key>'.")
    key = crud.get_key(session=session, key_id=parts[0])
    if key is None or key.revoked_at is not None or not secret_matches(parts[1], key.secret_hash):
        raise Unauthorized("The API key is not valid or has been revoked.")
    if key.partner_id is not None:
        partner = crud.get_partner_by_id(session=session, partner_id=key.partner_id)
        assert partner is not None  # enforced by the foreign key
        return Principal(
            actor=f"key:{key.id}",
            # Only what a partner may hold, even if a row says more: partners never write.
            scopes=expand_scopes([scope for scope in key.scopes if scope in PARTNER_SCOPES]),
            partner_id=partner.id,
            partner_slug=partner.slug,
        )
    assert key.publisher_id is not None  # a key has one owner (check constraint)
    publisher = crud.get_publisher_by_id(session=session, publisher_id=key.publisher_id)
    assert publisher is not None  # enforced by the foreign key
    return Principal(
        actor=f"key:{key.id}",
        scopes=expand_scopes(key.scopes),
        publisher_id=publisher.id,
        publisher_slug=publisher.slug,
    )


def authenticate_request(request: Request) -> Principal | None:
    """``authenticate`` with a session of its own, for the loop-side routes (run it in a thread)."""
    with app_state(request).sessionmaker() as session:
        return authenticate(
            session=session,
            settings=app_state(request).settings,
            authorization=request.headers.get("authorization"),
        )


def optional_principal(
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal | None:
    principal = authenticate(session=session, settings=settings, authorization=authorization)
    if principal is None and not settings.public_reads:
        raise Unauthorized("This service requires an API key for every read.")
    return principal


OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]


def _requiring(scope: str) -> Any:
    async def dependency(principal: OptionalPrincipalDep) -> Principal:
        if principal is None:
            raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
        if not principal.can(scope):
            raise Forbidden(f"This API key lacks the '{scope}' scope.")
        return principal

    return dependency


ReaderDep = Annotated[Principal, Depends(_requiring("reviews:read"))]
WriterDep = Annotated[Principal, Depends(_requiring("reviews:write"))]
WebhookManagerDep = Annotated[Principal, Depends(_requiring("webhooks:manage"))]
AdminDep = Annotated[Principal, Depends(_requiring("admin"))]


@dataclass(frozen=True, slots=True)
class Body:
    raw: bytes
    data: Any
    media_type: str


async def json_body(request: Request) -> Body:
    """The parsed JSON body. Size is capped by the middleware before this runs."""
    kind = media_type(request)
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaType(
            "Send JSON: Content-Type application/json, application/ld+json "
            "or application/merge-patch+json."
        )
    raw = await request.body()
    if not raw.strip():
        raise MalformedBody(
            "The request body is empty.", errors=[{"path": "/", "message": "empty"}]
        )
    try:
        return Body(raw=raw, data=orjson.loads(raw), media_type=kind)
    except orjson.JSONDecodeError as error:
        raise MalformedBody(
            f"The request body is not valid JSON: {error}",
            errors=[{"path": "/", "message": "not valid JSON (or not UTF-8, or nested too deep)"}],
        ) from None


JsonBody = Annotated[Body, Depends(json_body)]
Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], data: Any) -> Model:
    """``data`` as ``model``, or 422 naming every bad field by JSON pointer."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Unprocessable("The request body is not valid.", errors=input_errors(error)) from None


async def refuse_nul(request: Request) -> None:
    """Refuse NUL in path and query parameters, on every route: PostgreSQL text cannot hold
    one, so a lookup or a filter that carried it was a 500. Most requests carry none: that is
    told from the raw path and query string without parsing the query."""
    query = request.scope["query_string"]
    if b"%00" not in query and b"\x00" not in query and "\x00" not in request.scope["path"]:
        return
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if "\x00" in f"{name}{value}":
            raise Unprocessable(
                f"The parameter '{name[:64]}' contains NUL.",
                errors=[{"path": name[:64], "message": "must not contain NUL (U+0000) characters"}],
            )


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class Review(Protocol):
    """What the access rule reads of a review: an ORM row, or a hot read's stored bytes."""

    @property
    def id(self) -> str: ...
    @property
    def publisher_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def retracted_at(self) -> datetime | None: ...


def no_review(review_id: str) -> NotFound:
    """The answer for an id the caller may not know exists: the same as for a missing one."""
    return NotFound(f"No claim review with id '{review_id[:64]}'.")


def require_visible(
    review: Review, *, principal: Principal | None, allow_retracted: bool = False
) -> None:
    """Who may see a review, for every read of one by id: a published one, whoever may read at
    all; a draft, only its owner (anyone else gets the 404 of a missing id); a retracted one,
    nobody (410), but its owner may read its history (``allow_retracted``).

    The hot reads (``hot.readable_review``) skip the call for the one case it cannot
    refuse, an anonymous read of a published review on a service with public reads."""
    owner = principal is not None and principal.owns(review.publisher_id)
    if review.status == "draft" and not owner:
        raise no_review(review.id)
    if review.status == "retracted" and not (allow_retracted and owner):
        retracted_at = format_timestamp(review.retracted_at) if review.retracted_at else None
        raise Gone("This claim review has been retracted.", retracted_at=retracted_at)


def owned_review(
    *, session: Session, review_id: str, principal: Principal, history: bool = False
) -> ClaimReview:
    """A review the caller may change, locked for the rest of the transaction; with ``history``,
    one whose versions it may read (unlocked, and retracted ones too). Another publisher's
    review answers as ``require_visible`` decides (a draft 404, a retracted one 410), else 404."""
    review = (
        crud.get_review(session=session, review_id=review_id, for_update=not history)
        if is_review_id(review_id)
        else None
    )
    if review is None:
        raise no_review(review_id)
    require_visible(review, principal=principal, allow_retracted=history)
    if not principal.owns(review.publisher_id):
        raise no_review(review_id)
    return review


def publisher_or_404(session: Session, slug: str) -> Publisher:
    publisher = crud.get_publisher(session=session, slug=slug)
    if publisher is None:
        raise NotFound(f"No publisher '{slug[:64]}'.")
    return publisher


def acting_publisher(
    *,
    session: Session,
    principal: Principal,
    slug: str | None = None,
    named_at: str = "/publisher",
    refusal: str = "A key can only act for its own publisher.",
) -> Publisher | None:
    """The publisher a caller acts for: the one it names in ``slug`` (at ``named_at`` in the
    request) if that is its key's, or any for the admin; else its key's; ``None`` when it names
    none and its key has no publisher (the admin token, a partner's key). Naming another
    publisher without the admin scope is 403 with ``refusal``; naming an unknown one, 422.
    What ``None`` means (refused, the platform, every publisher) is each route's own."""
    if slug is None or slug == principal.publisher_slug:
        if principal.publisher_id is None:
            return None
        own = crud.get_publisher_by_id(session=session, publisher_id=principal.publisher_id)
        assert own is not None  # enforced by the foreign key
        return own
    if not principal.is_admin:
        raise Forbidden(refusal, errors=[{"path": named_at, "message": "not this key's publisher"}])
    named = crud.get_publisher(session=session, slug=slug)
    if named is None:
        raise Unprocessable(
            f"No publisher '{slug}'.", errors=[{"path": named_at, "message": "unknown"}]
        )
    return named


def query_model(model: type[Model], request: Request) -> Model:
    """The query string validated against ``model`` in one pass, for a hot route where
    FastAPI's resolution of each declared parameter costs more than the route's own work.
    Same values (the last of a repeated name) and same 422 (``("query", name)``) as declared
    parameters; document them with ``openapi.query_parameters(model)``."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("query", *item["loc"])} for item in error.errors(include_url=False)]
        ) from None
