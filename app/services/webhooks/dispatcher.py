"""The dispatcher: one per worker process, running fan-out, claim, send and record on a timer."""

import asyncio
import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.http import metrics
from app.services import outbound
from app.services.ticks import tick_until_stopped
from app.services.webhooks.delivery import (
    FAN_OUT_BATCH,
    Job,
    Outcome,
    claim,
    fan_out,
    lease_seconds,
    record,
    release,
    send,
)

logger = logging.getLogger("claimreview.webhooks")
MAX_IN_FLIGHT = 16


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
        self._client = outbound.http_client(
            timeout=self.settings.webhook_timeout_seconds, max_connections=MAX_IN_FLIGHT * 2
        )
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
        await tick_until_stopped(
            self.tick,
            wake=self._wake,
            interval=self.settings.dispatcher_interval_seconds,
            stopping=lambda: self._stopping,
            what="webhook dispatcher",
            logger=logger,
        )

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
