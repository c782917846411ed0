"""POST /v1/import: every input kind, idempotency, invalid items, batches, publishers, and the
export -> import -> export round trip (hypothesis)."""

import hashlib
import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DataError

from app.config import Settings
from app.db import crud, migrate
from app.db.engine import sqlalchemy_url
from app.db.tables import metadata
from app.main import create_app
from app.services import importer, reviews
from tests.conftest import (
    ADMIN,
    ADMIN_TOKEN,
    BASE_URL,
    POSTGRES_URL,
    bearer,
    make_key,
    make_publisher,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FCE = {"slug": "fce", "name": "Fact Check Example", "url": "https://factcheck.example/"}
VER = {"slug": "ver", "name": "Verifica Ejemplo", "url": "https://verifica.example/"}
NDJSON = {"Content-Type": "application/x-ndjson"}
LD_JSON = {"Content-Type": "application/ld+json"}
HTML = {"Content-Type": "text/html"}


@pytest.fixture
def fce(client: TestClient) -> dict[str, str]:
    """Headers of a write key of Fact Check Example (factcheck.example)."""
    make_publisher(client, **FCE)
    return bearer(make_key(client, "fce", "reviews:write"))


@pytest.fixture
def ver(client: TestClient) -> dict[str, str]:
    make_publisher(client, **VER)
    return bearer(make_key(client, "ver", "reviews:write"))


def claim_review(number: int = 1, **changes: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": f"https://factcheck.example/2024/claims/{number}",
        "headline": f"Checking claim {number}",
        "claimReviewed": f"Claim number {number} is true.",
        "datePublished": "2024-03-04",
        "inLanguage": "en",
        "author": {"@type": "Organization", "name": "Fact Check Example"},
        "itemReviewed": {
            "@type": "Claim",
            "author": {"@type": "Person", "name": "Pat Example"},
            "datePublished": "2024-03-01",
            "appearance": [{"@type": "CreativeWork", "url": f"https://social.example/{number}"}],
        },
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": 1,
            "bestRating": 5,
            "worstRating": 1,
            "alternateName": "False",
        },
    }
    node.update(changes)
    return {key: value for key, value in node.items() if value is not None}


def ndjson(*nodes: Any) -> bytes:
    return b"".join(orjson.dumps(node) + b"\n" for node in nodes)


def post_import(
    client: TestClient,
    body: bytes | Any,
    headers: dict[str, str],
    *,
    content_type: dict[str, str] = LD_JSON,
    status: int = 200,
    **params: str,
) -> dict[str, Any]:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    response = client.post(
        "/v1/import", content=content, headers={**headers, **content_type}, params=params
    )
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def counts(report: dict[str, Any]) -> tuple[int, int, int, int]:
    return report["created"], report["updated"], report["unchanged"], report["invalid"]


def in_worker_processes(monkeypatch: pytest.MonkeyPatch, *, batch_size: int) -> list[int]:
    """Small batches, so that an import of a few items goes to worker processes; the list
    records how many workers each import started."""
    monkeypatch.setattr(importer, "BATCH_SIZE", batch_size)
    pooled: list[int] = []
    original = importer._prepared_in_workers

    def spy(*args: Any) -> Iterator[Any]:
        pooled.append(args[-1])
        return original(*args)

    monkeypatch.setattr(importer, "_prepared_in_workers", spy)
    return pooled


def dying_at(monkeypatch: pytest.MonkeyPatch, url_suffix: str, *, batch_size: int) -> None:
    """The import process dies (an unhandled error) when it renders the review of that URL."""
    monkeypatch.setattr(importer, "BATCH_SIZE", batch_size)
    original = reviews.new_review

    def crash(**kwargs: Any) -> Any:
        if kwargs["incoming"].url.endswith(url_suffix):
            raise RuntimeError("the process died")
        return original(**kwargs)

    monkeypatch.setattr(reviews, "new_review", crash)


def statuses(report: dict[str, Any]) -> list[tuple[int, str]]:
    return [(item["index"], item["status"]) for item in report["items"]]


def review(client: TestClient, review_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/v1/claim-reviews/{review_id}", headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def stored(client: TestClient, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get("/v1/claim-reviews", params={"limit": "100", **params}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def derived_id(url: str, claim: str) -> str:
    return "import:" + hashlib.sha256(f"{url}\n{claim}".encode()).hexdigest()[:40]


# Input kinds


def test_import_ndjson_creates_published_reviews(client: TestClient, fce: dict[str, str]) -> None:
    report = post_import(
        client, (FIXTURES / "claimreviews.ndjson").read_bytes(), fce, content_type=NDJSON
    )

    assert counts(report) == (3, 0, 0, 0)
    assert statuses(report) == [(0, "created"), (1, "created"), (2, "created")]
    first, second, third = (review(client, item["id"], fce) for item in report["items"])
    assert first["status"] == "published"
    assert first["publisher"] == "fce"
    assert first["tags"] == ["health", "vaccines"]
    assert first["external_id"] == derived_id(first["url"], first["claim_reviewed"])
    # An @id that is not one of ours is the CMS's own id: it becomes the external_id.
    assert second["external_id"] == "https://factcheck.example/claimreviews/2024-0002"
    # A ClaimReview inside a DataFeed on one line.
    assert third["url"] == "https://factcheck.example/2024/02/flood"
    jsonld = client.get(f"/v1/claim-reviews/{first['id']}.jsonld").json()
    assert jsonld["author"] == {
        "@type": "Organization",
        "name": "Fact Check Example",
        "url": "https://factcheck.example/",
    }
    # The tag rows went in with the reviews: the tag filter finds each by its own tags.
    for tag, expected in (("vaccines", [first["id"]]), ("Health", [first["id"]])):
        tagged = client.get("/v1/claim-reviews", params={"tag": tag}).json()["items"]
        assert [item["id"] for item in tagged] == expected


def test_import_json_ld_object_array_and_graph(client: TestClient, fce: dict[str, str]) -> None:
    nested = claim_review(3)
    del nested["@context"]
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "Organization", "name": "Fact Check Example"},
            {"@type": "WebPage", "name": "Page", "mainEntity": nested},
        ],
    }

    single = post_import(client, claim_review(1), fce)
    array = post_import(client, [claim_review(1), claim_review(2)], fce)
    in_graph = post_import(client, graph, fce)
    twice = post_import(client, [claim_review(4), claim_review(4)], fce)

    assert statuses(single) == [(0, "created")]
    assert statuses(twice) == [(0, "created"), (1, "unchanged")]
    assert twice["items"][0]["id"] == twice["items"][1]["id"]
    assert statuses(array) == [(0, "unchanged"), (1, "created")]
    assert statuses(in_graph) == [(0, "created")]
    assert review(client, in_graph["items"][0]["id"], fce)["url"].endswith("/claims/3")


def test_import_data_commons_feed_as_admin_matches_publishers(
    client: TestClient, fce: dict[str, str], ver: dict[str, str]
) -> None:
    report = post_import(client, (FIXTURES / "datacommons-feed.json").read_bytes(), ADMIN)

    assert counts(report) == (4, 0, 0, 0)
    by_index = {item["index"]: review(client, item["id"], ADMIN) for item in report["items"]}
    assert [by_index[index]["publisher"] for index in range(4)] == ["fce", "ver", "ver", "fce"]
    # Numbers sent as strings are numbers again; http://schema.org contexts are fine.
    assert by_index[0]["rating"] == {"value": 1, "best": 5, "worst": 1, "label": "False"}
    assert by_index[1]["language"] == "es"
    assert by_index[1]["claim"]["first_appearance"] == {"url": "https://social.example/post/77"}
    assert by_index[3]["url"] == "https://factcheck.example/2024/03/bridge#toll"
    warnings = report["items"][2]["findings"]
    assert [(item["path"], item["code"]) for item in warnings] == [
        ("/dataFeedElement/2/item/1/reviewRating/bestRating", "number-repaired"),
        ("/dataFeedElement/2/item/1/reviewRating/ratingValue", "number-repaired"),
        ("/dataFeedElement/2/item/1/reviewRating/worstRating", "number-repaired"),
        ("/dataFeedElement/2/item/1/itemReviewed/appearance", "missing-recommended"),
    ]


def test_import_html_pages_with_json_ld_microdata_and_rdfa(
    client: TestClient, fce: dict[str, str], ver: dict[str, str]
) -> None:
    jsonld = post_import(
        client, (FIXTURES / "jsonld-page.html").read_bytes(), fce, content_type=HTML
    )
    microdata = post_import(
        client, (FIXTURES / "microdata-page.html").read_bytes(), fce, content_type=HTML
    )
    rdfa = post_import(client, (FIXTURES / "rdfa-page.html").read_bytes(), ver, content_type=HTML)

    assert statuses(jsonld) == [(0, "created")]
    # The second microdata item spells claimreviewed in lower case: read as claimReviewed.
    assert statuses(microdata) == [(0, "created"), (1, "created")]
    assert statuses(rdfa) == [(0, "created")]
    from_microdata = review(client, microdata["items"][0]["id"], fce)
    assert from_microdata["rating"] == {"value": 1, "best": 5, "worst": 1, "label": "False"}
    assert from_microdata["claim"]["author"] == {
        "type": "Person",
        "name": "Pat Example",
        "job_title": "City councillor",
    }
    from_rdfa = review(client, rdfa["items"][0]["id"], ver)
    assert from_rdfa["claim_reviewed"] == "El alcalde prohibió todos los coches en el centro."
    assert from_rdfa["claim"]["appearances"] == [{"url": "https://social.example/post/77"}]
    misspelt = microdata["items"][1]["findings"][0]
    assert (misspelt["path"], misspelt["code"]) == (
        "/microdata/1/claimreviewed",
        "property-repaired",
    )


# Idempotency


def test_import_again_is_unchanged_and_changed_content_is_an_update(
    client: TestClient, fce: dict[str, str]
) -> None:
    body = ndjson(claim_review(1), claim_review(2))
    first = post_import(client, body, fce, content_type=NDJSON)

    again = post_import(client, body, fce, content_type=NDJSON)
    rerated = claim_review(2, reviewRating={"@type": "Rating", "alternateName": "Misleading"})
    changed = post_import(client, ndjson(claim_review(1), rerated), fce, content_type=NDJSON)

    assert counts(again) == (0, 0, 2, 0)
    assert counts(changed) == (0, 1, 1, 0)
    assert [item["id"] for item in changed["items"]] == [item["id"] for item in first["items"]]
    updated_id = changed["items"][1]["id"]
    assert review(client, updated_id, fce)["rating"] == {"label": "Misleading"}
    history = client.get(f"/v1/claim-reviews/{updated_id}/revisions", headers=fce).json()
    assert [(row["version"], row["kind"]) for row in history["items"]] == [
        (1, "created"),
        (2, "re-rated"),
    ]
    assert len(stored(client, fce)) == 2


def test_import_applies_a_review_found_twice_in_one_input_once(
    client: TestClient, fce: dict[str, str]
) -> None:
    script = orjson.dumps(claim_review(1, headline="From the JSON-LD"))
    page = (
        b"""<html><head><script type="application/ld+json">"""
        + script
        + b"""</script></head>
    <body><div itemscope itemtype="https://schema.org/ClaimReview">
      <link itemprop="url" href="https://factcheck.example/2024/claims/1">
      <span itemprop="claimReviewed">Claim number 1 is true.</span>
      <div itemprop="reviewRating" itemscope itemtype="https://schema.org/Rating">
        <span itemprop="alternateName">False</span></div>
    </div></body></html>"""
    )

    first = post_import(client, page, fce, content_type=HTML)
    again = post_import(client, page, fce, content_type=HTML)

    assert statuses(first) == [(0, "created"), (1, "unchanged")]
    assert statuses(again) == [(0, "unchanged"), (1, "unchanged")]
    duplicate = first["items"][1]["findings"][-1]
    assert (duplicate["path"], duplicate["code"]) == ("/microdata/0", "duplicate")
    review_id = first["items"][0]["id"]
    assert first["items"][1]["id"] == review_id
    assert review(client, review_id, fce)["headline"] == "From the JSON-LD"
    assert review(client, review_id, fce)["version"] == 1


def test_import_of_our_own_json_ld_updates_that_review(
    client: TestClient, fce: dict[str, str]
) -> None:
    created = post_import(client, claim_review(1, **{"@id": "cms:story-1"}), fce)["items"][0]
    exported = client.get(f"/v1/claim-reviews/{created['id']}.jsonld").json()

    same = post_import(client, exported, fce)
    exported["headline"] = "A better headline"
    edited = post_import(client, exported, fce)

    assert statuses(same) == [(0, "unchanged")]
    assert statuses(edited) == [(0, "updated")]
    assert edited["items"][0]["id"] == created["id"]
    after = review(client, created["id"], fce)
    assert (after["headline"], after["external_id"]) == ("A better headline", "cms:story-1")


def test_import_leaves_a_retracted_review_retracted(
    client: TestClient, fce: dict[str, str]
) -> None:
    created = post_import(client, claim_review(1), fce)["items"][0]
    client.delete(f"/v1/claim-reviews/{created['id']}", headers=fce).raise_for_status()

    again = post_import(client, claim_review(1), fce)

    assert statuses(again) == [(0, "unchanged")]
    assert again["items"][0]["findings"][-1]["code"] == "retracted"
    assert client.get(f"/v1/claim-reviews/{created['id']}").status_code == 410


# Invalid items


def test_import_reports_invalid_items_with_findings_and_stores_none_of_them(
    client: TestClient, fce: dict[str, str]
) -> None:
    no_rating = claim_review(2, reviewRating={"@type": "Rating", "bestRating": 5})
    off_domain = claim_review(3, url="https://elsewhere.example/3")
    no_claim = claim_review(4, claimReviewed="  ")
    body = b"".join(
        [
            ndjson(claim_review(1), no_rating),
            b"{this is not json\n",
            ndjson(off_domain, no_claim, claim_review(5)),
        ]
    )

    report = post_import(client, body, fce, content_type=NDJSON)

    assert counts(report) == (2, 0, 0, 4)
    assert statuses(report) == [
        (0, "created"),
        (1, "invalid"),
        (2, "invalid"),
        (3, "invalid"),
        (4, "invalid"),
        (5, "created"),
    ]
    errors = [
        [(f["path"], f["code"]) for f in item["findings"] if f["severity"] == "error"]
        for item in report["items"][1:5]
    ]
    assert errors == [
        [("/1/reviewRating", "missing-rating")],
        [("/2", "invalid-json")],
        [("/3/url", "url-off-domain")],
        [("/4/claimReviewed", "missing-claim")],
    ]
    assert all(item["id"] is None for item in report["items"][1:5])
    assert sorted(item["url"] for item in stored(client, fce)) == [
        "https://factcheck.example/2024/claims/1",
        "https://factcheck.example/2024/claims/5",
    ]


def test_import_without_any_claim_review_or_json_is_refused(
    client: TestClient, fce: dict[str, str]
) -> None:
    nothing = client.post(
        "/v1/import", json={"@context": "https://schema.org", "@type": "Thing"}, headers=fce
    )
    garbage = client.post("/v1/import", content=b"{nope", headers={**fce, **LD_JSON})
    empty = client.post("/v1/import", content=b"", headers={**fce, **NDJSON})

    assert nothing.status_code == 422
    assert garbage.status_code == 400
    assert empty.status_code == 400
    assert {r.headers["content-type"] for r in (nothing, garbage, empty)} == {
        "application/problem+json"
    }


# Batches


def test_import_commits_each_batch_and_a_bad_item_does_not_sink_its_batch(
    client: TestClient, fce: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_SIZE", 3)
    original = crud.insert_reviews
    attempts: list[int] = []

    def failing_tags(**rows: Any) -> None:
        attempts.append(len(rows["reviews"]))
        original(**rows)  # the review rows are written; the savepoint must undo them
        if any("explode" in keys for keys in rows["tags"].values()):
            raise DataError("INSERT INTO review_tag ...", {}, Exception("value too long"))

    monkeypatch.setattr(crud, "insert_reviews", failing_tags)
    nodes = [claim_review(number) for number in range(8)]
    nodes[4]["keywords"] = ["explode"]
    nodes[2]["reviewRating"] = {"@type": "Rating"}

    report = post_import(client, ndjson(*nodes), fce, content_type=NDJSON)

    assert counts(report) == (6, 0, 0, 2)
    assert [index for index, status in statuses(report) if status == "invalid"] == [2, 4]
    assert report["items"][4]["findings"][-1]["code"] == "invalid-value"
    # Batches [0-2] and [6-7] in one INSERT each; [3-5] refused, then item by item.
    assert attempts == [2, 3, 1, 1, 1, 2]
    kept = stored(client, fce)
    assert sorted(item["url"] for item in kept) == sorted(
        nodes[n]["url"] for n in (0, 1, 3, 5, 6, 7)
    )
    assert {item["id"] for item in kept} == {
        item["id"] for item in report["items"] if item["status"] == "created"
    }
    for item in kept:
        history = client.get(f"/v1/claim-reviews/{item['id']}/revisions", headers=fce)
        assert [entry["version"] for entry in history.json()["items"]] == [1]


def test_import_of_several_batches_checks_and_renders_in_worker_processes_alike(
    client: TestClient, fce: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """More than one batch is prepared in worker processes, which send back compact rows: the
    reports, the stored reviews and their revisions are those of an import in one process."""
    pooled = in_worker_processes(monkeypatch, batch_size=2)
    nodes = [claim_review(number, keywords=["Arms", f"Batch {number // 2}"]) for number in range(6)]
    nodes[3]["reviewRating"] = {"@type": "Rating"}  # says nothing: invalid

    first = post_import(client, ndjson(*nodes), fce, content_type=NDJSON)
    in_one_process = post_import(client, ndjson(nodes[5]), fce, content_type=NDJSON)
    ids = [item["id"] for item in first["items"]]
    client.delete(f"/v1/claim-reviews/{ids[2]}", headers=fce).raise_for_status()
    nodes[1]["headline"] = "Checked again"
    again = post_import(client, ndjson(*nodes), fce, content_type=NDJSON)

    if (os.cpu_count() or 1) > 1:
        assert pooled == [os.cpu_count()] * 2
    assert statuses(first) == [(n, "invalid" if n == 3 else "created") for n in range(6)]
    assert statuses(again) == [
        (0, "unchanged"),
        (1, "updated"),
        (2, "unchanged"),
        (3, "invalid"),
        (4, "unchanged"),
        (5, "unchanged"),
    ]
    assert again["items"][2]["findings"][-1]["code"] == "retracted"
    assert [item["id"] for item in again["items"]] == ids
    assert in_one_process["items"][0]["id"] == ids[5]
    assert [item["findings"] for item in first["items"]][5] == in_one_process["items"][0][
        "findings"
    ]
    assert first["items"][3]["findings"] == again["items"][3]["findings"]
    assert any(f["code"] == "missing-rating" for f in first["items"][3]["findings"])
    kept = {item["id"]: item for item in stored(client, fce)}
    assert sorted(kept) == sorted(ids[n] for n in (0, 1, 4, 5))
    assert kept[ids[1]]["headline"] == "Checked again"
    assert kept[ids[0]]["tags"] == ["Arms", "Batch 0"]
    for n in (0, 1):
        history = client.get(f"/v1/claim-reviews/{ids[n]}/revisions", headers=fce).json()
        assert [row["kind"] for row in history["items"]] == ["created", "updated"][: n + 1]
    served = orjson.loads(client.get(f"/v1/claim-reviews/{ids[0]}.jsonld").content)
    assert served["keywords"] == ["Arms", "Batch 0"]


def test_import_keeps_the_batches_committed_before_a_failure(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dying_at(monkeypatch, "/claims/6", batch_size=3)
    app = create_app(settings)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        make_publisher(client, **FCE)
        key = bearer(make_key(client, "fce"))
        body = ndjson(*(claim_review(number) for number in range(9)))

        crashed = client.post("/v1/import", content=body, headers={**key, **NDJSON})
        kept = stored(client, key)

    assert crashed.status_code == 500
    # Batches [0-2] and [3-5] committed; [6-8] rolled back as a whole.
    assert len(kept) == 6


def test_import_of_keys_another_import_stored_meanwhile_updates_them(
    client: TestClient, fce: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = post_import(
        client, ndjson(*(claim_review(n) for n in range(3))), fce, content_type=NDJSON
    )
    # As if a concurrent import stored these keys after this one looked them up: the batch
    # INSERT hits the unique (publisher, external_id) constraint and falls back item by item.
    monkeypatch.setattr(importer, "_existing", lambda session, prepared: ({}, {}))
    nodes = [claim_review(0), claim_review(1, headline="Checked again"), claim_review(3)]

    report = post_import(client, ndjson(*nodes), fce, content_type=NDJSON)

    assert statuses(report) == [(0, "unchanged"), (1, "updated"), (2, "created")]
    ids = [item["id"] for item in first["items"]]
    assert [item["id"] for item in report["items"][:2]] == ids[:2]
    assert len(stored(client, fce)) == 4
    assert review(client, ids[1], fce)["headline"] == "Checked again"


def test_import_has_its_own_body_cap(settings: Settings) -> None:
    capped = settings.model_copy(update={"max_body_bytes": 1024, "max_import_bytes": 64 * 1024})
    with TestClient(create_app(capped), base_url=BASE_URL) as client:
        make_publisher(client, **FCE)
        key = {**bearer(make_key(client, "fce")), **NDJSON}
        body = ndjson(*(claim_review(number) for number in range(20)))
        assert 1024 < len(body) < 64 * 1024

        imported = client.post("/v1/import", content=body, headers=key)
        validated = client.post("/v1/validate", content=body, headers=NDJSON)
        too_large = client.post("/v1/import", content=body * 10, headers=key)

    assert imported.status_code == 200
    assert counts(imported.json()) == (20, 0, 0, 0)
    assert validated.status_code == 413
    assert too_large.status_code == 413
    assert too_large.headers["content-type"] == "application/problem+json"
    assert str(64 * 1024) in too_large.json()["detail"]


# Publishers and permissions


def test_admin_import_matches_publishers_by_author_url_or_name_or_is_told_which(
    client: TestClient, fce: dict[str, str], ver: dict[str, str]
) -> None:
    by_url = claim_review(
        1, author={"@type": "Organization", "url": "https://www.verifica.example"}
    )
    by_url["url"] = "https://verifica.example/1"
    by_name = claim_review(2, author={"@type": "Organization", "name": "fact check example"})
    by_article = claim_review(3, author=None)
    nobody = claim_review(4, author={"@type": "Organization", "name": "Unknown Desk"})
    nobody["url"] = "https://unknown.example/4"

    matched = post_import(client, [by_url, by_name, by_article, nobody], ADMIN)
    told = post_import(client, [claim_review(5, author=by_url["author"])], ADMIN, publisher="fce")
    unknown_slug = client.post(
        "/v1/import", json=claim_review(6), headers=ADMIN, params={"publisher": "nope"}
    )

    publishers = [review(client, item["id"], ADMIN)["publisher"] for item in matched["items"][:3]]
    assert publishers == ["ver", "fce", "fce"]
    assert matched["items"][3]["status"] == "invalid"
    assert matched["items"][3]["findings"][0]["code"] == "unknown-publisher"
    assert review(client, told["items"][0]["id"], ADMIN)["publisher"] == "fce"
    assert unknown_slug.status_code == 422


def test_publisher_key_imports_only_into_its_own_publisher(
    client: TestClient, fce: dict[str, str], ver: dict[str, str]
) -> None:
    theirs = claim_review(1, url="https://verifica.example/1")
    theirs["author"] = {"@type": "Organization", "name": "Verifica Ejemplo"}

    forbidden = client.post(
        "/v1/import", json=claim_review(1), headers=fce, params={"publisher": "ver"}
    )
    own_slug = post_import(client, claim_review(2), fce, publisher="fce")
    report = post_import(client, theirs, fce)

    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    assert statuses(own_slug) == [(0, "created")]
    # The author is not the key's publisher and the article is off its domains.
    assert [f["code"] for f in report["items"][0]["findings"]] == ["url-off-domain"]
    assert stored(client, ver, publisher="ver") == []


def test_import_needs_a_write_key(client: TestClient, fce: dict[str, str]) -> None:
    reader = bearer(make_key(client, "fce", "reviews:read"))

    anonymous = client.post("/v1/import", json=claim_review())
    read_only = client.post("/v1/import", json=claim_review(), headers=reader)

    assert anonymous.status_code == 401
    assert read_only.status_code == 403


# Round trip: export -> import into an empty instance -> export


@pytest.fixture(scope="session")
def second_postgres_url(postgres_url: str) -> Iterator[str]:
    parts = urlsplit(postgres_url)
    name = parts.path.lstrip("/") + "_roundtrip"
    admin = create_engine(sqlalchemy_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = urlunsplit(parts._replace(path=f"/{name}"))
    migrate.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], tuple[str, str]]:
    """Two empty databases, emptied again on every call (once per hypothesis example)."""
    if POSTGRES_URL:
        urls = (
            request.getfixturevalue("postgres_url"),
            request.getfixturevalue("second_postgres_url"),
        )

        def truncated() -> tuple[str, str]:
            for url in urls:
                engine = create_engine(sqlalchemy_url(url))
                tables = ", ".join(table.name for table in metadata.sorted_tables)
                with engine.begin() as connection:
                    connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                engine.dispose()
            return urls

        return truncated
    template = request.getfixturevalue("sqlite_template")
    numbers = itertools.count()

    def copied() -> tuple[str, str]:
        number = next(numbers)
        fresh = []
        for name in ("first", "second"):
            path = tmp_path / f"{name}-{number}.db"
            shutil.copyfile(template, path)
            fresh.append(f"sqlite:///{path}")
        return fresh[0], fresh[1]

    return copied


def instance(database_url: str) -> TestClient:
    settings = Settings(database_url=database_url, admin_token=ADMIN_TOKEN, base_url=BASE_URL)
    return TestClient(create_app(settings), base_url=BASE_URL)


PUBLISHER = {
    "slug": "polygraph",
    "name": "Polygraph.info",
    "url": "https://www.polygraph.info/",
    "logo": "https://www.polygraph.info/logo.png",
    "same_as": ["https://social.example/polygraph"],
}
# Tidy text, as the service stores it once markup is repaired: no runs of spaces, and no "&" or
# "<" that could read as an HTML entity or tag (the importer decodes those).
_LETTERS = st.characters(
    codec="utf-8", categories=("L", "N", "P", "Zs"), exclude_characters="\u2028\u2029&<"
)
text_ = st.text(_LETTERS, min_size=1, max_size=60).map(lambda t: " ".join(t.split())).filter(bool)
short = st.text(_LETTERS, min_size=1, max_size=30).map(lambda t: " ".join(t.split())).filter(bool)
slug = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
web_url = st.builds("https://{}.example/{}".format, st.sampled_from(["a", "b", "news"]), slug)
day = st.dates(min_value=date(1995, 1, 1)).map(lambda d: d.isoformat())
moment = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2030, 1, 1),
).map(lambda d: d.replace(microsecond=0).isoformat() + "Z")


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


appearance = st.fixed_dictionaries(
    {"url": web_url},
    optional={"date_published": day, "archived_at": web_url, "platform": short},
)
claimant = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("Person"), "name": short},
        optional={"job_title": short, "same_as": st.lists(web_url, max_size=2)},
    ),
    st.fixed_dictionaries(
        {"type": st.just("Organization"), "name": short}, optional={"image": web_url}
    ),
)


@st.composite
def ratings(draw: st.DrawFn) -> dict[str, Any]:
    rating: dict[str, Any] = {
        "label": draw(st.sampled_from(["False", "Mostly false", "Misleading", "True", "Falso"]))
    }
    if draw(st.booleans()):
        worst = draw(st.integers(1, 2))
        best = draw(st.integers(worst + 1, 10))
        value = draw(
            st.one_of(st.integers(worst, best), st.floats(worst, best).map(lambda f: round(f, 1)))
        )
        rating |= {"worst": worst, "best": best, "value": value}
    if draw(st.booleans()):
        rating["explanation"] = draw(text_)
    return rating


@st.composite
def native_reviews(draw: st.DrawFn, number: int) -> dict[str, Any]:
    anchor = draw(optional(slug))
    url = f"https://www.polygraph.info/a/{number}-{draw(slug)}.html" + (
        f"#{anchor}" if anchor else ""
    )
    native: dict[str, Any] = {
        "url": url,
        "claim_reviewed": draw(text_),
        # A review without a language gets one on import (detected from its claim): the round
        # trip holds for reviews that name theirs.
        "language": draw(st.sampled_from(["en", "pt-BR", "es", "ru", "zh-Hant"])),
        "rating": draw(ratings()),
        "claim": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "author": claimant,
                    "date": day,
                    "appearances": st.lists(appearance, min_size=1, max_size=3),
                    "first_appearance": appearance,
                    "location": short,
                },
            )
        ),
    }
    optional_fields = {
        "headline": text_,
        "date_published": st.one_of(day, moment),
        "authors": st.lists(
            st.fixed_dictionaries({"name": short}, optional={"url": web_url}), max_size=2
        ),
        "image": web_url,
        "tags": st.lists(short, max_size=4),
        "corrections": st.lists(st.fixed_dictionaries({"date": day, "text": text_}), max_size=2),
    }
    for name, strategy in optional_fields.items():
        value = draw(optional(strategy))
        if value:
            native[name] = value
    return native


@st.composite
def review_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 4))
    return [draw(native_reviews(number)) for number in range(count)]


def export(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/v1/export", params={"format": "ndjson"})
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.content.splitlines()]


def without_server_fields(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: without_server_fields(value)
            for key, value in node.items()
            if key not in ("@id", "dateModified")
        }
    if isinstance(node, list):
        return [without_server_fields(item) for item in node]
    return node


@hypothesis_settings(
    max_examples=20,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(natives=review_sets())
def test_export_import_export_gives_the_same_claim_reviews(
    empty_databases: Callable[[], tuple[str, str]], natives: list[dict[str, Any]]
) -> None:
    first_url, second_url = empty_databases()
    with instance(first_url) as first:
        make_publisher(first, **PUBLISHER)
        key = bearer(make_key(first, "polygraph"))
        for native in natives:
            response = first.post("/v1/claim-reviews", json=native, headers=key)
            assert response.status_code == 201, response.text
        exported = export(first)
    with instance(second_url) as second:
        make_publisher(second, **PUBLISHER)
        body = b"".join(orjson.dumps(node) + b"\n" for node in exported)
        report = post_import(second, body, ADMIN, content_type=NDJSON)
        again = export(second)

    assert counts(report) == (len(natives), 0, 0, 0)
    assert sorted(orjson.dumps(without_server_fields(node)) for node in again) == sorted(
        orjson.dumps(without_server_fields(node)) for node in exported
    )
