"""The steps of a delivery: fan-out from the outbox, claiming due deliveries, the signed POST and
recording its outcome (the package docstring draws the whole flow)."""

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from sqlalchemy import Row, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from app.config import Settings
from app.core.document import format_timestamp, utc
from app.db.tables import (
    ClaimReview,
    OutboxEvent,
    Publisher,
    ReviewRevision,
    Webhook,
    WebhookDelivery,
)
from app.services.outbound import UnsafeDestination, backoff, pinned_request, resolve_async

logger = logging.getLogger("claimreview.webhooks")
FAN_OUT_BATCH = 200
USER_AGENT = "ClaimReview-Webhooks/1.0"
_ERROR_CHARS = 1000  # webhook_delivery.last_error
_EXCERPT_CHARS = 2000  # webhook_delivery.last_response


# Payload and signature


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``."""
    signed = f"{timestamp}.".encode() + body
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def payload(
    *,
    event_id: int,
    event_type: str,
    created_at: datetime,
    review_id: str,
    version: int,
    jsonld: bytes | None,
    base_url: str,
) -> bytes:
    """The delivery body: the same bytes on every attempt (built from the immutable revision)."""
    data: Any
    if event_type == "review.retracted" or jsonld is None:
        url = orjson.loads(jsonld).get("url") if jsonld else None
        tombstone = {"@id": f"{base_url}/v1/claim-reviews/{review_id}", "url": url}
        data = {key: value for key, value in tombstone.items() if value is not None}
    else:
        data = orjson.Fragment(jsonld)  # the stored JSON-LD bytes, as they are
    return orjson.dumps(
        {
            "id": str(event_id),
            "type": event_type,
            "created_at": format_timestamp(created_at),
            "review_id": review_id,
            "version": version,
            "data": data,
        }
    )


# Dispatching (SQL for the dispatcher)


def matches(
    webhook: Row[Any],
    *,
    event_type: str,
    publisher: str,
    language: str | None,
    verdict: str | None,
    kind: str | None,
) -> bool:
    if event_type not in webhook.events:
        return False
    wanted: dict[str, str] = webhook.filters or {}
    if "publisher" in wanted and wanted["publisher"] != publisher:
        return False
    if "language" in wanted:
        tag = wanted["language"]
        if language is None or not (language == tag or language.startswith(tag + "-")):
            return False
    if "kind" in wanted and wanted["kind"] != kind:
        return False
    return "verdict" not in wanted or wanted["verdict"] == verdict


def fan_out(*, session: Session, now: datetime, limit: int = FAN_OUT_BATCH) -> int:
    """Turn the oldest undispatched events into deliveries; the number of events taken."""
    events = session.execute(
        select(
            col(OutboxEvent.id),
            col(OutboxEvent.type),
            col(OutboxEvent.created_at),
            col(Publisher.slug),
            col(ClaimReview.language),
            col(ClaimReview.verdict),
            col(ClaimReview.kind),
        )
        .join(Publisher, col(Publisher.id) == col(OutboxEvent.publisher_id))
        .outerjoin(ClaimReview, col(ClaimReview.id) == col(OutboxEvent.review_id))
        .where(col(OutboxEvent.dispatched_at).is_(None))
        .order_by(col(OutboxEvent.id))
        .limit(limit)
        # Another worker's batch is skipped, not waited for: each event is fanned out once.
        .with_for_update(skip_locked=True, of=OutboxEvent)
    ).all()
    if not events:
        return 0
    subscriptions = session.execute(
        select(
            col(Webhook.id), col(Webhook.events), col(Webhook.filters), col(Webhook.created_at)
        ).where(col(Webhook.deleted_at).is_(None))
    ).all()
    rows = [
        {
            "webhook_id": webhook.id,
            "event_id": event.id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for webhook in subscriptions
        if utc(event.created_at) >= utc(webhook.created_at)
        and matches(
            webhook,
            event_type=event.type,
            publisher=event.slug,
            language=event.language,
            verdict=event.verdict,
            kind=event.kind,
        )
    ]
    if rows:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        insert = dialect.insert(WebhookDelivery).on_conflict_do_nothing(
            index_elements=["webhook_id", "event_id"]
        )
        session.execute(insert, rows)
    session.execute(
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_([event.id for event in events]))
        .values(dispatched_at=now)
    )
    return len(events)


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery, with everything needed to send it."""

    delivery_id: int
    webhook_id: str
    url: str
    secret: str
    event_id: int
    event_type: str
    body: bytes
    lease: datetime


def claim(
    *,
    session: Session,
    now: datetime,
    lease: datetime,
    busy: set[str],
    limit: int,
    base_url: str,
) -> list[Job]:
    """Lock due deliveries until ``lease``: the oldest due one of each subscription not in
    ``busy`` (those this process is still sending to), so a subscription's events go out one
    after another."""
    claimable = and_(
        col(WebhookDelivery.status) == "pending",
        col(WebhookDelivery.next_attempt_at) <= now,
        or_(col(WebhookDelivery.locked_until).is_(None), col(WebhookDelivery.locked_until) < now),
    )
    heads = (
        select(func.min(col(WebhookDelivery.id)))
        .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
        .where(claimable, col(Webhook.deleted_at).is_(None))
        .group_by(col(WebhookDelivery.webhook_id))
        .limit(limit)
    )
    if busy:
        heads = heads.where(col(WebhookDelivery.webhook_id).not_in(busy))
    # PostgreSQL: rows another worker is claiming are skipped; SQLite ignores the clause and
    # runs this statement under its one write lock.
    locked = (
        select(col(WebhookDelivery.id))
        .where(col(WebhookDelivery.id).in_(heads), claimable)
        .with_for_update(skip_locked=True)
    )
    claimed = session.scalars(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_(locked))
        .values(locked_until=lease)
        .returning(col(WebhookDelivery.id))
    ).all()
    if not claimed:
        return []
    # A tombstone carries the URL partners last saw, that of the revision before it: a review
    # taken back to draft must not announce the draft's new URL.
    retracted = col(OutboxEvent.type) == "review.retracted"
    shown_version = case((retracted, col(OutboxEvent.version) - 1), else_=col(OutboxEvent.version))
    rows: Sequence[Any] = session.execute(
        select(
            col(WebhookDelivery.id),
            col(Webhook.id).label("webhook_id"),
            col(Webhook.url),
            col(Webhook.secret),
            col(OutboxEvent.id).label("event_id"),
            col(OutboxEvent.type),
            col(OutboxEvent.created_at),
            col(OutboxEvent.review_id),
            col(OutboxEvent.version),
            col(ReviewRevision.jsonld),
        )
        .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
        .join(OutboxEvent, col(OutboxEvent.id) == col(WebhookDelivery.event_id))
        .outerjoin(
            ReviewRevision,
            and_(
                col(ReviewRevision.review_id) == col(OutboxEvent.review_id),
                col(ReviewRevision.version) == shown_version,
            ),
        )
        .where(col(WebhookDelivery.id).in_(claimed))
        .order_by(col(WebhookDelivery.id))
    ).all()
    return [
        Job(
            delivery_id=row.id,
            webhook_id=row.webhook_id,
            url=row.url,
            secret=row.secret,
            event_id=row.event_id,
            event_type=row.type,
            body=payload(
                event_id=row.event_id,
                event_type=row.type,
                created_at=row.created_at,
                review_id=row.review_id,
                version=row.version,
                jsonld=row.jsonld,
                base_url=base_url,
            ),
            lease=lease,
        )
        for row in rows
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _owned(session: Session, job: Job) -> WebhookDelivery | None:
    """The delivery, locked, if this job's lease still holds it (else another worker took over)."""
    delivery = session.get(WebhookDelivery, job.delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending" or delivery.locked_until is None:
        return None
    return delivery if utc(delivery.locked_until) == job.lease else None


def record(*, session: Session, job: Job, outcome: Outcome, settings: Settings) -> None:
    delivery = _owned(session, job)
    if delivery is None:
        return
    now = datetime.now(UTC)
    delivery.attempts += 1
    delivery.last_status_code = outcome.status_code
    delivery.last_error = _clean(outcome.error, _ERROR_CHARS)
    delivery.last_response = _clean(outcome.excerpt, _EXCERPT_CHARS)
    delivery.locked_until = None
    webhook = session.get(Webhook, job.webhook_id)
    if outcome.delivered:
        delivery.status = "delivered"
        delivery.delivered_at = now
        if webhook is not None and webhook.status != "active":
            webhook.status = "active"
    elif delivery.attempts >= settings.webhook_max_attempts:
        delivery.status = "failed"
        if webhook is not None:
            webhook.status = "failing"
    else:
        delivery.next_attempt_at = now + backoff(
            attempts=delivery.attempts, base_seconds=settings.webhook_backoff_seconds
        )
    session.flush()


def release(*, session: Session, job: Job) -> None:
    """Give a claimed delivery back unattempted (shutdown): it is due again at once."""
    delivery = _owned(session, job)
    if delivery is not None:
        delivery.locked_until = None
        session.flush()


def _clean(text: str | None, limit: int) -> str | None:
    # PostgreSQL text cannot hold NUL; receivers may answer anything.
    return None if text is None else text.replace("\x00", "\ufffd")[:limit]


# Sending


async def send(*, client: httpx.AsyncClient, job: Job, settings: Settings) -> Outcome:
    """POST one delivery; never raises for anything the receiver or the network does."""
    try:
        address = await resolve_async(job.url, allow_private=settings.outbound_allow_private)
    except UnsafeDestination as error:
        return Outcome(error=f"refused: {error}")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Accept-Encoding": "identity",
        "X-ClaimReview-Event": job.event_type,
        "X-ClaimReview-Delivery": str(job.event_id),
        "X-ClaimReview-Signature": sign(
            secret=job.secret, body=job.body, timestamp=int(time.time())
        ),
    }
    request = pinned_request(
        client, "POST", job.url, address=address, headers=headers, content=job.body
    )
    try:
        async with asyncio.timeout(attempt_deadline(settings)):
            response = await client.send(request, stream=True)
            try:
                excerpt = await _read_capped(response, settings.webhook_max_response_bytes)
            finally:
                await response.aclose()
    except TimeoutError:
        return Outcome(error=f"no answer within {attempt_deadline(settings):g} s")
    except httpx.HTTPError as error:
        return Outcome(error=f"{type(error).__name__}: {error}".rstrip(": "))
    except Exception as error:
        logger.exception("webhook delivery %s failed unexpectedly", job.delivery_id)
        return Outcome(error=f"internal error: {type(error).__name__}")
    return Outcome(status_code=response.status_code, excerpt=excerpt)


async def _read_capped(response: httpx.Response, limit: int) -> str:
    """At most ``limit`` bytes of the body (raw: identity was asked for, nothing is inflated)."""
    kept = bytearray()
    if limit > 0:
        async for chunk in response.aiter_raw():
            kept += chunk[: limit - len(kept)]
            if len(kept) >= limit:
                break
    return kept.decode("utf-8", errors="replace")


def attempt_deadline(settings: Settings) -> float:
    """Connect and read each time out on their own; this bounds a receiver that trickles."""
    return 2 * settings.webhook_timeout_seconds


def lease_seconds(settings: Settings) -> float:
    """How long a claim holds: the attempt's deadline plus room to record its outcome."""
    return attempt_deadline(settings) + max(settings.webhook_timeout_seconds, 1.0)
