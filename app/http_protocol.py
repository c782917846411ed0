"""The HTTP/1.1 protocol ``claimreview serve`` runs: uvicorn's httptools protocol with a deadline
for a request's headers, and its own refusals written as problem+json.

Why a protocol and not a middleware: the app first hears of a request once its headers are
complete, so only the protocol sees a client that never completes them. uvicorn has no such
timeout: its keep-alive timer is cancelled by the first byte that arrives, and a new connection
has none. A client that sends its headers a byte a second (slow loris) would hold a connection,
its buffers and the worker's attention for as long as it liked.

- **Header deadline** (``CLAIMREVIEW_HEADER_TIMEOUT_SECONDS``): a request line and its headers
  must be complete within the deadline of the connection opening or, on a kept-alive
  connection, of the request's first byte. A total, not a gap between bytes, which a trickle
  never exceeds. Late headers get 408 and the connection is closed; a connection that never
  sent a byte is closed without an answer, as uvicorn closes an idle kept-alive one. The body's
  time is ``app/request_limits.py``'s.
- **Unparseable requests** get uvicorn's 400 as problem+json, not its plain text.

One timer per connection, not one per request: it fires at the deadline of the request whose
headers are pending, or a deadline later when none is, so on the hot path (bench/README.md) a
request costs one clock read and two attribute writes.
"""

import asyncio
import functools
import logging
import secrets
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app import security_headers
from app.errors import PROBLEM_JSON, APIError, BadRequest, RequestTimeout, problem_body

logger = logging.getLogger("claimreview.http")


class Protocol(HttpToolsProtocol):
    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        # When the request whose headers are awaited began; None while none is.
        self.headers_since: float | None = None
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.headers_since = self.loop.time()
        self._check_headers_at(self.headers_since + self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.headers_since is None:  # a new connection's deadline runs from its opening
            self.headers_since = self.loop.time()

    def on_headers_complete(self) -> None:
        self.headers_since = None
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(BadRequest("The request is not valid HTTP/1.1."))

    def _unsupported_upgrade_warning(self) -> None:
        """Say nothing: uvicorn would log two warnings for every request with an ``Upgrade``
        header, one of them that no WebSocket library is installed. The service serves no
        WebSockets (``ws="none"``); such a request is answered and logged like any other."""

    def _check_headers_at(self, when: float) -> None:
        self.header_timer = self.loop.call_at(when, self._check_headers)

    def _check_headers(self) -> None:
        since, now = self.headers_since, self.loop.time()
        if since is None:
            self._check_headers_at(now + self.header_timeout)
        elif now < since + self.header_timeout:  # a later request, or a timer that woke early
            self._check_headers_at(since + self.header_timeout)
        else:
            self.header_timer = None
            self._headers_late()

    def _headers_late(self) -> None:
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request is late while the one before it is answered: finish that
            # answer, then close (as a graceful shutdown does).
            self.cycle.keep_alive = False
        elif self.scope is None:  # uvicorn makes a scope at a request's first byte
            self.transport.close()
        else:
            self._refuse(
                RequestTimeout(
                    f"The request headers were not received within {self.header_timeout:g} seconds."
                )
            )

    def _refuse(self, error: APIError) -> None:
        """Answer ``error`` as problem+json and close the connection: for a request the app
        never sees, so with the headers the middleware gives every response."""
        request_id = secrets.token_hex(8)
        body = problem_body(
            status=error.status, title=error.title, code=error.code, detail=error.detail
        )
        own = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        headers = security_headers.add(
            [*self.server_state.default_headers, *own],
            (b"x-request-id", request_id.encode()),
            security_headers.API,
        )
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[error.status] + head + b"\r\n" + body)
        self.transport.close()
        client = self.client[0] if self.client else "-"
        logger.info("%s from %s: %s (id=%s)", error.status, client, error.detail, request_id)


def with_header_timeout(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's ``http=`` option: the protocol with its deadline bound (a partial, which
    pickles to the worker processes as a class would)."""
    return cast(type[asyncio.Protocol], functools.partial(Protocol, header_timeout=seconds))
