"""Webhook subscriptions: who subscribes to what. Whether a destination may be called is the
outbound policy's to say (app/services/outbound.py), when subscribing and before every attempt."""

import dataclasses
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.tables import OutboxEvent, Partner, Publisher, Webhook, WebhookDelivery


def new_webhook_id() -> str:
    return secrets.token_urlsafe(12)


@dataclasses.dataclass(frozen=True, slots=True)
class Owner:
    """Who a webhook belongs to: a publisher, a partner, or neither (the platform). It decides
    who may see and change the webhook, never what it receives."""

    publisher_id: int | None = None
    partner_id: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook and the slugs of its owner (both ``None``: the platform's)."""

    webhook: Webhook
    publisher: str | None
    partner: str | None


def _live_subscriptions() -> Select[Webhook, str | None, str | None]:
    return (
        select(Webhook, col(Publisher.slug), col(Partner.slug))
        .outerjoin(Publisher, col(Publisher.id) == col(Webhook.publisher_id))
        .outerjoin(Partner, col(Partner.id) == col(Webhook.partner_id))
        .where(col(Webhook.deleted_at).is_(None))
    )


def get_webhook(*, session: Session, webhook_id: str) -> Subscription | None:
    """A live (not deleted) webhook and its owner's slugs."""
    row = session.execute(_live_subscriptions().where(col(Webhook.id) == webhook_id)).first()
    return Subscription(*row) if row else None


def list_webhooks(*, session: Session, owner: Owner | None) -> list[Subscription]:
    """Live webhooks, oldest first: one owner's, or everyone's for ``None``."""
    query = _live_subscriptions().order_by(col(Webhook.created_at), col(Webhook.id))
    if owner is not None:
        query = query.where(
            _is(col(Webhook.publisher_id), owner.publisher_id),
            _is(col(Webhook.partner_id), owner.partner_id),
        )
    return [Subscription(*row) for row in session.execute(query)]


def _is(column: Any, value: int | None) -> Any:
    return column.is_(None) if value is None else column == value


def delete_webhook(*, session: Session, webhook: Webhook) -> None:
    """Soft-delete; its pending deliveries are given up so the dispatcher stops looking at them."""
    # Deliveries first, then the webhook: the order record() takes its locks in.
    session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.webhook_id) == webhook.id, col(WebhookDelivery.status) == "pending"
        )
        .values(status="failed", last_error="the webhook was deleted", locked_until=None)
    )
    webhook.deleted_at = datetime.now(UTC)
    session.flush()


def list_deliveries(*, session: Session, webhook_id: str, limit: int) -> Sequence[Any]:
    """Newest first, with the event each one carries."""
    query = (
        select(
            WebhookDelivery,
            col(OutboxEvent.type),
            col(OutboxEvent.review_id),
            col(OutboxEvent.version),
        )
        .join(OutboxEvent, col(OutboxEvent.id) == col(WebhookDelivery.event_id))
        .where(col(WebhookDelivery.webhook_id) == webhook_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    )
    return session.execute(query).all()
