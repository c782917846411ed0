"""Signed webhooks: subscriptions, the outbox dispatcher and delivery.

    review write ──(same transaction, reviews._commit_change)──> outbox_event
    dispatcher tick, one per worker process:
      1. fan-out  outbox_event rows with dispatched_at NULL, in id order ──> one webhook_delivery
                  per matching subscription; dispatched_at set; one transaction
      2. claim    due deliveries, at most one per subscription: locked_until = now + lease;
                  committed before anything is sent
      3. deliver  POST the signed JSON, outside any transaction
      4. record   delivered; or attempts + 1 and a retry after backoff with jitter; or failed
                  after ``webhook_max_attempts``, and the subscription is marked failing

Guarantees.
- Nothing is lost: an event is in the outbox from the moment its change commits, and a
  delivery is marked only after its POST returned. A process that dies between claim and
  record leaves the delivery locked until its lease runs out; any dispatcher then sends it
  again with the same event id. Delivery is therefore *at least once*: receivers deduplicate
  on ``X-ClaimReview-Delivery`` (the outbox event id, also the payload's ``id``).
- Once per subscription: on PostgreSQL several workers and hosts fan out and claim with
  ``FOR UPDATE SKIP LOCKED``; on SQLite every transaction starts with ``BEGIN IMMEDIATE``
  (db.py), so dispatchers take turns. The unique (webhook_id, event_id) constraint is the
  backstop. Only an expired lease (a crash, or a POST that outlived it) sends an event twice.
- Order is best effort: a subscription has at most one delivery in flight per process and
  deliveries go out in event order, but a retry does not hold back later events, and workers
  run side by side. Receivers order by ``version`` (it increases with every change of a review).
- Published reviews only, whoever owns the subscription (a publisher, a partner or the
  platform): an event is written only when a review is published, changed while published or
  taken down (reviews._event_type), and carries the published version's JSON-LD, or for a
  take-down a tombstone with the URL last published. A draft never produces a delivery.
- Filters read the review's publisher, language and verdict when the event is fanned out.
- A subscription receives the events of changes made after it was created.

Safety: only http(s) URLs whose host resolves to public addresses (unless
``webhook_allow_private``), checked when the subscription is created and again before every
attempt; the connection then goes to the address that was checked (no second DNS lookup that
could answer differently), with TLS still verified against the host name. Redirects are not
followed, connect and read time out, the whole attempt has a deadline, and at most
``webhook_max_response_bytes`` of the answer are read.
"""

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import ipaddress
import logging
import random
import secrets
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import Row, Select, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from app import metrics
from app.config import Settings
from app.models import (
    ClaimReview,
    OutboxEvent,
    Partner,
    Publisher,
    ReviewRevision,
    Webhook,
    WebhookDelivery,
)
from app.native import format_timestamp, utc

FAN_OUT_BATCH = 200
MAX_IN_FLIGHT = 16
MAX_BACKOFF = timedelta(hours=24)
USER_AGENT = "ClaimReview-Webhooks/1.0"
_ERROR_CHARS = 1000  # webhook_delivery.last_error
_EXCERPT_CHARS = 2000  # webhook_delivery.last_response

logger = logging.getLogger("claimreview.webhooks")

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


# Dispatching (SQL for the dispatcher)


def matches(
    webhook: Row[Any], *, event_type: str, publisher: str, language: str | None, verdict: str | None
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


def backoff(*, attempts: int, base_seconds: float) -> timedelta:
    """``base * 2**(attempts - 1)``, ±25 % jitter so failing receivers are not hit in step."""
    delay = timedelta(seconds=base_seconds * 2 ** (attempts - 1) * random.uniform(0.75, 1.25))
    return min(delay, MAX_BACKOFF)


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
        address = await resolve_async(job.url, allow_private=settings.webhook_allow_private)
    except UnsafeDestination as error:
        return Outcome(error=f"refused: {error}")
    url = httpx.URL(job.url)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Accept-Encoding": "identity",
        # Connect to the address just checked, but speak to (and verify TLS for) the host.
        "Host": url.netloc.decode("ascii"),
        "X-ClaimReview-Event": job.event_type,
        "X-ClaimReview-Delivery": str(job.event_id),
        "X-ClaimReview-Signature": sign(
            secret=job.secret, body=job.body, timestamp=int(time.time())
        ),
    }
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    request = client.build_request(
        "POST", url.copy_with(host=address), content=job.body, headers=headers
    )
    request.extensions.update(extensions)
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


def http_client(settings: Settings) -> httpx.AsyncClient:
    # No keep-alive: connections are made to checked addresses, and one must never be reused
    # for another host name (TLS and Host would not match). No proxies from the environment.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0, max_connections=MAX_IN_FLIGHT * 2),
    )


class Dispatcher:
    """The per-process loop: fan out, claim, send concurrently, record; every
    ``dispatcher_interval_seconds``, or at once when a delivery finishes."""

    def __init__(self, *, settings: Settings, sessionmaker: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self._stopping = False
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._deliveries: dict[str, asyncio.Task[None]] = {}  # by webhook id
        self._posts: set[asyncio.Task[Outcome]] = set()
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._client = http_client(self.settings)
        self._loop_task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Finish the current tick, abandon POSTs in flight (their deliveries are released and
        sent again later), and record every outcome already received."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await _settle([self._loop_task])
        for post in list(self._posts):
            post.cancel()
        await _settle(list(self._deliveries.values()))
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while not self._stopping:
            # Cleared before the tick: a wake-up that arrives during it starts the next one.
            self._wake.clear()
            try:
                await self.tick()
            except Exception:
                logger.exception("webhook dispatcher tick failed; trying again")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.dispatcher_interval_seconds):
                    await self._wake.wait()

    async def tick(self) -> None:
        while await run_in_threadpool(self._fan_out) == FAN_OUT_BATCH and not self._stopping:
            pass
        room = MAX_IN_FLIGHT - len(self._deliveries)
        if room <= 0 or self._stopping:
            return
        jobs = await run_in_threadpool(self._claim, set(self._deliveries), room)
        if self._stopping:
            for job in jobs:
                await self._in_session(release, job=job)
            return
        for job in jobs:
            task = asyncio.create_task(self._deliver(job), name=f"webhook-{job.delivery_id}")
            self._deliveries[job.webhook_id] = task
            task.add_done_callback(functools.partial(self._finished, job.webhook_id))

    def _finished(self, webhook_id: str, _task: asyncio.Task[None]) -> None:
        self._deliveries.pop(webhook_id, None)
        self._wake.set()

    async def _deliver(self, job: Job) -> None:
        assert self._client is not None
        post = asyncio.create_task(send(client=self._client, job=job, settings=self.settings))
        self._posts.add(post)
        try:
            outcome = await post
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            # stop() cancelled the POST alone: hand the delivery back for the next process.
            await self._in_session(release, job=job)
            return
        finally:
            self._posts.discard(post)
        metrics.observe_webhook_attempt(delivered=outcome.delivered)
        await self._in_session(record, job=job, outcome=outcome, settings=self.settings)

    async def _in_session(self, work: Any, **arguments: Any) -> None:
        def run() -> None:
            with self.sessionmaker.begin() as session:
                work(session=session, **arguments)

        try:
            await run_in_threadpool(run)
        except Exception:
            logger.exception("could not record webhook delivery; its lease will expire")

    def _fan_out(self) -> int:
        with self.sessionmaker.begin() as session:
            return fan_out(session=session, now=datetime.now(UTC))

    def _claim(self, busy: set[str], limit: int) -> list[Job]:
        now = datetime.now(UTC)
        with self.sessionmaker.begin() as session:
            return claim(
                session=session,
                now=now,
                lease=now + timedelta(seconds=lease_seconds(self.settings)),
                busy=busy,
                limit=limit,
                base_url=self.settings.public_base_url,
            )


async def _settle(tasks: list[asyncio.Task[None]], timeout: float = 30) -> None:
    """Wait for tasks to finish; cancel any still running after ``timeout``."""
    if not tasks:
        return
    _done, stuck = await asyncio.wait(tasks, timeout=timeout)
    for task in stuck:
        task.cancel()
    if stuck:
        await asyncio.wait(stuck)
