"""The image queue's SQL: claiming due images, recording what a fetch found, choosing images to
hash again; and the note a writing session leaves so that its commit wakes the worker."""

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from app.config import Settings
from app.core import perceptual
from app.core.document import utc
from app.db.tables import Image
from app.services.outbound import backoff

_QUEUED = "claimreview.images_queued"
_ERROR_CHARS = 1000  # image.last_error


def notify_on_commit(session: Session) -> None:
    """Note that this transaction queued images: its commit wakes the image worker."""
    session.info[_QUEUED] = True


def take_notice(session: Session) -> bool:
    """Whether the transaction just committed queued images (and forget it)."""
    return bool(session.info.pop(_QUEUED, False))


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """One image to fetch. ``lease``: until when the worker holds it; ``None`` for a rehash,
    which takes images no worker claims (hashed or failed ones)."""

    image_id: int
    url: str
    lease: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """What fetching and hashing an image found: its hashes, or an error and its kind."""

    outcome: str  # "hashed", or an ImageFetchError reason, or "undecodable"
    hashes: perceptual.Hashes | None = None
    content_type: str | None = None
    size_bytes: int | None = None
    error: str | None = None


def claim(*, session: Session, now: datetime, lease: datetime, limit: int) -> list[Job]:
    """Lock up to ``limit`` due images until ``lease``, the longest waiting first."""
    claimable = and_(
        col(Image.status) == "pending",
        col(Image.next_attempt_at) <= now,
        or_(col(Image.locked_until).is_(None), col(Image.locked_until) < now),
    )
    # PostgreSQL: rows another worker is claiming are skipped; SQLite ignores the clause and
    # runs this statement under its one write lock.
    locked = (
        select(col(Image.id))
        .where(claimable)
        .order_by(col(Image.next_attempt_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(Image)
        .where(col(Image.id).in_(locked))
        .values(locked_until=lease)
        .returning(col(Image.id), col(Image.url))
        .execution_options(synchronize_session=False)
    ).all()
    return [Job(image_id=row.id, url=row.url, lease=lease) for row in claimed]


def _owned(session: Session, job: Job) -> Image | None:
    """The image, locked, if this job still holds it (else another worker took over)."""
    image = session.get(Image, job.image_id, with_for_update=True)
    if image is None or job.lease is None:
        return image
    if image.status != "pending" or image.locked_until is None:
        return None
    return image if utc(image.locked_until) == job.lease else None


def record(*, session: Session, job: Job, result: Result, settings: Settings) -> None:
    """Store a fetch's result. A failed rehash keeps the image as it was (its hashes stay
    searchable) and only says what went wrong."""
    image = _owned(session, job)
    if image is None:
        return
    now = datetime.now(UTC)
    image.attempts += 1
    image.locked_until = None
    if result.hashes is not None:
        hashes = result.hashes
        image.status = "hashed"
        image.last_error = None
        image.phash, image.dhash = hashes.phash, hashes.dhash
        image.band0, image.band1, image.band2, image.band3 = hashes.bands
        image.hash_version = perceptual.HASH_VERSION
        image.width, image.height = hashes.width, hashes.height
        image.content_type = result.content_type
        image.size_bytes = result.size_bytes
        image.fetched_at = now
    else:
        image.last_error = (result.error or result.outcome).replace("\x00", "\ufffd")[:_ERROR_CHARS]
        if job.lease is not None and image.attempts >= settings.image_max_attempts:
            image.status = "failed"
        elif job.lease is not None:
            image.next_attempt_at = now + backoff(
                attempts=image.attempts, base_seconds=settings.image_backoff_seconds
            )
    session.flush()


def release(*, session: Session, job: Job) -> None:
    """Give a claimed image back unfetched (shutdown): it is due again at once."""
    image = _owned(session, job)
    if image is not None and job.lease is not None:
        image.locked_until = None
        session.flush()


def rehash_candidates(*, session: Session, every: bool, failed: bool) -> Sequence[Job]:
    """Images to fetch and hash again: hashed ones made by another algorithm (``every``: all
    hashed ones), and with ``failed`` the ones that ran out of attempts."""
    hashed = col(Image.status) == "hashed"
    if not every:
        hashed = and_(
            hashed,
            func.coalesce(col(Image.hash_version), "") != perceptual.HASH_VERSION,
        )
    wanted = or_(hashed, col(Image.status) == "failed") if failed else hashed
    rows = session.execute(
        select(col(Image.id), col(Image.url)).where(wanted).order_by(col(Image.id))
    ).all()
    return [Job(image_id=row.id, url=row.url, lease=None) for row in rows]
