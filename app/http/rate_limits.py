"""Per-client and per-credential rate limits, checked in front of every route (by
``app/http/middleware.py``).

Each request draws on buckets, and is let through only if all of them have room:

- ``ip``: every request, by client address (an IPv6 client by its /64, which one host gets to
  itself). The address is the socket's peer, or the ``X-Forwarded-For`` client when the peer is
  a trusted proxy (``CLAIMREVIEW_TRUSTED_PROXIES``, applied before this middleware).
- ``key``: every request that presents a credential (``Authorization``, or the ``key=`` parameter
  of the ``/v1alpha1`` Google-compatible API), by the SHA-256 of the whole credential. Never by
  the key id inside it: the id is not secret, so a bucket keyed on it would let anyone who has
  seen it exhaust its owner's budget with made-up secrets. Made-up credentials only get an
  attacker fresh ``key`` buckets; the ``ip`` bucket still binds them.

The algorithm is GCRA (a token bucket kept as one timestamp per bucket, the "theoretical
arrival time"): ``burst`` requests at once, then one per ``1 / per_second`` seconds. A refused
request is counted in no bucket, so a client that waits for ``Retry-After`` always gets in.

Buckets live in this process (``MemoryStore``) or, with ``CLAIMREVIEW_REDIS_URL``, in Redis
(``RedisStore``: one Lua script per request, on Redis's clock), shared by every worker and host.
When Redis cannot be reached the process falls back to its own buckets rather than refusing
or waving through all traffic, logs a warning, and tries Redis again after a few seconds.

It runs on every request of the hot read path: the in-process check costs a few microseconds
(bench/README.md: rate limiting ≈ 6 µs of a hot read's middleware).
"""

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from starlette.responses import Response
from starlette.types import Scope

from app.config import Settings
from app.errors import TooManyRequests, problem_response

logger = logging.getLogger("claimreview.rate_limits")
# How long a process keeps to its own buckets after Redis failed, before trying Redis again.
REDIS_RETRY_SECONDS = 5.0
# A Redis slower than this is treated as down, so that the limiter cannot stall the service;
# generous, as one slow answer on a busy host would otherwise switch a process to its own buckets.
REDIS_TIMEOUT_SECONDS = 1.0
# How often the in-process store forgets buckets that have refilled (they equal absent ones).
SWEEP_SECONDS = 60.0
GOOGLE_PREFIX = "/v1alpha1"


@dataclass(frozen=True, slots=True)
class Rate:
    """One policy: ``name`` labels its buckets and its ``RateLimit`` headers."""

    name: str
    per_second: float
    burst: int
    interval: float = field(init=False)  # seconds between requests, once the burst is spent
    window: float = field(init=False)  # seconds an empty bucket takes to refill completely

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval", 1.0 / self.per_second)
        object.__setattr__(self, "window", self.burst / self.per_second)


# A bucket: its key (``ip:...`` or ``key:...``) and the rate it is held to.
Bucket = tuple[str, Rate]


@dataclass(frozen=True, slots=True)
class Refusal:
    rate: Rate
    retry_after: float


class Store(Protocol):
    async def acquire(self, buckets: Sequence[Bucket]) -> Refusal | None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """Buckets in a dict of theoretical arrival times (monotonic seconds)."""

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    async def acquire(self, buckets: Sequence[Bucket]) -> Refusal | None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
        tats = self._tats
        arrivals = []
        for key, rate in buckets:
            arrival = max(tats.get(key, now), now) + rate.interval
            wait = arrival - rate.window - now
            if wait > 0:
                return Refusal(rate, wait)
            arrivals.append(arrival)
        for (key, _), arrival in zip(buckets, arrivals, strict=True):
            tats[key] = arrival
        return None

    async def close(self) -> None:
        self._tats.clear()

    def _sweep(self, now: float) -> None:
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        self._next_sweep = now + SWEEP_SECONDS


# KEYS: one per bucket; ARGV: interval and window of each. Returns {index of the refusing
# bucket or 0, seconds to wait}; both as strings, as Redis would truncate a Lua float reply.
GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local arrivals = {}
for i = 1, #KEYS do
  local interval, window = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local arrival = tat + interval
  local wait = arrival - window - now
  if wait > 0 then return {tostring(i), tostring(wait)} end
  arrivals[i] = arrival
end
for i = 1, #KEYS do
  local ttl = math.ceil((arrivals[i] - now) * 1000)
  redis.call('SET', KEYS[i], string.format('%.6f', arrivals[i]), 'PX', ttl)
end
return {'0', '0'}
"""


class RedisStore:
    """Buckets in Redis, shared by every process that uses the same URL and prefix."""

    def __init__(self, url: str, *, prefix: str) -> None:
        self._redis = Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self._redis.register_script(GCRA_SCRIPT)
        self._prefix = prefix
        self._fallback = MemoryStore()
        self._retry_at = 0.0
        self._down = False

    async def acquire(self, buckets: Sequence[Bucket]) -> Refusal | None:
        if self._down and time.monotonic() < self._retry_at:
            return await self._fallback.acquire(buckets)
        args: list[float] = []
        for _, rate in buckets:
            args += (rate.interval, rate.window)
        try:
            index, wait = await self._script(
                keys=[self._prefix + key for key, _ in buckets], args=args
            )
        except (RedisError, OSError) as error:
            if not self._down:
                logger.warning(
                    "Redis unreachable (%s): rate limits are per process until it is back", error
                )
            self._down, self._retry_at = True, time.monotonic() + REDIS_RETRY_SECONDS
            return await self._fallback.acquire(buckets)
        if self._down:
            logger.warning("Redis is back: rate limits are shared again")
            self._down = False
        refused = int(index)
        return Refusal(buckets[refused - 1][1], float(wait)) if refused else None

    async def close(self) -> None:
        await self._redis.aclose()


def make_store(settings: Settings) -> Store:
    if settings.redis_url:
        return RedisStore(settings.redis_url, prefix=settings.redis_prefix)
    return MemoryStore()


class Limiter:
    """The two policies over one store: what ``app/http/middleware.py`` asks for each request."""

    def __init__(self, store: Store, *, ip: Rate, key: Rate) -> None:
        self.store = store
        self.ip = ip
        self.key = key

    async def acquire(self, address: str, credential: bytes | None) -> Refusal | None:
        """Draw on the client's bucket and, with a credential, on the credential's."""
        buckets: list[Bucket] = [("ip:" + address, self.ip)]
        if credential:
            buckets.append(("key:" + hashlib.sha256(credential).hexdigest(), self.key))
        return await self.store.acquire(buckets)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    if not client:
        return "-"
    host: str = client[0]
    if ":" in host:  # IPv6: a host usually owns a whole /64
        try:
            return str(ipaddress.IPv6Network(f"{host}/64", strict=False).network_address)
        except ValueError:
            return host
    return host


def query_credential(scope: Scope) -> bytes | None:
    """The ``key=`` of the Google-compatible API, as the ``Authorization`` it stands for."""
    if scope["path"].startswith(GOOGLE_PREFIX) and b"key=" in scope["query_string"]:
        for name, value in parse_qsl(scope["query_string"].decode("latin-1")):
            if name == "key" and value:
                return b"Bearer " + value.encode()
    return None


def refusal_response(refusal: Refusal) -> Response:
    rate = refusal.rate
    seconds = max(1, math.ceil(refusal.retry_after))
    error = TooManyRequests(
        f"Too many requests: the {rate.name} limit is {rate.per_second:g} per second "
        f"with bursts of {rate.burst}. Retry after {seconds} s.",
        headers={
            "Retry-After": str(seconds),
            "RateLimit-Policy": f'"{rate.name}";q={rate.burst};w={math.ceil(rate.window)}',
            "RateLimit": f'"{rate.name}";r=0;t={seconds}',
        },
    )
    return problem_response(error)
