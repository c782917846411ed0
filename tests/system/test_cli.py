"""The ``claimreview`` command, run as a real process against a real database."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import seed_review

CLAIMREVIEW = str(Path(sys.executable).parent / "claimreview")


def run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLAIMREVIEW_DATABASE_URL": database_url}
    return subprocess.run(
        [CLAIMREVIEW, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_db_upgrade_creates_the_schema_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    first = run("db", "upgrade", database_url=url)
    again = run("db", "upgrade", database_url=url)

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "fresh.db").stat().st_size > 0


def test_publisher_add_and_key_create(database_url: str) -> None:
    added = run(
        "publisher",
        "add",
        "polygraph",
        "--name",
        "Polygraph.info",
        "--url",
        "https://www.polygraph.info/",
        database_url=database_url,
    )
    duplicate = run(
        "publisher",
        "add",
        "polygraph",
        "--name",
        "Again",
        "--url",
        "https://www.polygraph.info/",
        database_url=database_url,
    )
    key = run("key", "create", "polygraph", "--scope", "reviews:write", database_url=database_url)
    missing = run("key", "create", "nobody", database_url=database_url)
    bad_scope = run("key", "create", "polygraph", "--scope", "root", database_url=database_url)

    assert added.returncode == 0, added.stderr
    assert duplicate.returncode == 2
    assert key.returncode == 0, key.stderr
    assert key.stdout.strip().startswith("crk_")
    assert missing.returncode == 2
    assert bad_scope.returncode == 2


def test_serve_answers_and_shuts_down_cleanly_on_sigterm(database_url: str) -> None:
    run(
        "publisher",
        "add",
        "polygraph",
        "--name",
        "Polygraph.info",
        "--url",
        "https://www.polygraph.info/",
        database_url=database_url,
    )
    key = run("key", "create", "polygraph", database_url=database_url).stdout.strip()
    port = free_port()
    env = {**os.environ, "CLAIMREVIEW_DATABASE_URL": database_url}
    server = subprocess.Popen(
        [CLAIMREVIEW, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base)
        with httpx.Client(base_url=base, timeout=10) as http:
            created = http.post(
                "/v1/claim-reviews", json=seed_review(), headers={"Authorization": f"Bearer {key}"}
            )
            jsonld = http.get(f"/v1/claim-reviews/{created.json()['id']}.jsonld")
            docs = http.get("/docs")
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)

    assert created.status_code == 201
    assert jsonld.json()["claimReviewed"] == seed_review()["claim_reviewed"]
    assert docs.status_code == 200
    # uvicorn finishes the graceful shutdown, then re-raises the signal it caught.
    assert server.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in output
    assert "Finished server process" in output
    assert '"route":"/v1/claim-reviews","path":"/v1/claim-reviews","status":201' in output
    assert key.split("_", 2)[2] not in output


def _wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the server did not become ready within 30 s")


def test_export_writes_what_the_http_export_serves(
    client: httpx.Client, writer: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    for n in range(3):
        client.post(
            "/v1/claim-reviews", json=seed_review(external_id=f"x{n}"), headers=writer
        ).raise_for_status()
    retracted = client.get("/v1/claim-reviews").json()["items"][0]["id"]
    client.delete(f"/v1/claim-reviews/{retracted}", headers=writer)

    for format in ("ndjson", "jsonld", "csv"):
        target = tmp_path / f"out.{format}"
        done = run(
            "export", "--output", str(target), "--format", format, "--include-deleted",
            database_url=database_url,
        )  # fmt: skip
        served = client.get("/v1/export", params={"format": format, "include_deleted": "true"})

        assert done.returncode == 0, done.stderr
        assert "exported 3 reviews" in done.stderr
        assert target.read_bytes() == served.content, format
    refused = run(
        "export", "--output", str(tmp_path / "x"), "--format", "xml", database_url=database_url
    )
    assert refused.returncode == 2
