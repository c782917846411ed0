"""Webhook subscriptions: who subscribes to what, and whether a destination may be called
(public addresses only, checked when subscribing and again before every attempt)."""

import asyncio
import dataclasses
import ipaddress
import secrets
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.tables import OutboxEvent, Partner, Publisher, Webhook, WebhookDelivery

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# Destinations


class UnsafeDestination(ValueError):
    """The URL cannot be used: bad scheme, no host, does not resolve, or not a public address."""


@dataclasses.dataclass(frozen=True, slots=True)
class Destination:
    host: str
    port: int


def destination(url: str) -> Destination:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise UnsafeDestination("is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise UnsafeDestination("must be an absolute http:// or https:// URL")
    default_port = 443 if parsed.scheme == "https" else 80
    return Destination(host=parsed.raw_host.decode("ascii"), port=parsed.port or default_port)


def is_refused(address: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified or otherwise not global."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def checked_address(
    target: Destination, infos: Sequence[tuple[Any, ...]], *, allow_private: bool
) -> str:
    """The address to connect to. Every address the host resolves to must be acceptable: a
    name that also points inside the network is refused as a whole."""
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeDestination(f"the host '{target.host}' does not resolve")
    if not allow_private:
        for address in addresses:
            if is_refused(address):
                raise UnsafeDestination(
                    f"the host '{target.host}' resolves to {address}, which is not a public "
                    "address (loopback, private, link-local, multicast or reserved)"
                )
    return str(addresses[0])


def resolve(url: str, *, allow_private: bool) -> str:
    """Check a URL now (blocking DNS lookup); the address it resolves to."""
    target = destination(url)
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeDestination(f"the host '{target.host}' does not resolve") from None
    return checked_address(target, infos, allow_private=allow_private)


async def resolve_async(url: str, *, allow_private: bool) -> str:
    target = destination(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeDestination(f"the host '{target.host}' does not resolve") from None
    return checked_address(target, infos, allow_private=allow_private)


# Subscriptions (SQL for the routes)


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
