"""A real HTTP server on 127.0.0.1 serving generated images, and waiting for a review's images.

``picture(seed)`` draws a deterministic image with Pillow (shapes, text and noise), so no test
downloads anything. The server answers each path as a test scripts it: an image (PNG or JPEG),
any body with any content type, a redirect, an oversized body, or a few failures before its
answer; it counts the requests each path received.

``wait_for_images`` polls ``GET /v1/claim-reviews/{id}/images`` until the image worker has
dealt with every image of a review (hashed, by default).
"""

import io
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image, ImageDraw


def picture(seed: int, *, size: tuple[int, int] = (320, 240), format: str = "PNG") -> bytes:
    """A distinct image per seed: a coloured background, random shapes, a line of text, noise."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(rng.randint(4, 9)):
        box = sorted(rng.sample(range(width), 2)), sorted(rng.sample(range(height), 2))
        corners = (box[0][0], box[1][0], box[0][1], box[1][1])
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice((draw.rectangle, draw.ellipse))
        shape(corners, fill=colour)
    draw.text((10, height - 30), f"picture {seed}", fill=(255, 255, 255))
    for _ in range(width * height // 50):
        draw.point((rng.randrange(width), rng.randrange(height)), fill=(rng.randrange(256),) * 3)
    out = io.BytesIO()
    image.save(out, format=format, quality=90) if format == "JPEG" else image.save(out, format)
    return out.getvalue()


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "image/png"
    location: str | None = None
    # Claim this Content-Length instead of the body's (None: the body's own; "": send none).
    content_length: str | None = None


class ImageServer:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}  # when each path was asked for (monotonic)
        self._answers: dict[str, Answer] = {}
        self._first: dict[str, deque[Answer]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def answer(self, path: str, answer: Answer) -> str:
        """Answer ``path`` like this from now on; its URL."""
        with self._lock:
            self._answers[path] = answer
        return self.url(path)

    def image(self, path: str, seed: int, *, format: str = "PNG", **options: Any) -> str:
        """Serve ``picture(seed)`` at ``path``; its URL."""
        body = picture(seed, format=format, **options)
        return self.answer(path, Answer(body=body, content_type=f"image/{format.lower()}"))

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        return self.answer(path, Answer(status=status, content_type=None, location=location))

    def fail_first(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these statuses, then as scripted."""
        with self._lock:
            self._first.setdefault(path, deque()).extend(
                Answer(status=status, body=b"not now", content_type="text/plain")
                for status in statuses
            )

    def _next(self, path: str) -> Answer:
        with self._lock:
            self.hits[path] += 1
            self.times.setdefault(path, []).append(time.monotonic())
            first = self._first.get(path)
            if first:
                return first.popleft()
            return self._answers.get(path, Answer(status=404, content_type="text/plain"))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer = server._next(self.path)
                self.send_response(answer.status)
                if answer.content_type:
                    self.send_header("Content-Type", answer.content_type)
                if answer.location:
                    self.send_header("Location", answer.location)
                length = (
                    str(len(answer.body))
                    if answer.content_length is None
                    else answer.content_length
                )
                if length:
                    self.send_header("Content-Length", length)
                else:
                    self.close_connection = True
                self.end_headers()
                try:
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the fetcher stops reading at its cap

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read the hit counts, not the server's log."""

        return Handler

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def running_image_server() -> Iterator[ImageServer]:
    server = ImageServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


def hashed(image: dict[str, Any]) -> bool:
    return bool(image["status"] == "hashed")


def wait_for_images(
    client: TestClient,
    review_id: str,
    *,
    headers: dict[str, str] | None = None,
    done: Callable[[dict[str, Any]], bool] = hashed,
    count: int | None = None,
    timeout: float = 15,
) -> list[dict[str, Any]]:
    """The review's images once ``done`` holds for each (and there are ``count`` of them, when
    given), polling ``GET /v1/claim-reviews/{id}/images`` for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/claim-reviews/{review_id}/images", headers=headers)
        assert response.status_code == 200, response.text
        images: list[dict[str, Any]] = response.json()["items"]
        if (count is None or len(images) == count) and all(done(image) for image in images):
            return images
        assert time.monotonic() < deadline, f"images not done in {timeout} s: {images}"
        time.sleep(0.02)
