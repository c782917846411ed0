"""Webhooks: subscriptions to review events, delivered signed; sending is app/services/webhooks/."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.api import openapi
from app.api.deps import (
    JsonBody,
    SessionDep,
    SettingsDep,
    WebhookManagerDep,
    acting_publisher,
    validated,
)
from app.core.security import Principal
from app.db import crud
from app.db.tables import Webhook, WebhookCreate, WebhookDeliveryPublic, WebhookPublic
from app.errors import NotFound, Unprocessable
from app.services import outbound
from app.services.webhooks import subscriptions

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookList(BaseModel):
    items: list[WebhookPublic]


class DeliveryList(BaseModel):
    items: list[WebhookDeliveryPublic]


def _public(found: subscriptions.Subscription) -> WebhookPublic:
    """The webhook's row, with its owner's slug read from the publisher or partner row."""
    return WebhookPublic.model_validate(
        found.webhook, update={"publisher": found.publisher, "partner": found.partner}
    )


def owned_webhook(
    *, session: Session, webhook_id: str, principal: Principal
) -> subscriptions.Subscription:
    """The webhook if this caller owns it: another owner's answers 404 like a missing one."""
    found = subscriptions.get_webhook(session=session, webhook_id=webhook_id[:64])
    if found is None or not principal.holds(
        publisher_id=found.webhook.publisher_id, partner_id=found.webhook.partner_id
    ):
        raise NotFound(f"No webhook '{webhook_id[:64]}'.")
    return found


def _owner(
    session: Session, principal: Principal, slug: str | None
) -> tuple[subscriptions.Owner, str | None, str | None]:
    """Who a new webhook belongs to, and the slugs shown for it: the publisher named
    (``deps.acting_publisher``); else the admin's platform, or the key's partner, or the key's
    publisher."""
    if slug is None and principal.is_admin:
        return subscriptions.Owner(), None, None
    if slug is None and principal.partner_id is not None:
        return subscriptions.Owner(partner_id=principal.partner_id), None, principal.partner_slug
    publisher = acting_publisher(
        session=session,
        principal=principal,
        slug=slug,
        refusal="A key can only create webhooks for its own publisher or partner.",
    )
    assert publisher is not None  # a key without a partner has a publisher
    return subscriptions.Owner(publisher_id=publisher.id), publisher.slug, None


@router.post(
    "",
    status_code=201,
    response_model=WebhookPublic,
    openapi_extra=openapi.body_of(WebhookCreate),
    responses=openapi.responses(400, 401, 403, 413, 415, 422),
)
def create_webhook(
    body: JsonBody,
    session: SessionDep,
    principal: WebhookManagerDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> WebhookPublic:
    """Subscribe a URL to review events; the secret signs every delivery and is never shown."""
    incoming: WebhookCreate = validated(WebhookCreate, body.data)
    owner, publisher_slug, partner_slug = _owner(session, principal, incoming.publisher)
    wanted = incoming.filters.model_dump(exclude_none=True)
    watched = wanted.get("publisher")
    if watched is not None and crud.get_publisher(session=session, slug=watched) is None:
        raise Unprocessable(
            f"No publisher '{watched}'.",
            errors=[{"path": "/filters/publisher", "message": "unknown publisher"}],
        )
    try:
        outbound.resolve(incoming.url, allow_private=settings.outbound_allow_private)
    except outbound.UnsafeDestination as error:
        raise Unprocessable(
            "The webhook URL cannot be used.", errors=[{"path": "/url", "message": str(error)}]
        ) from None
    webhook = Webhook(
        id=subscriptions.new_webhook_id(),
        publisher_id=owner.publisher_id,
        partner_id=owner.partner_id,
        url=incoming.url,
        secret=incoming.secret,
        events=list(incoming.events),
        filters=wanted,
        status="active",
        created_at=datetime.now(UTC),
    )
    crud.add(session=session, row=webhook)
    response.headers["Location"] = str(request.url_for("get_webhook", webhook_id=webhook.id))
    return _public(subscriptions.Subscription(webhook, publisher_slug, partner_slug))


@router.get("", response_model=WebhookList, responses=openapi.responses(401, 403))
def list_webhooks(session: SessionDep, principal: WebhookManagerDep) -> WebhookList:
    """List the caller's webhooks (every owner's for an admin)."""
    owner = (
        None
        if principal.is_admin
        else subscriptions.Owner(
            publisher_id=principal.publisher_id, partner_id=principal.partner_id
        )
    )
    rows = subscriptions.list_webhooks(session=session, owner=owner)
    return WebhookList(items=[_public(row) for row in rows])


@router.get(
    "/{webhook_id}", response_model=WebhookPublic, responses=openapi.responses(401, 403, 404)
)
def get_webhook(
    webhook_id: str, session: SessionDep, principal: WebhookManagerDep
) -> WebhookPublic:
    """Get one of the caller's webhooks, with its status (active or failing)."""
    return _public(owned_webhook(session=session, webhook_id=webhook_id, principal=principal))


@router.delete("/{webhook_id}", status_code=204, responses=openapi.responses(401, 403, 404))
def delete_webhook(webhook_id: str, session: SessionDep, principal: WebhookManagerDep) -> None:
    """Delete a webhook: nothing more is sent to it, pending deliveries included."""
    found = owned_webhook(session=session, webhook_id=webhook_id, principal=principal)
    subscriptions.delete_webhook(session=session, webhook=found.webhook)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryList,
    responses=openapi.responses(401, 403, 404, 422),
)
def list_deliveries(
    webhook_id: str,
    session: SessionDep,
    principal: WebhookManagerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeliveryList:
    """List a webhook's deliveries, newest first: attempts, status and the last answer."""
    found = owned_webhook(session=session, webhook_id=webhook_id, principal=principal)
    rows = subscriptions.list_deliveries(session=session, webhook_id=found.webhook.id, limit=limit)
    return DeliveryList(
        items=[
            WebhookDeliveryPublic.model_validate(
                row[0],
                update={"event_type": row.type, "review_id": row.review_id, "version": row.version},
            )
            for row in rows
        ]
    )
