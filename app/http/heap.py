"""Garbage collection for the long stretches of work: serving, and importing from the CLI.

CPython's collector runs a full pass every few hundred thousand allocations, and a full pass
scans every object alive: the ~160,000 that start-up leaves (modules, routes, models, pools)
and, during an import, the batches in flight. They live as long as the work does, so scanning
them finds nothing.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Young objects the collector lets pile up before a pass (CPython's default: 700). A request in
# flight holds a few hundred; at 700, 32 concurrent requests set off a pass every few requests.
YOUNG_THRESHOLD = 5000


@contextmanager
def settled_heap() -> Iterator[None]:
    """The objects alive now are left out of garbage collection (``gc.freeze``), and young
    passes are rarer.

    Serving, a full pass took ~100 ms of CPU on this machine, during which every request in
    flight waited, a few times a second under load (the PostgreSQL p99 of 100 ms); frozen, it
    takes ~1 ms. Importing 20,000 reviews from the CLI into PostgreSQL, the passes were a
    quarter of the CPU (1,650 reviews/s before, 2,250 after); forked import workers inherit
    the setting. No collection first: start-up leaves ~200 unreachable objects, not worth a
    100 ms pass per app started (tests start hundreds). Restored on exit, so that an app
    stopped in a longer-lived process (tests) leaves nothing frozen behind."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
