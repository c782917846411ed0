"""Syndication partners and their API keys (administration).

A partner reads published reviews and subscribes to webhooks; it publishes nothing, so its
keys hold only ``reviews:read`` and ``webhooks:manage`` and never see a draft. Its keys are
revoked like any other, with ``DELETE /v1/keys/{id}``.
"""

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api import openapi
from app.api.deps import AdminDep, JsonBody, SessionDep, validated
from app.db import crud
from app.db.tables import (
    Partner,
    PartnerCreate,
    PartnerKeyCreate,
    PartnerKeyCreated,
    PartnerKeyPublic,
    PartnerPublic,
)
from app.errors import Conflict, NotFound
from app.services import accounts

router = APIRouter(prefix="/v1/partners", tags=["administration"])


def partner_or_404(session: Session, slug: str) -> Partner:
    partner = crud.get_partner(session=session, slug=slug)
    if partner is None:
        raise NotFound(f"No partner '{slug[:64]}'.")
    return partner


@router.post(
    "",
    status_code=201,
    response_model=PartnerPublic,
    openapi_extra=openapi.body_of(PartnerCreate),
    responses=openapi.responses(400, 401, 403, 409, 413, 415, 422),
)
def create_partner(body: JsonBody, session: SessionDep, _admin: AdminDep) -> PartnerPublic:
    """Create a syndication partner (admin)."""
    incoming: PartnerCreate = validated(PartnerCreate, body.data)
    taken = Conflict(
        f"Partner '{incoming.slug}' exists.",
        errors=[{"path": "/slug", "message": "already taken"}],
    )
    if crud.get_partner(session=session, slug=incoming.slug):
        raise taken
    partner = accounts.new_partner(incoming)
    try:
        crud.add(session=session, row=partner)
    except IntegrityError:  # created by a concurrent request since the check above
        raise taken from None
    return PartnerPublic.model_validate(partner)


@router.get("", responses=openapi.responses(401, 403))
def list_partners(session: SessionDep, _admin: AdminDep) -> dict[str, list[PartnerPublic]]:
    """List every partner (admin)."""
    rows = crud.list_partners(session=session)
    return {"items": [PartnerPublic.model_validate(row) for row in rows]}


@router.get("/{slug}", response_model=PartnerPublic, responses=openapi.responses(401, 403, 404))
def get_partner(slug: str, session: SessionDep, _admin: AdminDep) -> PartnerPublic:
    """Get a partner (admin)."""
    return PartnerPublic.model_validate(partner_or_404(session, slug))


@router.post(
    "/{slug}/keys",
    status_code=201,
    response_model=PartnerKeyCreated,
    openapi_extra=openapi.body_of(PartnerKeyCreate),
    responses=openapi.responses(400, 401, 403, 404, 413, 415, 422),
)
def create_partner_key(
    slug: str, body: JsonBody, session: SessionDep, _admin: AdminDep
) -> PartnerKeyCreated:
    """Create a partner's API key (admin); the secret is shown only in this answer."""
    partner = partner_or_404(session, slug)
    incoming: PartnerKeyCreate = validated(PartnerKeyCreate, body.data)
    key, full_key = accounts.new_api_key(partner_id=partner.id, incoming=incoming)
    crud.add(session=session, row=key)
    return PartnerKeyCreated.model_validate(key, update={"partner": partner.slug, "key": full_key})


@router.get("/{slug}/keys", responses=openapi.responses(401, 403, 404))
def list_partner_keys(
    slug: str, session: SessionDep, _admin: AdminDep
) -> dict[str, list[PartnerKeyPublic]]:
    """List a partner's keys without their secrets (admin)."""
    partner = partner_or_404(session, slug)
    rows = crud.list_keys(session=session, partner_id=partner.id)
    owner = {"partner": partner.slug}
    return {"items": [PartnerKeyPublic.model_validate(row, update=owner) for row in rows]}
