"""The loop of the service's background workers (the webhook dispatcher, the image worker):
a tick every interval, or at once when woken, until stopped."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def tick_until_stopped(
    tick: Callable[[], Awaitable[None]],
    *,
    wake: asyncio.Event,
    interval: float,
    stopping: Callable[[], bool],
    what: str,
    logger: logging.Logger,
) -> None:
    """Run ``tick``, then wait for ``wake`` or ``interval`` seconds, until ``stopping()``. A
    failed tick is logged and the next one runs: a database restart must not stop the worker."""
    while not stopping():
        # Cleared before the tick: a wake-up that arrives during it starts the next one.
        wake.clear()
        try:
            await tick()
        except Exception:
            logger.exception("%s tick failed; trying again", what)
        if stopping():
            break
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await wake.wait()
