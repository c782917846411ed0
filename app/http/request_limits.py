"""Request limits the routes never see: query size, and how long a client may take to send its
body. (The body's size is capped in app/http/middleware.py.)

- A query string over ``CLAIMREVIEW_MAX_QUERY_BYTES`` gets 414 URI Too Long, and one with more
  than ``CLAIMREVIEW_MAX_QUERY_PARAMS`` parameters gets 400, before any parsing: no route takes
  more than a few parameters, so a larger query is a mistake or an attempt to make the parser
  work.
- A body not received in full within ``CLAIMREVIEW_BODY_TIMEOUT_SECONDS`` of the request's start
  gets 408 and the connection is closed. uvicorn has no body timeout of its own, and a client
  that trickles a body (a byte every few seconds) would otherwise hold a worker's request slot
  and its buffers for as long as it likes. The deadline covers the whole body, not the gap
  between chunks, which a trickle would never exceed.

``app/http/middleware.py`` applies them: a request without a body (a GET) costs two operations on
its query string; only a body's reads are timed.
"""

import asyncio
import time

from starlette.types import Message, Receive

from app.errors import APIError, BadRequest, RequestTimeout, URITooLong


class Limits:
    def __init__(self, *, max_query_bytes: int, max_query_params: int, body_timeout: float) -> None:
        self.max_query_bytes = max_query_bytes
        self.max_query_params = max_query_params
        self.body_timeout = body_timeout

    def query_error(self, query: bytes) -> APIError | None:
        if len(query) > self.max_query_bytes:
            return URITooLong(
                f"The query string is longer than {self.max_query_bytes} bytes.",
                limit=self.max_query_bytes,
            )
        if query.count(b"&") >= self.max_query_params:
            return BadRequest(
                f"The query string has more than {self.max_query_params} parameters.",
                limit=self.max_query_params,
            )
        return None

    def timed(self, receive: Receive) -> Receive:
        deadline = time.monotonic() + self.body_timeout
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # later calls wait for a disconnect, for as long as a response lasts
                return await receive()
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"The request body was not received within {self.body_timeout:g} seconds.",
                    headers={"Connection": "close"},
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body")
            return message

        return timed_receive
