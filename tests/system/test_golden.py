"""Golden files: every output of the seed fact-check (examples/seed-factcheck.json, the README's
walk-through) and the OpenAPI document, compared byte for byte with the files in
tests/system/golden/.

They pin what the service sends, so that moving code around (issue 17) can be shown to change
none of it. When a change of output is meant, rewrite the files and review their diff as code:

    CLAIMREVIEW_UPDATE_GOLDEN=1 .venv/bin/pytest tests/system/test_golden.py

SQLite and PostgreSQL must produce the same files.
"""

import os
import re
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import (
    ADMIN_TOKEN,
    BASE_URL,
    bearer,
    create_review,
    fresh_database_url,
    make_key,
    make_publisher,
)
from tests.webhook_receiver import running_receiver

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CLAIMREVIEW_UPDATE_GOLDEN") == "1"
PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS

# Values that are random or derive from the run (the database URL signs cursors; PostgreSQL's
# transaction ids place feed events), each replaced only where it has its expected shape: a
# value of any other shape stays and shows in the diff.
VARYING = (
    (re.compile(r"since=[\w-]+\.[\w-]+"), "since={cursor}"),
    (re.compile(r"\bfeed\.[0-9a-f]{16}\b"), "feed.{position}"),
    (re.compile(r"claimreviews-\d{8}T\d{6}Z\."), "claimreviews-{export time}."),
    (re.compile(r"t=\d+,v1=[0-9a-f]{64}"), "t={unix time},v1={HMAC-SHA256}"),
)
# Follows from the body; and the receiver's port, which the test picks.
UNCOMPARED_HEADERS = {"content-length", "host"}
SEED_FILES = [
    "seed.native.json",
    "seed.jsonld",
    "seed.embed.html",
    "seed.page.html",
    "seed.csv",
    "seed.feed.json",
    "seed.webhook.json",
    "seed.headers.json",
]


def normalise(text: str, *, review_id: str, changed: str) -> str:
    """``text`` with placeholders for what differs between runs: the review's id, the time of
    its change (``changed``, RFC 3339) as each output writes it, and ``VARYING``."""
    moment = datetime.fromisoformat(changed)
    for value, placeholder in (
        (review_id, "{id}"),
        (changed, "{changed}"),
        (format_datetime(moment, usegmt=True), "{changed, HTTP date}"),
        (f"{moment.day} {moment:%B %Y}", "{changed, day}"),
    ):
        text = text.replace(value, placeholder)
    for pattern, placeholder in VARYING:
        text = pattern.sub(placeholder, text)
    return text


def assert_golden(name: str, actual: str) -> None:
    """``actual`` is the content of tests/system/golden/``name`` (or becomes it, when updating)."""
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(actual.encode())
        return
    expected = path.read_bytes().decode()
    assert actual == expected, f"{name} changed; CLAIMREVIEW_UPDATE_GOLDEN=1 rewrites it"


def message_head(first: dict[str, str], headers: httpx.Headers | dict[str, str]) -> dict[str, str]:
    """The status or request line as HTTP/2 pseudo-headers, then the headers (the golden file
    sorts them: their order carries no meaning)."""
    compared = {name: value for name, value in headers.items() if name not in UNCOMPARED_HEADERS}
    return first | compared


@pytest.fixture(scope="module")
def seed_outputs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The seed review created over HTTP, as in the README, after a webhook subscription; each
    output of it, normalised, by golden file name."""
    settings = Settings(
        database_url=fresh_database_url(request, tmp_path_factory.mktemp("golden")),
        admin_token=ADMIN_TOKEN,
        base_url=BASE_URL,
        outbound_allow_private=True,
        dispatcher_interval_seconds=0.05,
    )
    fixed = {"X-Request-ID": "golden"}  # echoed on every answer
    client = TestClient(create_app(settings), base_url=BASE_URL, headers=fixed)
    with running_receiver() as receiver, client:
        make_publisher(client)
        writer = bearer(make_key(client, "polygraph", "reviews:write"))
        hook = {"url": receiver.url(), "secret": "golden-webhook-secret-0123456789"}
        assert client.post("/v1/webhooks", json=hook, headers=writer).status_code == 201
        created = create_review(client, writer)
        path = f"/v1/claim-reviews/{created['id']}"
        responses = {
            "seed.native.json": client.get(path),
            "seed.jsonld": client.get(f"{path}.jsonld"),
            "seed.embed.html": client.get(f"{path}/embed"),
            "seed.page.html": client.get(f"/claim-reviews/{created['id']}"),
            "seed.csv": client.get("/v1/export", params={"format": "csv"}),
            "seed.feed.json": client.get("/v1/feed"),
        }
        [delivery] = receiver.wait_for(1)
    heads = {
        name: message_head({":status": str(response.status_code)}, response.headers)
        for name, response in responses.items()
    }
    request_line = {":method": delivery.method, ":path": delivery.path}
    heads["seed.webhook.json"] = message_head(request_line, delivery.headers)
    outputs = {name: response.content.decode() for name, response in responses.items()}
    outputs["seed.webhook.json"] = delivery.body.decode()
    outputs["seed.headers.json"] = orjson.dumps(heads, option=PRETTY).decode() + "\n"
    varying = {"review_id": created["id"], "changed": created["updated_at"]}
    return {name: normalise(text, **varying) for name, text in outputs.items()}


@pytest.mark.parametrize("name", SEED_FILES)
def test_seed_review_output_is_the_golden_file(seed_outputs: dict[str, str], name: str) -> None:
    assert_golden(name, seed_outputs[name])


def test_openapi_document_is_the_golden_file(client: TestClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    assert_golden("openapi.json", orjson.dumps(response.json(), option=PRETTY).decode() + "\n")
