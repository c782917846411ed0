"""``claimreview import --create-publishers``, run as a real process."""

from pathlib import Path

from fastapi.testclient import TestClient

from app.services.importer import BATCH_SIZE
from tests.api.v1.test_import import ndjson
from tests.api.v1.test_import_aggregators import AFP, fact_check, publishers
from tests.conftest import ADMIN
from tests.system.test_import_cli import published, run

SITES = [
    ("https://factcheck.afp.com/", AFP),
    ("https://factuel.afp.com/", {"@type": "Organization", "name": "AFP Factuel"}),
    ("https://www.boomlive.in/", {"@type": "Organization", "name": "BOOM"}),
    ("https://africacheck.org/", {"@type": "Organization", "name": "Africa Check"}),
]


def test_import_creates_publishers_in_worker_processes(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    """Two batches, so two processes check and render; Full Fact first appears in the second,
    after the workers started."""
    count = BATCH_SIZE + 20
    nodes = [fact_check(f"{SITES[n % 4][0]}{n}", SITES[n % 4][1], n) for n in range(count)]
    nodes[-1] = fact_check("https://fullfact.org/last", {"name": "Full Fact"}, count)
    feed = tmp_path / "feed.ndjson"
    feed.write_bytes(ndjson(*nodes))

    first = run(
        "import", str(feed), "--create-publishers", "--processes", "2", database_url=database_url
    )
    again = run(
        "import", str(feed), "--create-publishers", "--processes", "2", database_url=database_url
    )

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"{feed}: created publisher afp-fact-check (AFP Fact Check, afp.com)",
        f"{feed}: created publisher boom (BOOM, boomlive.in)",
        f"{feed}: created publisher africa-check (Africa Check, africacheck.org)",
        f"{feed}: created publisher full-fact (Full Fact, fullfact.org)",
        f"{feed}: created {count}, updated 0, unchanged 0, invalid 0",
    ]
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        f"{feed}: created 0, updated 0, unchanged {count}, invalid 0"
    ]
    assert set(publishers(client)) == {"afp-fact-check", "boom", "africa-check", "full-fact"}
    assert published(client, "full-fact") == ["https://fullfact.org/last"]
    listed = client.get(
        "/v1/claim-reviews", params={"publisher": "afp-fact-check", "limit": "1"}, headers=ADMIN
    )
    assert listed.json()["items"][0]["publisher"] == "afp-fact-check"


def test_import_creating_publishers_is_not_for_one_publisher(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.ndjson"
    feed.write_bytes(ndjson(fact_check("https://africacheck.org/1", SITES[3][1])))

    done = run(
        "import", str(feed), "--create-publishers", "--publisher", "x", database_url=database_url
    )

    assert done.returncode == 2
    assert "not with --publisher" in done.stderr
    assert publishers(client) == {}
