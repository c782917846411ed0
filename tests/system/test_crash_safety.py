"""Crash safety: ``kill -9`` a real import of 50,000 ClaimReviews half-way (the CLI, or the server
answering ``POST /v1/import``), then check with SQL that what was committed is whole — every
review with its JSON-LD and native bytes, its revision, its outbox event and its tags, nothing
orphaned — and that importing again picks up where it stopped: the stored reviews are reported
unchanged, the batch the kill cut off and the next one are created, and the counts are exact.

The killed process gets no chance to clean up: what survives is what the database committed.
(Webhook deliveries cut off by a crash: tests/services/test_webhooks.py.)
"""

import itertools
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, text

from app.core.textfold import fold
from app.db.engine import sqlalchemy_url
from app.services.importer import BATCH_SIZE
from tests.conftest import ADMIN, BASE_URL, EXAMPLES, make_publisher
from tests.served import CLAIMREVIEW, environment, eventually, serve

ITEMS = 50_000
KILL_AFTER = 2 * BATCH_SIZE  # reviews committed before the kill
# The re-run imports the file up to this many items past those the killed run committed: the
# batch the kill cut off and the next. (The whole file takes minutes at today's import speed.)
RERUN_TAIL = 2 * BATCH_SIZE
STATUSES = ("created", "updated", "unchanged", "invalid")


@pytest.fixture(scope="module")
def claimreviews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50,000 distinct ClaimReviews of the seed fact-check, one per NDJSON line."""
    seed = orjson.loads((EXAMPLES / "seed-factcheck.jsonld").read_bytes())
    for placeholder in ("@id", "dateModified"):
        seed.pop(placeholder)
    seed["itemReviewed"].pop("@id")
    path = tmp_path_factory.mktemp("import") / "claimreviews.ndjson"
    with path.open("wb") as file:
        for n in range(ITEMS):
            node = {
                **seed,
                "url": f"https://www.polygraph.info/a/checks/{n}.html",
                "claimReviewed": f"Claim number {n} about the arms deal.",
                "keywords": [*seed["keywords"], f"Batch {n // BATCH_SIZE}", f"Check #{n}"],
            }
            file.write(orjson.dumps(node) + b"\n")
    return path


@pytest.fixture
def database(database_url: str) -> Iterator[Connection]:
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def scalar(connection: Connection, sql: str) -> Any:
    value = connection.execute(text(sql)).scalar_one()
    connection.rollback()  # no transaction left open while the importer writes
    return value


def committed_reviews(database: Connection) -> int:
    count: int = scalar(database, "SELECT count(*) FROM claim_review")
    return count


@pytest.mark.timeout(600)
@pytest.mark.parametrize("through", ["cli", "api"])
def test_an_import_killed_half_way_leaves_whole_reviews_and_a_rerun_picks_up(
    through: str,
    client: TestClient,
    database_url: str,
    database: Connection,
    claimreviews: Path,
    tmp_path: Path,
) -> None:
    """``claimreview import FILE``, or ``POST /v1/import`` of the file 500 lines at a time to a
    ``claimreview serve`` that is killed."""
    make_publisher(client)
    env = environment(database_url)
    log = tmp_path / "process.log"
    if through == "cli":
        with log.open("wb") as output:
            killed = subprocess.Popen(
                [CLAIMREVIEW, "import", str(claimreviews), "--publisher", "polygraph"],
                env=env,
                stdout=output,
                stderr=output,
            )
    else:
        server = serve(env, log)
        killed = server.process
        posting = ThreadPoolExecutor(1).submit(post_import, server.base, claimreviews)
    try:
        eventually(lambda: committed_reviews(database) >= KILL_AFTER, timeout=300)
    finally:
        killed.kill()
        killed.wait(timeout=10)
    if through == "api":
        with pytest.raises(httpx.TransportError):
            posting.result(timeout=60)  # the connection died with the server

    committed = committed_reviews(database)
    assert killed.returncode == -9
    assert KILL_AFTER <= committed < ITEMS
    assert committed % BATCH_SIZE == 0  # batches commit whole or not at all
    assert_whole(database, expected=committed)
    if database.dialect.name == "sqlite":
        assert scalar(database, "PRAGMA integrity_check") == "ok"
        fts = "SELECT count(*) FROM review_fts WHERE review_fts MATCH 'arms'"
        assert scalar(database, fts) == committed

    head = tmp_path / "head.ndjson"
    with claimreviews.open("rb") as everything, head.open("wb") as file:
        file.writelines(itertools.islice(everything, committed + RERUN_TAIL))
    if through == "cli":
        rerun = subprocess.run(
            [CLAIMREVIEW, "import", str(head), "--publisher", "polygraph"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert rerun.returncode == 0, rerun.stderr
        summary = rerun.stdout
    else:
        restarted = serve(env, log)
        try:
            summary = f"{head}: {post_import(restarted.base, head)}"
        finally:
            restarted.stop()

    expected = f"{head}: created {RERUN_TAIL}, updated 0, unchanged {committed}, invalid 0"
    assert expected in summary
    assert_counts(database, expected=committed + RERUN_TAIL)
    total = client.get("/v1/facets", params={"publisher": "polygraph"}).json()["total"]
    assert total == committed + RERUN_TAIL


def post_import(base: str, path: Path) -> str:
    """POST the NDJSON file to /v1/import one batch of lines at a time (each request well under
    the body cap); the summed report as the CLI prints it."""
    totals: Counter[str] = Counter()
    with path.open("rb") as lines, httpx.Client(base_url=base, timeout=300) as http:
        while chunk := list(itertools.islice(lines, BATCH_SIZE)):
            answer = http.post(
                "/v1/import",
                params={"publisher": "polygraph"},
                content=b"".join(chunk),
                headers={**ADMIN, "Content-Type": "application/x-ndjson"},
            )
            assert answer.status_code == 200, answer.text
            totals.update({status: answer.json()[status] for status in STATUSES})
    return ", ".join(f"{status} {totals[status]}" for status in STATUSES)


def assert_counts(database: Connection, *, expected: int) -> None:
    """Every review has exactly its one revision and one review.published event; nothing points
    at a review that is not there."""
    counts = {
        "reviews": "SELECT count(*) FROM claim_review",
        "revisions": "SELECT count(*) FROM review_revision",
        "events": "SELECT count(*) FROM outbox_event WHERE type = 'review.published'",
        "reviews with their revision": """SELECT count(*) FROM claim_review r
            JOIN review_revision v ON v.review_id = r.id AND v.version = r.version""",
        "reviews with their event": """SELECT count(*) FROM claim_review r
            JOIN outbox_event e ON e.review_id = r.id AND e.version = r.version""",
        "versions": "SELECT count(*) FROM claim_review WHERE version = 1",
    }
    found = {name: scalar(database, sql) for name, sql in counts.items()}
    assert found == dict.fromkeys(counts, expected)
    orphans = {
        "revisions": "SELECT count(*) FROM review_revision v "
        "WHERE NOT EXISTS (SELECT 1 FROM claim_review r WHERE r.id = v.review_id)",
        "events": "SELECT count(*) FROM outbox_event e "
        "WHERE NOT EXISTS (SELECT 1 FROM claim_review r WHERE r.id = e.review_id)",
        "tags": "SELECT count(*) FROM review_tag t "
        "WHERE NOT EXISTS (SELECT 1 FROM claim_review r WHERE r.pk = t.review_pk)",
        "other events": "SELECT count(*) FROM outbox_event WHERE type <> 'review.published'",
    }
    assert {name: scalar(database, sql) for name, sql in orphans.items()} == dict.fromkeys(
        orphans, 0
    )


def assert_whole(database: Connection, *, expected: int) -> None:
    """``assert_counts``, and every stored review readable and consistent with itself: JSON-LD
    and native bytes that parse and name the review, its revision's snapshot equal to it, its
    tag rows exactly its folded tags."""
    assert_counts(database, expected=expected)
    tags: dict[int, set[str]] = defaultdict(set)
    for review_pk, tag_key in database.execute(text("SELECT review_pk, tag_key FROM review_tag")):
        tags[review_pk].add(tag_key)
    rows = database.execute(
        text(
            "SELECT r.pk, r.id, r.status, r.document, r.jsonld, r.native, v.jsonld AS snapshot "
            "FROM claim_review r JOIN review_revision v ON v.review_id = r.id"
        )
    ).all()
    database.rollback()
    for row in rows:
        jsonld = orjson.loads(row.jsonld)
        native = orjson.loads(row.native)
        document = row.document if isinstance(row.document, dict) else orjson.loads(row.document)
        assert jsonld["@id"] == f"{BASE_URL}/v1/claim-reviews/{row.id}"
        assert jsonld["url"] == document["url"] == native["url"]
        assert (native["id"], native["version"], native["status"]) == (row.id, 1, "published")
        assert row.status == "published"
        assert bytes(row.snapshot) == bytes(row.jsonld)
        assert tags[row.pk] == {fold(tag) for tag in document["tags"]}
    assert len(rows) == expected
