"""Syndication partners and their API keys (administration).

A partner reads published reviews and subscribes to webhooks; it publishes nothing, so its
keys hold only ``reviews:read`` and ``webhooks:manage`` and never see a draft. Its keys are
revoked like any other, with ``DELETE /v1/keys/{id}``.
"""

from typing import Any

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import accounts, crud
from app.api import openapi
from app.api.deps import AdminDep, JsonBody, SessionDep, validated
from app.api.routes.publishers import key_fields
from app.errors import Conflict, NotFound
from app.models import ApiKey, Partner
from app.native import (
    PartnerIn,
    PartnerKeyCreated,
    PartnerKeyIn,
    PartnerKeyPublic,
    PartnerPublic,
    format_timestamp,
)

router = APIRouter(prefix="/v1/partners", tags=["administration"])


def partner_public(partner: Partner) -> PartnerPublic:
    return PartnerPublic(
        slug=partner.slug,
        name=partner.name,
        url=partner.url,
        created_at=format_timestamp(partner.created_at),
        updated_at=format_timestamp(partner.updated_at),
    )


def partner_key_public(key: ApiKey, partner_slug: str) -> dict[str, Any]:
    return {**key_fields(key), "partner": partner_slug}


def partner_or_404(session: Session, slug: str) -> Partner:
    partner = crud.get_partner(session=session, slug=slug)
    if partner is None:
        raise NotFound(f"No partner '{slug[:64]}'.")
    return partner


@router.post(
    "",
    status_code=201,
    response_model=PartnerPublic,
    openapi_extra=openapi.body_of(PartnerIn),
    responses=openapi.responses(400, 401, 403, 409, 413, 415, 422),
)
def create_partner(body: JsonBody, session: SessionDep, _admin: AdminDep) -> PartnerPublic:
    """Create a syndication partner (admin)."""
    incoming: PartnerIn = validated(PartnerIn, body.data)
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
    return partner_public(partner)


@router.get("", responses=openapi.responses(401, 403))
def list_partners(session: SessionDep, _admin: AdminDep) -> dict[str, list[PartnerPublic]]:
    """List every partner (admin)."""
    return {"items": [partner_public(row) for row in crud.list_partners(session=session)]}


@router.get("/{slug}", response_model=PartnerPublic, responses=openapi.responses(401, 403, 404))
def get_partner(slug: str, session: SessionDep, _admin: AdminDep) -> PartnerPublic:
    """Get a partner (admin)."""
    return partner_public(partner_or_404(session, slug))


@router.post(
    "/{slug}/keys",
    status_code=201,
    response_model=PartnerKeyCreated,
    openapi_extra=openapi.body_of(PartnerKeyIn),
    responses=openapi.responses(400, 401, 403, 404, 413, 415, 422),
)
def create_partner_key(
    slug: str, body: JsonBody, session: SessionDep, _admin: AdminDep
) -> dict[str, Any]:
    """Create a partner's API key (admin); the secret is shown only in this answer."""
    partner = partner_or_404(session, slug)
    incoming: PartnerKeyIn = validated(PartnerKeyIn, body.data)
    key, full_key = accounts.new_api_key(partner_id=partner.id, incoming=incoming)
    crud.add(session=session, row=key)
    return {**partner_key_public(key, partner.slug), "key": full_key}


@router.get("/{slug}/keys", responses=openapi.responses(401, 403, 404))
def list_partner_keys(
    slug: str, session: SessionDep, _admin: AdminDep
) -> dict[str, list[PartnerKeyPublic]]:
    """List a partner's keys without their secrets (admin)."""
    partner = partner_or_404(session, slug)
    rows = crud.list_keys(session=session, partner_id=partner.id)
    return {"items": [PartnerKeyPublic(**partner_key_public(row, partner.slug)) for row in rows]}
