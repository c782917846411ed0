"""The service in a process of its own on a free port, as operators run it."""

import socket
import subprocess
import time
from pathlib import Path

import httpx


def serve(
    command: list[str], env: dict[str, str], log: Path, timeout: float = 60
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``command --port <free port>`` with its output appended to ``log``; the process and
    its base URL once it answers /readyz."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    with log.open("ab") as output:
        server = subprocess.Popen([*command, "--port", port], env=env, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        assert server.poll() is None, log.read_text()
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the server did not start: {log.read_text()}"
        time.sleep(0.05)
