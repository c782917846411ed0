"""Prometheus metrics: the metric objects, and the exposition ``GET /metrics`` serves.

Two kinds:

- Counted as things happen, per process: requests and their latency (the middleware), webhook
  delivery attempts (the dispatcher), image fetches (the image worker). With several uvicorn
  workers each process counts its own; when ``PROMETHEUS_MULTIPROC_DIR`` is set
  (prometheus-client's own variable, read by the library when this module is imported) every
  worker writes its counts to files there and a scrape of any worker sums them all. The
  directory must exist and be emptied before the workers start (``claimreview serve`` and the
  Docker image do it).
- Computed when scraped: the database pools of the process that answers, and the webhook and
  image backlogs from the database (the same whichever worker answers).

Label values are bounded: the route *template* (``/v1/claim-reviews/{review_id}``), never the
raw path; a method outside the standard set is counted as ``OTHER``.
"""

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.pool import QueuePool

from app.db.reads import PostgresReads, StoredReads

# ``*_created`` series double the exposition and tell nothing a restart does not.
disable_created_metrics()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest() writes
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
# The hot JSON-LD read takes ~0.2 ms; an import or export can take seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REQUESTS = Counter(
    "claimreview_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ("route", "method", "status"),
)
LATENCY = Histogram(
    "claimreview_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template and method.",
    ("route", "method"),
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_ATTEMPTS = Counter(
    "claimreview_webhook_attempts",
    "Webhook delivery attempts by result: delivered (2xx) or failed (anything else).",
    ("result",),
)
IMAGE_FETCHES = Counter(
    "claimreview_image_fetches",
    "Image fetches by outcome: hashed, or why not (refused, redirects, status, not_image,"
    " too_large, timeout, network, undecodable).",
    ("outcome",),
)

# One child per label combination, looked up once: ``labels()`` costs microseconds per call.
_request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

# The webhook and image backlogs in one round trip; each count reads an index (db/tables.py).
BACKLOG_SQL = (
    "SELECT"
    " (SELECT count(*) FROM outbox_event WHERE dispatched_at IS NULL),"
    " (SELECT count(*) FROM webhook_delivery WHERE status = 'pending'),"
    " (SELECT count(*) FROM webhook WHERE status = 'failing' AND deleted_at IS NULL),"
    " (SELECT count(*) FROM image WHERE status = 'pending'),"
    " (SELECT count(*) FROM image WHERE status = 'failed')"
)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    children = _request_children.get(key)
    if children is None:
        label = method if method in METHODS else "OTHER"
        children = (REQUESTS.labels(route, label, str(status)), LATENCY.labels(route, label))
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def observe_webhook_attempt(*, delivered: bool) -> None:
    WEBHOOK_ATTEMPTS.labels("delivered" if delivered else "failed").inc()


def observe_image_fetch(outcome: str) -> None:
    IMAGE_FETCHES.labels(outcome).inc()


def reset_multiprocess_dir() -> None:
    """Empty the multiprocess directory before workers start: files left by an earlier run
    would be added to this run's counts."""
    if MULTIPROCESS_DIR:
        shutil.rmtree(MULTIPROCESS_DIR, ignore_errors=True)
        Path(MULTIPROCESS_DIR).mkdir(parents=True, exist_ok=True)


class _Families:
    """A collector over metric families computed beforehand (the scrape-time gauges)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _gauge(name: str, documentation: str, values: dict[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["pool"])
    for pool, value in values.items():
        family.add_metric([pool], value)
    return family


def pool_families(*, engine: Any, reads: StoredReads) -> list[Metric]:
    """The write pool (SQLAlchemy) and, on PostgreSQL, the hot-read pool (psycopg) of this
    process."""
    size: dict[str, float] = {}
    checked_out: dict[str, float] = {}
    waiting: dict[str, float] = {}
    pool = engine.pool
    if isinstance(pool, QueuePool):
        size["write"], checked_out["write"] = pool.size(), pool.checkedout()
    if isinstance(reads, PostgresReads):
        stats = reads.pool_stats()
        size["read"] = stats["pool_max"]
        checked_out["read"] = stats["pool_size"] - stats["pool_available"]
        waiting["read"] = stats.get("requests_waiting", 0)
    return [
        _gauge(
            "claimreview_db_pool_size",
            "Connections a database pool of this process keeps (write: plus as many overflow).",
            size,
        ),
        _gauge(
            "claimreview_db_pool_checked_out",
            "Connections of a database pool of this process in use now.",
            checked_out,
        ),
        _gauge(
            "claimreview_db_pool_waiting",
            "Requests of this process waiting for a connection of the read pool.",
            waiting,
        ),
    ]


def cache_families(reads: StoredReads) -> list[Metric]:
    """How this process's cache of list pages (app/db/read_cache.py) is doing."""
    cache = reads.cache
    return [
        CounterMetricFamily(
            "claimreview_read_cache_hits",
            "Light reads of this process answered from its cache (the database unchanged).",
            value=cache.hits,
        ),
        CounterMetricFamily(
            "claimreview_read_cache_misses",
            "Light reads of this process that went to the database.",
            value=cache.misses,
        ),
        GaugeMetricFamily(
            "claimreview_read_cache_bytes",
            "Bytes of stored documents this process's read cache holds.",
            value=cache.size,
        ),
    ]


async def backlog_families(reads: StoredReads) -> list[Metric]:
    [(events, deliveries, failing, images, unfetchable)] = await reads.fetch(
        BACKLOG_SQL, [], heavy=True
    )
    return [
        GaugeMetricFamily(
            "claimreview_outbox_backlog",
            "Change events not yet fanned out to webhook deliveries.",
            value=events,
        ),
        GaugeMetricFamily(
            "claimreview_webhook_deliveries_pending",
            "Webhook deliveries waiting to be sent or retried.",
            value=deliveries,
        ),
        GaugeMetricFamily(
            "claimreview_webhooks_failing",
            "Live webhook subscriptions whose last delivery ran out of attempts.",
            value=failing,
        ),
        GaugeMetricFamily(
            "claimreview_images_pending",
            "Images named by reviews waiting to be fetched and hashed, or fetched again.",
            value=images,
        ),
        GaugeMetricFamily(
            "claimreview_images_failed",
            "Images that ran out of fetch attempts.",
            value=unfetchable,
        ),
    ]


async def exposition(*, engine: Any, reads: StoredReads) -> bytes:
    """The text exposition format (0.0.4): the counted metrics, then the scrape-time gauges."""
    if MULTIPROCESS_DIR:
        counted = CollectorRegistry()
        MultiProcessCollector(counted, MULTIPROCESS_DIR)
    else:
        counted = REGISTRY
    gauges = [
        *pool_families(engine=engine, reads=reads),
        *cache_families(reads),
        *await backlog_families(reads),
    ]
    return generate_latest(counted) + generate_latest(_Families(gauges))
