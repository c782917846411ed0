"""The image worker: one per worker process, claiming, fetching, hashing and recording on a
timer, and at once when a commit queued images (the package docstring draws the flow)."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.core import perceptual
from app.http import metrics
from app.services import outbound
from app.services.images import queue
from app.services.images.queue import Job, Result
from app.services.ticks import tick_until_stopped

logger = logging.getLogger("claimreview.images")
MAX_IN_FLIGHT = 8  # images fetched at once per process: at most this many bodies in memory


def http_client(settings: Settings) -> httpx.AsyncClient:
    return outbound.http_client(
        timeout=settings.image_timeout_seconds, max_connections=MAX_IN_FLIGHT * 2
    )


async def fetch_and_hash(url: str, *, settings: Settings, client: httpx.AsyncClient) -> Result:
    """Fetch an image and hash it (in a thread: hashing a large picture takes a while); never
    raises for anything the server or the image does."""
    try:
        fetched = await outbound.fetch_image(url, settings=settings, client=client)
    except outbound.ImageFetchError as error:
        return Result(outcome=error.reason, error=str(error))
    try:
        hashes = await run_in_threadpool(perceptual.hash_image, fetched.body)
    except perceptual.NotAnImage as error:
        return Result(outcome="undecodable", error=f"{fetched.url} {error}")
    return Result(
        outcome="hashed",
        hashes=hashes,
        content_type=fetched.content_type,
        size_bytes=len(fetched.body),
    )


def lease_seconds(settings: Settings) -> float:
    """How long a claim holds: the fetch's deadline plus room to hash and record."""
    return settings.image_timeout_seconds + 60


class ImageWorker:
    """The per-process loop: claim, fetch and hash concurrently, record; every
    ``dispatcher_interval_seconds``, or at once when an image is done or a commit queued some."""

    def __init__(self, *, settings: Settings, sessionmaker: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self._stopping = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self._fetches: set[asyncio.Task[Result]] = set()
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client = http_client(self.settings)
        event.listen(self.sessionmaker, "after_commit", self._after_commit)
        self._loop_task = asyncio.create_task(self._run(), name="image-worker")

    async def stop(self) -> None:
        """Finish the current tick, abandon fetches in flight (their images are released and
        fetched again later), and record every result already received."""
        event.remove(self.sessionmaker, "after_commit", self._after_commit)
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        for fetch in list(self._fetches):
            fetch.cancel()
        if self._jobs:
            await asyncio.wait(self._jobs)
        if self._client is not None:
            await self._client.aclose()

    def _after_commit(self, session: Session) -> None:
        # Any thread's commit (the routes write in the thread pool): wake the loop safely.
        if queue.take_notice(session) and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        await tick_until_stopped(
            self.tick,
            wake=self._wake,
            interval=self.settings.dispatcher_interval_seconds,
            stopping=lambda: self._stopping,
            what="image worker",
            logger=logger,
        )

    async def tick(self) -> None:
        room = MAX_IN_FLIGHT - len(self._jobs)
        if room <= 0 or self._stopping:
            return
        jobs = await run_in_threadpool(self._claim, room)
        for job in jobs:
            if self._stopping:
                await self._in_session(queue.release, job=job)
                continue
            task = asyncio.create_task(self._process(job), name=f"image-{job.image_id}")
            self._jobs.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._jobs.discard(task)
        self._wake.set()

    async def _process(self, job: Job) -> None:
        assert self._client is not None
        fetch = asyncio.create_task(
            fetch_and_hash(job.url, settings=self.settings, client=self._client)
        )
        self._fetches.add(fetch)
        try:
            result = await fetch
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            # stop() cancelled the fetch alone: hand the image back for the next process.
            await self._in_session(queue.release, job=job)
            return
        finally:
            self._fetches.discard(fetch)
        metrics.observe_image_fetch(result.outcome)
        await self._in_session(queue.record, job=job, result=result, settings=self.settings)

    async def _in_session(self, work: Any, **arguments: Any) -> None:
        def run() -> None:
            with self.sessionmaker.begin() as session:
                work(session=session, **arguments)

        try:
            await run_in_threadpool(run)
        except Exception:
            logger.exception("could not record an image fetch; its lease will expire")

    def _claim(self, limit: int) -> list[Job]:
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=lease_seconds(self.settings))
        with self.sessionmaker.begin() as session:
            return queue.claim(session=session, now=now, lease=lease, limit=limit)
