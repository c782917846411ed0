"""Nothing is lost (issue 15): a revision written from markup keeps the markup as it arrived,
and ``GET /v1/claim-reviews/{id}/revisions/{version}?include=source`` shows it."""

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.config import Settings
from app.db.engine import sqlalchemy_url
from tests.api.v1.test_import import (
    FCE,
    HTML,
    LD_JSON,
    NDJSON,
    claim_review,
    in_worker_processes,
    ndjson,
    post_import,
)
from tests.conftest import bearer, create_review, make_key, make_publisher
from tests.system.test_import_cli import run

REVISION_FIELDS = {"version", "kind", "status", "actor", "created_at", "document", "jsonld"}
ARTICLE = "https://factcheck.example/2024/05/pages"


@pytest.fixture
def fce(client: TestClient) -> dict[str, str]:
    """Headers of a write key of Fact Check Example (factcheck.example)."""
    make_publisher(client, **FCE)
    return bearer(make_key(client, "fce", "reviews:write"))


def revision(
    client: TestClient, review_id: str, version: int, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    path = f"/v1/claim-reviews/{review_id}/revisions/{version}"
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def source(client: TestClient, review_id: str, version: int, headers: dict[str, str]) -> Any:
    return revision(client, review_id, version, headers, include="source")["source"]


def versions(client: TestClient, review_id: str, headers: dict[str, str]) -> list[int]:
    response = client.get(f"/v1/claim-reviews/{review_id}/revisions", headers=headers)
    return [item["version"] for item in response.json()["items"]]


def test_ld_json_post_and_put_keep_the_body_as_sent(
    client: TestClient, fce: dict[str, str]
) -> None:
    body = claim_review(1, reviewRating={"@type": "Rating", "alternateName": "False"})
    created = client.post(
        "/v1/claim-reviews", content=orjson.dumps(body), headers={**fce, **LD_JSON}
    )
    assert created.status_code == 201, created.text
    review_id = created.json()["id"]
    changed = claim_review(1, headline="Checked again")
    put = client.put(
        "/v1/claim-reviews/by-external-id/cms-1",
        content=orjson.dumps(changed),
        headers={**fce, **LD_JSON},
    )
    assert put.status_code == 201, put.text
    replaced = client.put(
        f"/v1/claim-reviews/{review_id}", content=orjson.dumps(changed), headers={**fce, **LD_JSON}
    )
    assert replaced.status_code == 200, replaced.text

    assert source(client, review_id, 1, fce) == {"node": body, "media_type": "application/ld+json"}
    assert source(client, review_id, 2, fce) == {
        "node": changed,
        "media_type": "application/ld+json",
    }
    assert source(client, put.json()["id"], 1, fce)["node"] == changed
    # Without include=source the revision is what it always was.
    assert set(revision(client, review_id, 1, fce)) == REVISION_FIELDS


def test_native_writes_keep_no_source(
    client: TestClient, fce: dict[str, str], settings: Settings
) -> None:
    created = create_review(
        client, fce, url="https://factcheck.example/2024/native", external_id="native-1"
    )
    patched = client.patch(
        f"/v1/claim-reviews/{created['id']}", json={"headline": "Patched"}, headers=fce
    )
    assert patched.status_code == 200, patched.text

    assert source(client, created["id"], 1, fce) is None
    assert source(client, created["id"], 2, fce) is None
    # Stored as SQL NULL, not as a JSON null.
    engine = create_engine(sqlalchemy_url(settings.database_url))
    with engine.connect() as connection:
        nulls = connection.execute(
            text("SELECT count(*) FROM review_revision WHERE source IS NULL")
        ).scalar_one()
    engine.dispose()
    assert nulls == 2


def test_html_import_keeps_the_node_as_on_the_page_and_its_pointer(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(7)
    del node["@context"]
    graph = {
        "@context": "https://schema.org",
        "@graph": [{"@type": "WebPage", "url": node["url"]}, node],
    }
    organization = {"@context": "https://schema.org", "@type": "Organization", "name": "FCE"}
    page = (
        '<!doctype html><html lang="en"><head>'
        f'<script type="application/ld+json">{orjson.dumps(organization).decode()}</script>'
        f'<script type="application/ld+json">{orjson.dumps(graph).decode()}</script>'
        "</head><body><h1>Claim 7</h1></body></html>"
    ).encode()

    report = post_import(client, page, fce, content_type=HTML)

    assert [item["status"] for item in report["items"]] == ["created"]
    # The node without the @context it inherited from the graph: as it was on the page.
    assert source(client, report["items"][0]["id"], 1, fce) == {
        "node": node,
        "media_type": "text/html",
        "pointer": "/json-ld/1/@graph/1",
    }


def test_data_feed_import_keeps_the_claim_review_node(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(
        3,
        reviewRating={
            "@type": "Rating",
            "ratingValue": "1",
            "bestRating": "5",
            "worstRating": "1",
            "alternateName": "False",
        },
    )
    feed = {
        "@context": "http://schema.org",
        "@type": "DataFeed",
        "dataFeedElement": [
            None,
            {"@type": "DataFeedItem", "dateCreated": "2024-03-04T09:00:00Z", "item": [node]},
        ],
    }

    report = post_import(client, feed, fce)

    assert [item["status"] for item in report["items"]] == ["created"]
    assert source(client, report["items"][0]["id"], 1, fce) == {
        "node": node,
        "media_type": "application/ld+json",
        "pointer": "/dataFeedElement/1/item/0",
    }


def test_reimport_keeps_the_old_source_and_an_update_stores_the_new_one(
    client: TestClient, fce: dict[str, str]
) -> None:
    first_node = claim_review(2)
    first = post_import(client, ndjson(claim_review(1), first_node), fce, content_type=NDJSON)
    review_id = first["items"][1]["id"]

    again = post_import(client, ndjson(claim_review(1), first_node), fce, content_type=NDJSON)
    unchanged_versions = versions(client, review_id, fce)
    updated_node = claim_review(2, headline="The claim, checked again")
    updated = post_import(client, ndjson(updated_node), fce, content_type=NDJSON)

    assert [item["status"] for item in again["items"]] == ["unchanged", "unchanged"]
    assert unchanged_versions == [1]
    assert [item["status"] for item in updated["items"]] == ["updated"]
    assert versions(client, review_id, fce) == [1, 2]
    assert source(client, review_id, 1, fce) == {
        "node": first_node,
        "media_type": "application/x-ndjson",
        "pointer": "/1",
    }
    assert source(client, review_id, 2, fce) == {
        "node": updated_node,
        "media_type": "application/x-ndjson",
        "pointer": "/0",
    }


def test_import_in_worker_processes_keeps_each_source(
    client: TestClient, fce: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches checked and rendered in forked workers come back with their rows encoded: the
    sources are those an import in one process stores."""
    pooled = in_worker_processes(monkeypatch, batch_size=2)
    nodes = [claim_review(number) for number in range(5)]

    report = post_import(client, ndjson(*nodes), fce, content_type=NDJSON)

    if (os.cpu_count() or 1) > 1:
        assert pooled == [os.cpu_count()]
    assert [item["status"] for item in report["items"]] == ["created"] * 5
    for number, item in enumerate(report["items"]):
        assert source(client, item["id"], 1, fce) == {
            "node": nodes[number],
            "media_type": "application/x-ndjson",
            "pointer": f"/{number}",
        }


def test_cli_import_keeps_each_node_and_its_pointer(
    client: TestClient, fce: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    nodes = [claim_review(1), claim_review(2)]
    path = tmp_path / "reviews.jsonld"
    path.write_bytes(orjson.dumps(nodes))

    done = run("import", str(path), "--publisher", "fce", database_url=database_url)

    assert done.returncode == 0, done.stderr
    listed = client.get("/v1/claim-reviews", params={"publisher": "fce"}).json()["items"]
    by_url = {item["url"]: item["id"] for item in listed}
    for number, node in enumerate(nodes):
        assert source(client, by_url[node["url"]], 1, fce) == {
            "node": node,
            "media_type": "application/ld+json",
            "pointer": f"/{number}",
        }


def markup(n: int, label: str = "False") -> dict[str, Any]:
    return {
        "url": f"{ARTICLE}#claim-{n}",
        "claimReviewed": f"Claim number {n} was checked.",
        "claimAuthor": {"name": "Pat Example"},
        "rating": {"textualRating": label, "ratingValue": 1, "bestRating": 5, "worstRating": 1},
    }


def test_google_page_keeps_the_page_as_sent_with_its_own_markup(
    client: TestClient, fce: dict[str, str]
) -> None:
    page = {
        "pageUrl": ARTICLE,
        "publishDate": "2024-05-02",
        "claimReviewMarkups": [markup(1), markup(2)],
    }
    created = client.post("/v1alpha1/pages", json=page, headers=fce)
    assert created.status_code == 200, created.text
    ids = {
        item["url"]: item["id"]
        for item in client.get("/v1/claim-reviews", params={"url": ARTICLE}).json()["items"]
    }
    rerated = markup(2, label="Misleading")
    updated_page = {
        "name": created.json()["name"],
        "pageUrl": ARTICLE,
        "publishDate": "2024-05-02",
        "claim_review_markups": [markup(1), rerated],
    }
    updated = client.put(f"/v1alpha1/{created.json()['name']}", json=updated_page, headers=fce)
    assert updated.status_code == 200, updated.text

    second = ids[f"{ARTICLE}#claim-2"]
    assert source(client, second, 1, fce) == {
        "node": {**page, "claimReviewMarkups": [markup(2)]},
        "page_url": ARTICLE,
        "media_type": "application/json",
        "pointer": "/claimReviewMarkups/1",
    }
    assert source(client, second, 2, fce) == {
        "node": {**updated_page, "claim_review_markups": [rerated]},
        "page_url": ARTICLE,
        "media_type": "application/json",
        "pointer": "/claim_review_markups/1",
    }
    # The first markup did not change: no new revision, its source stays the first page's.
    first = ids[f"{ARTICLE}#claim-1"]
    assert versions(client, first, fce) == [1]
    assert source(client, first, 1, fce)["node"]["claimReviewMarkups"] == [markup(1)]


def test_another_publisher_cannot_read_a_source(client: TestClient, fce: dict[str, str]) -> None:
    report = post_import(client, claim_review(1), fce)
    review_id = report["items"][0]["id"]
    make_publisher(client, slug="other", name="Other Checks", url="https://other.example/")
    other = bearer(make_key(client, "other", "reviews:read"))
    path = f"/v1/claim-reviews/{review_id}/revisions/1"

    intruder = client.get(path, params={"include": "source"}, headers=other)
    anonymous = client.get(path, params={"include": "source"})

    assert intruder.status_code == 404
    assert intruder.headers["content-type"] == "application/problem+json"
    assert "source" not in intruder.text
    assert anonymous.status_code == 401


def test_include_takes_only_source(client: TestClient, fce: dict[str, str]) -> None:
    report = post_import(client, claim_review(1), fce)
    path = f"/v1/claim-reviews/{report['items'][0]['id']}/revisions/1"

    response = client.get(path, params={"include": "garbage"}, headers=fce)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["path"] for error in response.json()["errors"]] == ["include"]
    parameters = client.get("/openapi.json").json()["paths"][
        "/v1/claim-reviews/{review_id}/revisions/{version}"
    ]["get"]["parameters"]
    include = next(parameter for parameter in parameters if parameter["name"] == "include")
    assert include["in"] == "query"
    assert "source" in orjson.dumps(include["schema"]).decode()
