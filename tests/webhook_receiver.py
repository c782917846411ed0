"""A real HTTP server on 127.0.0.1 that receives webhooks: it records every request (method,
path, headers, raw body) and answers as a test scripts it — a status code, a redirect, a big
body, or no answer at all ("hang") until it is closed."""

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

Answer = int | str  # a status code, "hang", "redirect" or "big"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._answers: dict[str, deque[Answer]] = {}
        self._changed = threading.Condition()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    def script(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``path`` like this; afterwards with 200."""
        with self._changed:
            self._answers.setdefault(path, deque()).extend(answers)

    def received(self, path: str | None = None) -> list[Received]:
        with self._changed:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 10) -> list[Received]:
        """The first ``count`` requests (to ``path``), waiting at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := self.received(path)) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(found)} of {count} webhook requests arrived in {timeout} s"
                self._changed.wait(left)
            return found

    def _next_answer(self, path: str) -> Answer:
        with self._changed:
            queued = self._answers.get(path)
            return queued.popleft() if queued else 200

    def _record(self, request: Received) -> None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver._record(Received("POST", self.path, headers, body))
                answer = receiver._next_answer(self.path)
                if answer == "hang":
                    receiver._closing.wait(30)
                    return
                if answer == "redirect":
                    self.send_response(302)
                    self.send_header("Location", receiver.url("/elsewhere"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 200 if answer == "big" else int(answer)
                reply = b"x" * 1_000_000 if answer == "big" else f"answered {status}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                try:
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender stops reading once it has enough

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read the recorded requests, not the server's log."""

        return Handler

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.close()
