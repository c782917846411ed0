"""The HTTP/1.1 protocol ``claimreview serve`` runs: uvicorn's httptools protocol with a deadline
and a size cap for a request's headers, and its own refusals written as problem+json.

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
  time is ``app/http/request_limits.py``'s.
- **Header size** (``CLAIMREVIEW_MAX_HEADER_BYTES``): httptools, unlike h11, sets no limit, and
  uvicorn kept 20 MB of headers sent at full speed within any deadline. A request line and
  headers over the limit get 431 and the connection is closed.
- **Unparseable requests** get uvicorn's 400 as problem+json, not its plain text.

Both limits are kept off the hot path's per-header work: about 2 µs a request in all, measured
in-process on a bare app (21.2 -> 23.2 µs, best of 8 rounds of 10,000), against the ~200 µs a
hot read costs under uvicorn (bench/README.md). One timer per connection, not one per request:
it fires at the deadline of the request whose headers are pending, or a deadline later when
none is. Sizes are counted per read, not per header: the bytes read since the previous request
ended bound its headers from above, and only a request over the limit by that bound is measured
header by header.
"""

import asyncio
import functools
import logging
import secrets
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.errors import (
    PROBLEM_JSON,
    APIError,
    BadRequest,
    RequestHeaderFieldsTooLarge,
    RequestTimeout,
    problem_body,
)
from app.http import security_headers

logger = logging.getLogger("claimreview.http")


class _Refused(Exception):
    """Raised in a parser callback to stop parsing: uvicorn then logs "Invalid HTTP request
    received." and calls ``send_400_response``, which answers ``Protocol.refusal``."""


class Protocol(HttpToolsProtocol):
    def __init__(
        self, *args: Any, header_timeout: float, max_header_bytes: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        # When the request whose headers are awaited began; None while none is.
        self.headers_since: float | None = None
        self.header_timer: asyncio.TimerHandle | None = None
        # Bytes read since the previous request ended: at least the size of the next one's
        # headers (less only by what followed a request in the read that ended it).
        self.read_bytes = 0
        self.refusal: APIError | None = None

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

    def data_received(self, data: bytes) -> None:
        self.read_bytes += len(data)
        super().data_received(data)
        if (
            self.headers_since is not None
            and self.read_bytes > self.max_header_bytes
            and not self.transport.is_closing()
        ):  # still no end of the headers: all of it is headers
            self._refuse(self._headers_too_large())

    def on_headers_complete(self) -> None:
        self.headers_since = None
        if self.read_bytes > self.max_header_bytes and self._header_bytes() > self.max_header_bytes:
            self.refusal = self._headers_too_large()
            raise _Refused
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.read_bytes = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(self.refusal or BadRequest("The request is not valid HTTP/1.1."))

    def _header_bytes(self) -> int:
        """The request line and headers as sent, give or take their separators."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _headers_too_large(self) -> APIError:
        return RequestHeaderFieldsTooLarge(
            f"The request line and headers are larger than {self.max_header_bytes} bytes.",
            limit=self.max_header_bytes,
        )

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
            status=error.status,
            title=error.title,
            code=error.code,
            detail=error.detail,
            **error.extra,
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


def with_limits(*, header_timeout: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    """uvicorn's ``http=`` option: the protocol with its limits bound (a partial, which pickles
    to the worker processes as a class would)."""
    protocol = functools.partial(
        Protocol, header_timeout=header_timeout, max_header_bytes=max_header_bytes
    )
    return cast(type[asyncio.Protocol], protocol)
