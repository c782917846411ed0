"""Keeping the facet totals: moving the +1/-1 rows that triggers append to ``facet_delta``
into ``review_count`` and ``claimant_count`` (see ``tables.FacetDelta`` for why writers append
rather than count).

Readers add the rows not folded yet to the totals (``query.count_facet``), so counts are exact
whenever they are read; folding only keeps the part they add up small. Every server process
folds every ``facet_fold_interval_seconds``; on PostgreSQL an advisory lock lets one process
fold at a time (two folds upserting the same totals in different orders could deadlock).
"""

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from sqlalchemy import delete, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from app.db.tables import ClaimantCount, FacetDelta, ReviewCount

logger = logging.getLogger(__name__)

# Rows moved per transaction: bounds the memory and the lock time of one fold after a bulk load.
FOLD_BATCH = 50_000
FOLD_LOCK = 0x636C61696D  # "claim": any constant shared by every process folding this database


def fold(session: Session, *, limit: int = FOLD_BATCH) -> int:
    """Move up to ``limit`` delta rows into the totals, in the caller's transaction; answer how
    many moved (fewer than ``limit``: nothing is left)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if (
        postgres
        and not session.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FOLD_LOCK}
        ).scalar_one()
    ):
        return 0
    oldest = select(col(FacetDelta.id)).order_by(col(FacetDelta.id)).limit(limit)
    moved = session.execute(
        delete(FacetDelta)
        .where(col(FacetDelta.id).in_(oldest.scalar_subquery()))
        .returning(
            col(FacetDelta.status),
            col(FacetDelta.publisher_id),
            col(FacetDelta.language),
            col(FacetDelta.verdict),
            col(FacetDelta.claimant_key),
            col(FacetDelta.n),
        )
    ).all()
    reviews: Counter[tuple[Any, ...]] = Counter()
    claimants: Counter[tuple[Any, ...]] = Counter()
    for status, publisher_id, language, verdict, claimant_key, n in moved:
        reviews[status, publisher_id, language, verdict] += n
        if claimant_key:
            claimants[status, claimant_key, publisher_id, language, verdict] += n
    insert = postgresql.insert if postgres else sqlite.insert
    totals: list[tuple[type[ReviewCount | ClaimantCount], Counter[tuple[Any, ...]]]] = [
        (ReviewCount, reviews),
        (ClaimantCount, claimants),
    ]
    for table, counts in totals:
        # The counters above are keyed in the order of each table's primary key.
        keys = [column.name for column in inspect(table).primary_key]
        rows = [dict(zip(keys, key, strict=True), n=n) for key, n in counts.items() if n]
        if rows:
            upsert = insert(table)
            upsert = upsert.on_conflict_do_update(
                index_elements=keys, set_={"n": table.n + upsert.excluded.n}
            )
            session.execute(upsert, rows)
    return len(moved)


def fold_all(sessions: sessionmaker[Session]) -> None:
    """Fold until nothing is left, one transaction per ``FOLD_BATCH`` rows."""
    while True:
        with sessions.begin() as session:
            if fold(session) < FOLD_BATCH:
                return


class Folding:
    """The per-process loop folding the deltas every ``interval`` until shutdown (the first
    fold one interval after start-up: until then readers add the deltas up themselves)."""

    def __init__(self, sessions: sessionmaker[Session], *, interval: float) -> None:
        self.sessions = sessions
        self.interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="facet-folding")

    async def stop(self) -> None:
        """Let a fold in progress finish (its thread cannot be interrupted), then end."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not await self._stopped_within(self.interval):
            try:
                await run_in_threadpool(fold_all, self.sessions)
            except Exception:
                logger.exception("folding the facet counts failed; trying again")

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        return self._stopping.is_set()
