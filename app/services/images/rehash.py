"""``claimreview images rehash``: fetch and hash chosen images again in this process, without
the worker's queue (the images it picks, hashed or failed ones, are ones no worker claims)."""

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.services.images import queue
from app.services.images.queue import Job, Result
from app.services.images.worker import MAX_IN_FLIGHT, fetch_and_hash, http_client


async def rehash(
    jobs: Sequence[Job],
    *,
    settings: Settings,
    sessionmaker: sessionmaker[Session],
    done: Callable[[Result], None],
) -> Counter[str]:
    """Fetch, hash and record every job, ``MAX_IN_FLIGHT`` at a time; the outcomes counted.
    ``done`` is called after each one is recorded (a progress bar)."""
    outcomes: Counter[str] = Counter()
    waiting = iter(jobs)

    def record(job: Job, result: Result) -> None:
        with sessionmaker.begin() as session:
            queue.record(session=session, job=job, result=result, settings=settings)

    async with http_client(settings) as client:

        async def drain() -> None:
            for job in waiting:  # shared: each job is taken by one of the drains
                result = await fetch_and_hash(job.url, settings=settings, client=client)
                await asyncio.to_thread(record, job, result)
                outcomes[result.outcome] += 1
                done(result)

        await asyncio.gather(*(drain() for _ in range(MAX_IN_FLIGHT)))
    return outcomes
