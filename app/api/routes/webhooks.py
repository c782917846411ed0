"""Webhooks: subscriptions to review events, delivered signed; sending is app/webhooks.py."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from app import crud, verdicts, webhooks
from app.api import openapi
from app.api.deps import (
    JsonBody,
    SessionDep,
    SettingsDep,
    WebhookManagerDep,
    acting_publisher,
    validated,
)
from app.errors import NotFound, Unprocessable
from app.models import Webhook
from app.native import LanguageTag, NoNul, Slug, Url, format_timestamp
from app.security import Principal

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

EventType = Literal["review.published", "review.updated", "review.retracted"]
ALL_EVENTS: list[EventType] = list(get_args(EventType))


def _known_verdict(value: str) -> str:
    if value not in verdicts.VOCABULARY:
        raise ValueError(f"must be one of: {', '.join(verdicts.VOCABULARY)}")
    return value


def _unique(events: list[EventType]) -> list[EventType]:
    return list(dict.fromkeys(events))


Verdict = Annotated[
    str,
    AfterValidator(_known_verdict),
    Field(json_schema_extra={"enum": list(verdicts.VOCABULARY)}),
]


class WebhookFilters(BaseModel):
    """Only events of reviews matching every given filter are sent."""

    model_config = ConfigDict(extra="forbid")

    publisher: Slug | None = None
    language: LanguageTag | None = Field(
        default=None, description="Matches the tag and its subtags: 'pt' matches 'pt-BR'."
    )
    verdict: Verdict | None = None


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="http(s); must resolve to a public address.")
    secret: Annotated[str, StringConstraints(min_length=16, max_length=500), NoNul] = Field(
        description="Keys the HMAC-SHA256 signature of every delivery. Never shown again."
    )
    events: Annotated[list[EventType], AfterValidator(_unique)] = Field(
        default_factory=lambda: list(ALL_EVENTS), min_length=1, max_length=10
    )
    filters: WebhookFilters = Field(default_factory=WebhookFilters)
    publisher: Slug | None = Field(
        default=None,
        description=(
            "The owning publisher. Default: the key's publisher or partner; for the admin, "
            "the platform. Only the admin names another publisher."
        ),
    )


class WebhookPublic(BaseModel):
    id: str
    publisher: str | None = Field(description="The owning publisher, if a publisher owns it.")
    partner: str | None = Field(description="The owning partner, if a partner owns it.")
    url: str
    events: list[str]
    filters: dict[str, str]
    status: Literal["active", "failing"]
    created_at: str


class WebhookList(BaseModel):
    items: list[WebhookPublic]


class DeliveryPublic(BaseModel):
    id: str
    event_id: str = Field(description="Sent as X-ClaimReview-Delivery; the same on every attempt.")
    event_type: str
    review_id: str
    version: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_response: str | None = Field(description="The start of the receiver's last answer.")
    created_at: str
    next_attempt_at: str | None = Field(description="When the next attempt is due (pending).")
    delivered_at: str | None


class DeliveryList(BaseModel):
    items: list[DeliveryPublic]


def webhook_public(subscription: webhooks.Subscription) -> WebhookPublic:
    webhook = subscription.webhook
    return WebhookPublic(
        id=webhook.id,
        publisher=subscription.publisher,
        partner=subscription.partner,
        url=webhook.url,
        events=webhook.events,
        filters=webhook.filters,
        status="failing" if webhook.status == "failing" else "active",
        created_at=format_timestamp(webhook.created_at),
    )


def _timestamp(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment else None


def owned_webhook(
    *, session: Session, webhook_id: str, principal: Principal
) -> webhooks.Subscription:
    """The webhook if this caller owns it: another owner's answers 404 like a missing one."""
    found = webhooks.get_webhook(session=session, webhook_id=webhook_id[:64])
    if found is None or not principal.holds(
        publisher_id=found.webhook.publisher_id, partner_id=found.webhook.partner_id
    ):
        raise NotFound(f"No webhook '{webhook_id[:64]}'.")
    return found


def _owner(
    session: Session, principal: Principal, slug: str | None
) -> tuple[webhooks.Owner, str | None, str | None]:
    """Who a new webhook belongs to, and the slugs shown for it: the publisher named
    (``deps.acting_publisher``); else the admin's platform, or the key's partner, or the key's
    publisher."""
    if slug is None and principal.is_admin:
        return webhooks.Owner(), None, None
    if slug is None and principal.partner_id is not None:
        return webhooks.Owner(partner_id=principal.partner_id), None, principal.partner_slug
    publisher = acting_publisher(
        session=session,
        principal=principal,
        slug=slug,
        refusal="A key can only create webhooks for its own publisher or partner.",
    )
    assert publisher is not None  # a key without a partner has a publisher
    return webhooks.Owner(publisher_id=publisher.id), publisher.slug, None


@router.post(
    "",
    status_code=201,
    response_model=WebhookPublic,
    openapi_extra=openapi.body_of(WebhookIn),
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
    incoming: WebhookIn = validated(WebhookIn, body.data)
    owner, publisher_slug, partner_slug = _owner(session, principal, incoming.publisher)
    wanted = incoming.filters.model_dump(exclude_none=True)
    watched = wanted.get("publisher")
    if watched is not None and crud.get_publisher(session=session, slug=watched) is None:
        raise Unprocessable(
            f"No publisher '{watched}'.",
            errors=[{"path": "/filters/publisher", "message": "unknown publisher"}],
        )
    try:
        webhooks.resolve(incoming.url, allow_private=settings.webhook_allow_private)
    except webhooks.UnsafeDestination as error:
        raise Unprocessable(
            "The webhook URL cannot be used.", errors=[{"path": "/url", "message": str(error)}]
        ) from None
    webhook = Webhook(
        id=webhooks.new_webhook_id(),
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
    return webhook_public(webhooks.Subscription(webhook, publisher_slug, partner_slug))


@router.get("", response_model=WebhookList, responses=openapi.responses(401, 403))
def list_webhooks(session: SessionDep, principal: WebhookManagerDep) -> WebhookList:
    """List the caller's webhooks (every owner's for an admin)."""
    owner = (
        None
        if principal.is_admin
        else webhooks.Owner(publisher_id=principal.publisher_id, partner_id=principal.partner_id)
    )
    rows = webhooks.list_webhooks(session=session, owner=owner)
    return WebhookList(items=[webhook_public(row) for row in rows])


@router.get(
    "/{webhook_id}", response_model=WebhookPublic, responses=openapi.responses(401, 403, 404)
)
def get_webhook(
    webhook_id: str, session: SessionDep, principal: WebhookManagerDep
) -> WebhookPublic:
    """Get one of the caller's webhooks, with its status (active or failing)."""
    return webhook_public(
        owned_webhook(session=session, webhook_id=webhook_id, principal=principal)
    )


@router.delete("/{webhook_id}", status_code=204, responses=openapi.responses(401, 403, 404))
def delete_webhook(webhook_id: str, session: SessionDep, principal: WebhookManagerDep) -> None:
    """Delete a webhook: nothing more is sent to it, pending deliveries included."""
    found = owned_webhook(session=session, webhook_id=webhook_id, principal=principal)
    webhooks.delete_webhook(session=session, webhook=found.webhook)


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
    rows = webhooks.list_deliveries(session=session, webhook_id=found.webhook.id, limit=limit)
    return DeliveryList(items=[_delivery_public(row) for row in rows])


def _delivery_public(row: Any) -> DeliveryPublic:
    delivery = row[0]
    return DeliveryPublic(
        id=str(delivery.id),
        event_id=str(delivery.event_id),
        event_type=row.type,
        review_id=row.review_id,
        version=row.version,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        last_response=delivery.last_response,
        created_at=format_timestamp(delivery.created_at),
        next_attempt_at=(
            _timestamp(delivery.next_attempt_at) if delivery.status == "pending" else None
        ),
        delivered_at=_timestamp(delivery.delivered_at),
    )
