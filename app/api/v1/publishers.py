"""Publishers, their API keys and rating scales (administration)."""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api import openapi
from app.api.deps import (
    AdminDep,
    JsonBody,
    ReaderDep,
    SessionDep,
    SettingsDep,
    publisher_or_404,
    validated,
)
from app.core import verdicts
from app.core.document import RatingScale
from app.core.security import Principal
from app.db import crud
from app.db.tables import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    Publisher,
    PublisherCreate,
    PublisherPublic,
    PublisherUpdate,
)
from app.errors import Conflict, NotFound, Unprocessable
from app.services import accounts, reviews

router = APIRouter(tags=["administration"])


def _own_or_admin(session: Session, slug: str, principal: Principal) -> Publisher:
    publisher = publisher_or_404(session, slug)
    if not principal.owns(publisher.id):
        raise NotFound(f"No publisher '{slug[:64]}'.")
    return publisher


@router.post(
    "/v1/publishers",
    status_code=201,
    response_model=PublisherPublic,
    openapi_extra=openapi.body_of(PublisherCreate),
    responses=openapi.responses(400, 401, 403, 409, 413, 415, 422),
)
def create_publisher(body: JsonBody, session: SessionDep, _admin: AdminDep) -> PublisherPublic:
    """Create a publisher (admin)."""
    incoming: PublisherCreate = validated(PublisherCreate, body.data)
    if crud.get_publisher(session=session, slug=incoming.slug):
        raise Conflict(
            f"Publisher '{incoming.slug}' exists.",
            errors=[{"path": "/slug", "message": "already taken"}],
        )
    publisher = accounts.new_publisher(incoming)
    try:
        crud.add(session=session, row=publisher)
    except IntegrityError:
        raise Conflict(f"Publisher '{incoming.slug}' exists.") from None
    return PublisherPublic.model_validate(publisher)


@router.get("/v1/publishers", responses=openapi.responses(401, 403))
def list_publishers(session: SessionDep, _admin: AdminDep) -> dict[str, list[PublisherPublic]]:
    """List every publisher (admin)."""
    rows = crud.list_publishers(session=session)
    return {"items": [PublisherPublic.model_validate(row) for row in rows]}


@router.get(
    "/v1/publishers/{slug}",
    response_model=PublisherPublic,
    responses=openapi.responses(401, 403, 404),
)
def get_publisher(slug: str, session: SessionDep, principal: ReaderDep) -> PublisherPublic:
    """Get a publisher (admin, or the publisher's own keys)."""
    return PublisherPublic.model_validate(_own_or_admin(session, slug, principal))


@router.patch(
    "/v1/publishers/{slug}",
    response_model=PublisherPublic,
    openapi_extra=openapi.body_of(PublisherUpdate),
    responses=openapi.responses(400, 401, 403, 404, 413, 415, 422),
)
def update_publisher(
    slug: str, body: JsonBody, session: SessionDep, _admin: AdminDep, settings: SettingsDep
) -> PublisherPublic:
    """Change a publisher (admin); its reviews' JSON-LD is re-rendered in the same transaction."""
    publisher = publisher_or_404(session, slug)
    changes: PublisherUpdate = validated(PublisherUpdate, body.data)
    for field, value in changes.model_dump(exclude_unset=True).items():
        if value is None and field in ("name", "url"):
            raise Unprocessable(
                f"{field} cannot be removed.", errors=[{"path": f"/{field}", "message": "required"}]
            )
        # null clears a field; the list fields are stored as empty lists.
        empty: list[str] | None = [] if field in ("same_as", "domains") else None
        setattr(publisher, field, empty if value is None else value)
    if "url" in changes.model_fields_set and "domains" not in changes.model_fields_set:
        publisher.domains = accounts.default_domains(publisher.url)
    publisher.updated_at = datetime.now(UTC)
    _rerender_all(session, publisher, settings.public_base_url)
    return PublisherPublic.model_validate(publisher)


def _rerender_all(session: Session, publisher: Publisher, base_url: str) -> None:
    for review in crud.list_unretracted_reviews(session=session, publisher_id=publisher.id):
        reviews.rerender(session=session, review=review, publisher=publisher, base_url=base_url)


@router.post(
    "/v1/publishers/{slug}/keys",
    status_code=201,
    response_model=ApiKeyCreated,
    openapi_extra=openapi.body_of(ApiKeyCreate),
    responses=openapi.responses(400, 401, 403, 404, 413, 415, 422),
)
def create_key(slug: str, body: JsonBody, session: SessionDep, _admin: AdminDep) -> ApiKeyCreated:
    """Create an API key for a publisher (admin); the secret is shown only in this answer."""
    publisher = publisher_or_404(session, slug)
    incoming: ApiKeyCreate = validated(ApiKeyCreate, body.data)
    key, full_key = accounts.new_api_key(publisher_id=publisher.id, incoming=incoming)
    crud.add(session=session, row=key)
    return ApiKeyCreated.model_validate(key, update={"publisher": publisher.slug, "key": full_key})


@router.get("/v1/publishers/{slug}/keys", responses=openapi.responses(401, 403, 404))
def list_keys(slug: str, session: SessionDep, _admin: AdminDep) -> dict[str, list[ApiKeyPublic]]:
    """List a publisher's keys without their secrets (admin)."""
    publisher = publisher_or_404(session, slug)
    rows = crud.list_keys(session=session, publisher_id=publisher.id)
    owner = {"publisher": publisher.slug}
    return {"items": [ApiKeyPublic.model_validate(row, update=owner) for row in rows]}


@router.delete("/v1/keys/{key_id}", status_code=204, responses=openapi.responses(401, 403, 404))
def revoke_key(key_id: str, session: SessionDep, _admin: AdminDep) -> None:
    """Revoke an API key (admin); it stops working at once."""
    key = crud.get_key(session=session, key_id=key_id)
    if key is None:
        raise NotFound(f"No key '{key_id[:64]}'.")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)


@router.get(
    "/v1/publishers/{slug}/rating-scale",
    response_model=RatingScale | None,
    responses=openapi.responses(401, 403, 404),
)
def get_rating_scale(slug: str, session: SessionDep, principal: ReaderDep) -> dict[str, Any] | None:
    """Get a publisher's own rating scale (null when it has none)."""
    return _own_or_admin(session, slug, principal).rating_scale


@router.put(
    "/v1/publishers/{slug}/rating-scale",
    response_model=RatingScale,
    openapi_extra=openapi.body_of(RatingScale),
    responses=openapi.responses(400, 401, 403, 404, 413, 415, 422),
)
def put_rating_scale(
    slug: str, body: JsonBody, session: SessionDep, principal: AdminDep, settings: SettingsDep
) -> dict[str, Any]:
    """Set a publisher's rating scale; its reviews are re-normalised in one transaction."""
    publisher = _own_or_admin(session, slug, principal)
    scale: RatingScale = validated(RatingScale, body.data)
    stored = scale.model_dump(exclude_none=True)
    problems = verdicts.validate_scale(stored)
    if problems:
        raise Unprocessable(
            "The rating scale is not valid.",
            errors=[{"path": path, "message": message} for path, message in problems],
        )
    publisher.rating_scale = stored
    publisher.updated_at = datetime.now(UTC)
    _rerender_all(session, publisher, settings.public_base_url)
    return stored
