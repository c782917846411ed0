"""``claimreview import`` and ``claimreview validate``, run as real processes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, make_publisher

CLAIMREVIEW = str(Path(sys.executable).parent / "claimreview")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FCE = {"slug": "fce", "name": "Fact Check Example", "url": "https://factcheck.example/"}
VER = {"slug": "ver", "name": "Verifica Ejemplo", "url": "https://verifica.example/"}


def run(
    *args: str, database_url: str = "sqlite:////nonexistent/x.db"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLAIMREVIEW_DATABASE_URL": database_url}
    return subprocess.run(
        [CLAIMREVIEW, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def published(client: TestClient, publisher: str) -> list[str]:
    response = client.get("/v1/claim-reviews", params={"publisher": publisher, "limit": "100"})
    return sorted(item["url"] for item in response.json()["items"])


def test_import_a_file_then_again_is_unchanged(client: TestClient, database_url: str) -> None:
    make_publisher(client, **FCE)
    ndjson = str(FIXTURES / "claimreviews.ndjson")

    first = run("import", ndjson, "--publisher", "fce", database_url=database_url)
    again = run("import", ndjson, "--publisher", "fce", database_url=database_url)

    assert first.returncode == 0, first.stderr
    assert f"{ndjson}: created 3, updated 0, unchanged 0, invalid 0" in first.stdout
    assert "importing" in first.stderr  # the progress bar
    assert again.returncode == 0, again.stderr
    assert f"{ndjson}: created 0, updated 0, unchanged 3, invalid 0" in again.stdout
    assert len(published(client, "fce")) == 3


def test_import_a_directory_matches_authors_and_reports_invalid_items(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    make_publisher(client, **FCE)
    make_publisher(client, **VER)
    shutil.copytree(FIXTURES, tmp_path / "site", ignore=shutil.ignore_patterns("markup"))
    (tmp_path / "site" / "notes.txt").write_text("not markup, skipped")
    no_claim = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": "https://factcheck.example/2024/no-claim",
        "reviewRating": {"@type": "Rating", "alternateName": "False"},
    }
    (tmp_path / "site" / "no-claim.json").write_text(json.dumps(no_claim))

    done = run("import", str(tmp_path / "site"), database_url=database_url)

    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert f"{tmp_path / 'site' / 'no-claim.json'} item 0: invalid" in lines
    assert any("/claimReviewed  missing-claim" in line for line in lines)
    # The MediaReview fixtures (a Markup Tool page with a ClaimReview beside it, a feed) too.
    media_page = tmp_path / "site" / "mediareview-page.html"
    assert f"{media_page}: created 2, updated 0, unchanged 0, invalid 0" in lines
    assert "total: created 11, updated 3, unchanged 0, invalid 1" in lines, done.stdout
    assert published(client, "ver") == [
        "https://verifica.example/2024/05/autobuses",
        "https://verifica.example/2024/05/coches",
    ]
    assert len(published(client, "fce")) == 9


def test_import_refuses_unknown_publishers_and_unreadable_files(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    make_publisher(client, **FCE)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    ndjson = str(FIXTURES / "claimreviews.ndjson")

    no_publisher = run("import", ndjson, "--publisher", "nobody", database_url=database_url)
    missing = run("import", str(tmp_path / "missing.ndjson"), database_url=database_url)
    unreadable = run("import", str(broken), ndjson, database_url=database_url)
    admin_only = client.get("/v1/claim-reviews", headers=ADMIN).json()["items"]

    assert no_publisher.returncode == 2
    assert "no publisher 'nobody'" in no_publisher.stderr
    assert missing.returncode == 2
    assert unreadable.returncode == 2
    assert "not valid JSON" in unreadable.stderr
    # The readable file was still imported (its authors match fce).
    assert f"{ndjson}: created 3" in unreadable.stdout
    assert len(admin_only) == 3


def test_validate_prints_findings_and_exits_by_severity(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonld"
    broken.write_text("{not json")
    messy = tmp_path / "messy.html"
    messy.write_text(
        (FIXTURES / "microdata-page.html")
        .read_text()
        .replace('itemprop="claimreviewed"', 'itemprop="claimreviewed" data-x')
        .replace('<span itemprop="claimreviewed" data-x>', '<span itemprop="colour">')
    )

    valid = run("validate", str(FIXTURES / "rdfa-page.html"), str(FIXTURES / "claimreviews.ndjson"))
    repaired = run("validate", str(FIXTURES / "microdata-page.html"))
    invalid = run("validate", str(messy))
    google_only = run("validate", "--profile", "google", str(messy))
    unreadable = run("validate", str(broken), str(FIXTURES / "microdata-page.html"))
    bad_profile = run("validate", "--profile", "bing", str(FIXTURES / "rdfa-page.html"))

    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert f"{FIXTURES / 'rdfa-page.html'}: valid" in valid.stdout
    assert repaired.returncode == 0, repaired.stdout
    assert "/microdata/1/claimreviewed  property-repaired" in repaired.stdout
    assert invalid.returncode == 1, invalid.stdout
    assert f"{messy}: invalid (1 error, " in invalid.stdout
    assert "/microdata/1/claimReviewed  missing-claim" in invalid.stdout
    assert google_only.returncode == 1
    assert "unknown-property" not in google_only.stdout
    assert unreadable.returncode == 2
    assert f"{broken}: unreadable" in unreadable.stdout
    assert bad_profile.returncode == 2
