"""One pure-ASGI middleware for every request: request id, body size cap, metrics, access log.

A body over the cap is refused from Content-Length before the app runs, or, when streamed
without one, by raising PayloadTooLarge (rendered as problem+json) as the app reads it.

Pure ASGI (not BaseHTTPMiddleware) because it sits on the hot read path: it adds a header,
counts the request, writes one log line, and counts body bytes as they stream in, without
wrapping the response.

Requests are counted by route template: Starlette's router leaves the matched route in
``scope["route"]``; FastAPI's own documentation routes do not, so they are looked up among
the application's plain routes. What matched nothing is ``unmatched``.
"""

import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logs, metrics
from app.errors import PROBLEM_JSON, PayloadTooLarge, problem_body

access_logger = logging.getLogger("claimreview.access")
REQUEST_ID = b"x-request-id"
UNMATCHED = "unmatched"


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        access_log: bool,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = body_limits or {}  # by exact path: bulk routes take more
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        logs.request_id.set(request_id)
        status = 500
        sent = 0
        limit = self.body_limits.get(scope["path"], self.max_body_bytes)

        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, request_id, limit)
            self._done(scope, 413, 0, request_id, started)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID, request_id.encode()),
                ]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, send_with_id)
        finally:
            self._done(scope, status, sent, request_id, started)

    def _done(self, scope: Scope, status: int, sent: int, request_id: str, started: float) -> None:
        seconds = time.perf_counter() - started
        route = _route(scope)
        metrics.observe_request(route, scope["method"], status, seconds)
        if self.access_log:
            # The path without its query string, which may carry a key (Google's ``key=``).
            fields = {
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "bytes": sent,
                "client": _client(scope),
            }
            access_logger.info(logs.ACCESS_LINE, fields)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    if route is not None:
        return str(route.path_format)
    router = scope.get("router")
    for candidate in router.routes if router is not None else ():
        if type(candidate) is Route and candidate.matches(scope)[0] is not Match.NONE:
            return candidate.path_format
    return UNMATCHED


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID:
            given = value.decode("latin-1")[:64]
            if given.isprintable() and given:
                return given
    return secrets.token_hex(8)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _client(scope: Scope) -> str:
    client: Any = scope.get("client")
    return client[0] if client else "-"


async def _too_large(send: Send, request_id: str, limit: int) -> None:
    body = problem_body(
        status=413,
        title="Payload Too Large",
        code="payload-too-large",
        detail=f"The request body is larger than {limit} bytes.",
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (REQUEST_ID, request_id.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
