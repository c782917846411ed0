"""Real ``claimreview`` processes for the tests that need several of them, or need to kill one:
webhooks cut off by a crash, scale-out across hosts, imports killed half-way."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from tests.conftest import ADMIN_TOKEN, BASE_URL

CLAIMREVIEW = str(Path(sys.executable).parent / "claimreview")
T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 10) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)
    return result


def environment(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a process on ``database_url``; ``settings`` are CLAIMREVIEW_ names
    without the prefix, e.g. ``WEBHOOK_ALLOW_PRIVATE="true"``."""
    return {
        **os.environ,
        "CLAIMREVIEW_DATABASE_URL": database_url,
        "CLAIMREVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
        "CLAIMREVIEW_BASE_URL": BASE_URL,
        **{f"CLAIMREVIEW_{name}": value for name, value in settings.items()},
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Server:
    """One ``claimreview serve`` process; ``base`` is its URL."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return httpx.get(self.base + "/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """``kill -9``: no shutdown hooks, no rollback on the way out."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def launch(env: dict[str, str], log: Path, command: list[str] | None = None) -> Server:
    """Start ``command --port <free port>`` (by default ``claimreview serve``), its output
    appended to ``log``; see ``serve`` to wait until it answers."""
    port = free_port()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*(command or [CLAIMREVIEW, "serve"]), "--port", str(port)],
            env=env,
            stdout=output,
            stderr=output,
        )
    return Server(process, f"http://127.0.0.1:{port}", log)


def serve(env: dict[str, str], log: Path, command: list[str] | None = None) -> Server:
    server = launch(env, log, command)
    eventually(server.ready, timeout=60)
    return server
