"""The one pure-ASGI middleware every request passes: everything the routes never see, in one pass.

In order, for each HTTP request:

1. **Proxy headers.** ``X-Forwarded-For`` / ``X-Forwarded-Proto`` from a trusted peer
   (``CLAIMREVIEW_TRUSTED_PROXIES``) replace the client address and scheme, by uvicorn's own
   rules (its ``ProxyHeadersMiddleware`` is run on the scope, only when such a header came).
2. **Request id.** ``X-Request-ID`` as sent (printable, at most 64 characters) or a new one;
   echoed on the response and set for the log lines of the request (``logs.request_id``).
3. **Concurrency.** Past ``CLAIMREVIEW_MAX_CONCURRENCY`` requests in flight in this process,
   503 problem+json with ``Retry-After`` (uvicorn's own cap answers plain text, and counts idle
   kept-alive connections as if they were requests).
4. **Body size.** A ``Content-Length`` over the cap gets 413 before the app runs; a body streamed
   without one raises ``PayloadTooLarge`` (rendered as problem+json) once it passes the cap.
5. **Rate limits** (``rate_limits``): 429 with ``Retry-After`` when a bucket is empty.
6. **Query and body-time limits** (``request_limits``): 414 / 400 for an oversized query; a body
   not received within the deadline raises ``RequestTimeout`` (408).
7. **Security headers** (``security_headers``) on every response the app or this middleware
   sends, unless the response set its own.
8. **Metrics and the access line**, once the response is sent (or the app failed).

Why one class: on the hot read path each pure-ASGI layer costs a coroutine, a ``send`` closure
and a scan of the request headers, and the five layers this replaces cost about a quarter of
the service's own time per request. Here the request headers are scanned once, and a request
without a body is served with the original ``receive`` and one ``send`` wrapper.

Requests are counted by route template: Starlette's router leaves the matched route in
``scope["route"]``; FastAPI's own documentation routes do not, so they are looked up among
the application's plain routes. What matched nothing is ``unmatched``.
"""

import secrets
import time
from collections.abc import Mapping
from typing import Any, cast

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.errors import PayloadTooLarge, ServiceUnavailable, problem_response
from app.http import logs, metrics, rate_limits, request_limits, security_headers

REQUEST_ID = b"x-request-id"
UNMATCHED = "unmatched"
# The request headers this middleware reads; every other header costs one set lookup.
_READ = frozenset(
    (
        REQUEST_ID,
        b"content-length",
        b"transfer-encoding",
        b"authorization",
        b"x-forwarded-for",
        b"x-forwarded-proto",
    )
)


async def _nothing(*_asgi: Any) -> None:
    """The app behind the proxy-header rewriter: it only edits the scope."""


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        access_log: bool,
        body_limits: Mapping[str, int] | None = None,
        limits: request_limits.Limits,
        rates: rate_limits.Limiter | None = None,
        max_concurrency: int | None = None,
        trusted_proxies: str = "",
        docs_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = body_limits or {}  # by exact path: bulk routes take more
        self.access_log = access_log
        self.limits = limits
        self.rates = rates
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.proxies: ASGIApp | None = None
        if trusted_proxies:
            self.proxies = cast(ASGIApp, ProxyHeadersMiddleware(_nothing, trusted_proxies))
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given_id = declared = credential = None
        has_body = forwarded = False
        for name, value in scope["headers"]:
            if name in _READ:
                # The first valid X-Request-ID, the first Content-Length and Authorization.
                if name == REQUEST_ID:
                    given_id = given_id or _valid_id(value)
                elif name == b"authorization":
                    credential = credential or bytes(value)
                elif name == b"content-length":
                    declared = value if declared is None else declared
                    has_body = has_body or value != b"0"
                elif name == b"transfer-encoding":
                    has_body = True
                else:
                    forwarded = True
        if forwarded and self.proxies is not None:
            await self.proxies(scope, receive, send)
        request_id = given_id or secrets.token_hex(8)
        logs.request_id.set(request_id)
        status = 500
        sent = 0
        own_id = (REQUEST_ID, request_id.encode())
        policy = security_headers.DOCS if scope["path"] in self.docs_paths else security_headers.API

        async def send_with_headers(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                message["headers"] = security_headers.add(headers, own_id, policy)
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        # In flight from here, so that a request waiting on the rate limiter holds its place.
        busy = self.max_concurrency is not None and self.in_flight >= self.max_concurrency
        if not busy:
            self.in_flight += 1
        try:
            early = self._busy() if busy else await self._refusal(scope, declared, credential)
            if early is not None:
                await early(scope, receive, send_with_headers)
                return
            if has_body:
                receive = self._body_receive(scope, receive)
            await self.app(scope, receive, send_with_headers)
        finally:
            if not busy:
                self.in_flight -= 1
            self._done(scope, status, sent, request_id, started)

    def _busy(self) -> ASGIApp:
        return problem_response(
            ServiceUnavailable(
                f"The service is answering {self.max_concurrency} requests; retry in a moment.",
                headers={"Retry-After": "1", "Connection": "close"},
            )
        )

    async def _refusal(
        self, scope: Scope, declared: bytes | None, credential: bytes | None
    ) -> ASGIApp | None:
        """The problem response for a request refused before the app runs, or None."""
        limit = self.body_limits.get(scope["path"], self.max_body_bytes)
        if declared is not None and _over(declared, limit):
            too_large = PayloadTooLarge(
                f"The request body is larger than {limit} bytes.", headers={"Connection": "close"}
            )
            return problem_response(too_large)
        if self.rates is not None:
            refusal = await self.rates.acquire(
                rate_limits.client_address(scope), credential or rate_limits.query_credential(scope)
            )
            if refusal is not None:
                return rate_limits.refusal_response(refusal)
        error = self.limits.query_error(scope["query_string"])
        return problem_response(error) if error is not None else None

    def _body_receive(self, scope: Scope, receive: Receive) -> Receive:
        limit = self.body_limits.get(scope["path"], self.max_body_bytes)
        timed = self.limits.timed(receive)
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await timed()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            return message

        return counting_receive

    def _done(self, scope: Scope, status: int, sent: int, request_id: str, started: float) -> None:
        seconds = time.perf_counter() - started
        route = _route(scope)
        metrics.observe_request(route, scope["method"], status, seconds)
        if self.access_log:
            # The path without its query string, which may carry a key (Google's ``key=``).
            logs.access(
                request_id=request_id,
                method=scope["method"],
                route=route,
                path=scope["path"],
                status=status,
                duration_ms=round(seconds * 1000, 2),
                sent=sent,
                client=_client(scope),
            )


def _over(declared: bytes, limit: int) -> bool:
    try:
        return int(declared) > limit
    except ValueError:
        return False


def _route(scope: Scope) -> str:
    route = scope.get("route")
    if route is not None:
        return str(route.path_format)
    router = scope.get("router")
    for candidate in router.routes if router is not None else ():
        if type(candidate) is Route and candidate.matches(scope)[0] is not Match.NONE:
            return candidate.path_format
    return UNMATCHED


def _valid_id(given: bytes) -> str | None:
    text = given.decode("latin-1")[:64]
    return text if text and text.isprintable() else None


def _client(scope: Scope) -> str:
    client: Any = scope.get("client")
    return client[0] if client else "-"
