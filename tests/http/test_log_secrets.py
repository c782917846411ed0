"""Secrets never reach the logs: a realistic session against ``claimreview serve`` with every
logger of the process (the service's, uvicorn's, SQLAlchemy's, httpx's) at DEBUG."""

import sys
from pathlib import Path

import httpx

from app.core.security import split_key
from tests.conftest import ADMIN, ADMIN_TOKEN, SEED_PUBLISHER, bearer, seed_review
from tests.served import environment, eventually, serve
from tests.services.test_webhooks import SECRET, settled
from tests.webhook_receiver import running_receiver

# SQLAlchemy sets its own logger to WARNING unless it already has a level.
DEBUG_EVERYTHING = (
    "import logging; logging.basicConfig(level=logging.DEBUG);"
    " logging.getLogger('sqlalchemy').setLevel(logging.DEBUG);"
    " from app.cli import app; app()"
)


def secret_of(key: str) -> str:
    parts = split_key(key)
    assert parts is not None
    return parts[1]


def test_no_secret_is_logged_even_at_debug(database_url: str, tmp_path: Path) -> None:
    env = environment(
        database_url,
        LOG_LEVEL="debug",
        WEBHOOK_ALLOW_PRIVATE="true",
        DISPATCHER_INTERVAL_SECONDS="0.05",
    )
    log = tmp_path / "serve.log"
    with running_receiver() as receiver:
        server = serve(env, log, [sys.executable, "-c", DEBUG_EVERYTHING, "serve"])
        try:
            with httpx.Client(base_url=server.base, timeout=10) as http:
                assert http.post("/v1/publishers", json=SEED_PUBLISHER, headers=ADMIN).is_success
                body = {"name": "cms", "scopes": ["reviews:write"]}
                created = http.post("/v1/publishers/polygraph/keys", json=body, headers=ADMIN)
                key = created.json()["key"]
                writer = bearer(key)
                hook = {"url": receiver.url(), "secret": SECRET}
                webhook = http.post("/v1/webhooks", json=hook, headers=writer).json()["id"]
                review = http.post("/v1/claim-reviews", json=seed_review(), headers=writer)
                wrong_key = key[:-6] + "abcdef"
                refused = http.get("/v1/webhooks", headers=bearer(wrong_key))
                google = http.get("/v1alpha1/claims:search", params={"query": "x", "key": key})
                eventually(lambda: settled(http, writer, webhook))
        finally:
            server.stop()

    output = log.read_text()

    assert review.status_code == 201
    assert refused.status_code == 401
    assert google.status_code == 200
    assert receiver.received()[0].headers["x-claimreview-signature"]
    # Everything was logged at DEBUG: SQL, the dispatcher's HTTP client, the access lines.
    assert "SELECT" in output
    assert "httpx" in output or "httpcore" in output
    assert '"route":"/v1alpha1/claims:search"' in output
    secrets = {
        "admin token": ADMIN_TOKEN,
        "API key": key,
        "API key secret": secret_of(key),
        "wrong key": wrong_key,
        "webhook secret": SECRET,
    }
    leaked = [name for name, secret in secrets.items() if secret in output]
    assert leaked == []
