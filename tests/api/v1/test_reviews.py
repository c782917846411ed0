"""Claim reviews over HTTP: the §8 "Reviews" endpoints end to end."""

from typing import Any

import orjson
from fastapi.testclient import TestClient

from tests.conftest import (
    ADMIN,
    BASE_URL,
    EXAMPLES,
    bearer,
    create_review,
    load_example,
    make_key,
    make_publisher,
    seed_review,
)


def expected_jsonld(review_id: str, date_modified: str) -> bytes:
    text = (EXAMPLES / "seed-factcheck.jsonld").read_text()
    text = text.replace("{id}", review_id).replace(
        "{server time of the last change, RFC 3339}", date_modified
    )
    return orjson.dumps(orjson.loads(text))


def test_create_seed_review_returns_location_etag_and_native_json(
    client: TestClient, writer: dict[str, str]
) -> None:
    response = client.post("/v1/claim-reviews", json=seed_review(), headers=writer)

    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"{BASE_URL}/v1/claim-reviews/{body['id']}"
    assert response.headers["etag"] == f'"{body["id"]}.1"'
    assert body["publisher"] == "polygraph"
    assert body["status"] == "published"
    assert body["version"] == 1
    assert body["verdict"] == "false"
    assert body["claim"]["author"]["name"] == "Maria Zakharova"
    assert body["findings"] == []


def test_seed_review_renders_exactly_the_example_jsonld(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer)

    response = client.get(f"/v1/claim-reviews/{created['id']}.jsonld")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert response.content == expected_jsonld(created["id"], created["updated_at"])


def test_get_negotiates_jsonld_by_accept_header(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"

    as_ld = client.get(path, headers={"Accept": "application/ld+json"})
    as_native = client.get(path)

    assert as_ld.headers["content-type"] == "application/ld+json"
    assert as_ld.json()["@type"] == "ClaimReview"
    assert as_native.headers["content-type"] == "application/json"
    assert as_native.json() == created
    assert as_ld.headers["etag"] != as_native.headers["etag"]


def test_reads_are_deterministic_and_cacheable(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}.jsonld"

    first, second = client.get(path), client.get(path)
    not_modified = client.get(path, headers={"If-None-Match": first.headers["etag"]})

    assert first.content == second.content
    assert first.headers["cache-control"].startswith("public")
    assert "last-modified" in first.headers
    assert not_modified.status_code == 304
    assert not_modified.content == b""


def test_put_replaces_bumps_version_and_refreshes_date_modified(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"
    changed = seed_review(headline="Russia denies arms deal with North Korea")

    response = client.put(
        path, json=changed, headers={**writer, "If-Match": f'"{created["id"]}.1"'}
    )

    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response.json()["headline"] == "Russia denies arms deal with North Korea"
    jsonld = client.get(path + ".jsonld").json()
    assert jsonld["headline"] == "Russia denies arms deal with North Korea"
    assert jsonld["dateModified"] == response.json()["updated_at"]
    assert jsonld["dateModified"] >= created["updated_at"]


def test_put_with_stale_if_match_is_refused(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"
    client.patch(path, json={"headline": "First edit"}, headers=writer)

    response = client.put(
        path, json=seed_review(), headers={**writer, "If-Match": f'"{created["id"]}.1"'}
    )

    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get(path).json()["headline"] == "First edit"


def test_patch_merges_and_null_removes(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"

    response = client.patch(
        path,
        content=orjson.dumps({"rating": {"label": "Misleading", "value": 2}, "tags": None}),
        headers={**writer, "Content-Type": "application/merge-patch+json"},
    )

    body = response.json()
    assert response.status_code == 200
    assert body["rating"]["label"] == "Misleading"
    assert body["rating"]["best"] == 5
    assert "tags" not in body
    assert body["verdict"] == "misleading"
    assert "keywords" not in client.get(path + ".jsonld").json()


def test_patch_accepts_matching_if_match_of_either_representation(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"
    ld_etag = client.get(path + ".jsonld").headers["etag"]

    response = client.patch(path, json={"headline": "x"}, headers={**writer, "If-Match": ld_etag})

    assert response.status_code == 200


def test_delete_retracts_and_later_reads_answer_410(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"

    deleted = client.delete(path, headers=writer)

    assert deleted.status_code == 204
    for url in (path, path + ".jsonld"):
        gone = client.get(url)
        assert gone.status_code == 410
        assert gone.headers["content-type"] == "application/problem+json"
    assert client.delete(path, headers=writer).status_code == 410
    assert client.patch(path, json={"headline": "x"}, headers=writer).status_code == 410


def test_upsert_by_external_id_creates_then_replaces(
    client: TestClient, writer: dict[str, str]
) -> None:
    path = "/v1/claim-reviews/by-external-id/cms-42"
    body = seed_review()
    del body["external_id"]

    first = client.put(path, json=body, headers=writer)
    second = client.put(path, json={**body, "headline": "Updated"}, headers=writer)
    unchanged = client.put(path, json={**body, "headline": "Updated"}, headers=writer)

    assert first.status_code == 201
    assert first.json()["external_id"] == "cms-42"
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["version"] == 2
    assert unchanged.status_code == 200
    assert unchanged.json()["version"] == 2


def test_upsert_finds_the_review_by_its_stored_external_id(
    client: TestClient, writer: dict[str, str]
) -> None:
    body = seed_review()
    del body["external_id"]
    first = client.put("/v1/claim-reviews/by-external-id/cms-42", json=body, headers=writer)

    padded = client.put("/v1/claim-reviews/by-external-id/%20cms-42%20", json=body, headers=writer)

    assert padded.status_code == 200
    assert padded.json()["id"] == first.json()["id"]


def test_duplicate_external_id_conflicts(client: TestClient, writer: dict[str, str]) -> None:
    create_review(client, writer)

    response = client.post("/v1/claim-reviews", json=seed_review(), headers=writer)

    assert response.status_code == 409
    assert response.json()["errors"][0]["path"] == "/external_id"


def test_corrections_are_published_and_recorded(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"

    response = client.post(
        path + "/corrections",
        json={"text": "An earlier version misstated the date.", "date": "2024-02-01"},
        headers=writer,
    )

    assert response.status_code == 201
    assert response.json()["version"] == 2
    jsonld = client.get(path + ".jsonld").json()
    assert jsonld["correction"] == [
        {
            "@type": "CorrectionComment",
            "datePublished": "2024-02-01",
            "text": "An earlier version misstated the date.",
        }
    ]
    revisions = client.get(path + "/revisions", headers=writer).json()["items"]
    assert [item["kind"] for item in revisions] == ["created", "corrected"]


def test_every_change_writes_a_revision(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"
    client.patch(path, json={"headline": "Edited"}, headers=writer)
    client.patch(path, json={"rating": {"label": "Misleading"}}, headers=writer)
    client.delete(path, headers=writer)

    revisions = client.get(path + "/revisions", headers=writer).json()["items"]
    second = client.get(path + "/revisions/2", headers=writer).json()

    assert [(r["version"], r["kind"]) for r in revisions] == [
        (1, "created"),
        (2, "updated"),
        (3, "re-rated"),
        (4, "retracted"),
    ]
    assert second["document"]["headline"] == "Edited"
    assert second["jsonld"]["headline"] == "Edited"
    assert client.get(path + "/revisions/9", headers=writer).status_code == 404


def test_idempotency_key_replays_the_first_response(
    client: TestClient, writer: dict[str, str]
) -> None:
    headers = {**writer, "Idempotency-Key": "create-seed-1"}
    body = seed_review(external_id=None)

    first = client.post("/v1/claim-reviews", json=body, headers=headers)
    again = client.post("/v1/claim-reviews", json=body, headers=headers)
    other = client.post("/v1/claim-reviews", json={**body, "headline": "x"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422
    listing = [client.get(first.headers["location"]).status_code]
    assert listing == [200]


def test_jsonld_input_is_mapped_onto_the_native_model(
    client: TestClient, writer: dict[str, str]
) -> None:
    document = load_example("seed-factcheck.jsonld")
    for key in ("@id", "dateModified"):
        del document[key]
    del document["itemReviewed"]["@id"]

    response = client.post(
        "/v1/claim-reviews",
        content=orjson.dumps(document),
        headers={**writer, "Content-Type": "application/ld+json"},
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["claim_reviewed"] == document["claimReviewed"]
    assert created["rating"]["label"] == "False"
    assert created["claim"]["author"]["job_title"].startswith("Spokeswoman")
    rendered = client.get(f"/v1/claim-reviews/{created['id']}.jsonld").json()
    assert rendered["reviewRating"] == document["reviewRating"]
    assert rendered["itemReviewed"]["appearance"] == document["itemReviewed"]["appearance"]


def test_jsonld_input_is_repaired_and_the_answer_lists_the_repairs(
    client: TestClient, writer: dict[str, str]
) -> None:
    document: dict[str, Any] = load_example("seed-factcheck.jsonld")
    document["claimreviewed"] = document.pop("claimReviewed")
    document["datePublished"] = "2024-01-17 09:30"

    response = client.post(
        "/v1/claim-reviews",
        content=orjson.dumps(document),
        headers={**writer, "Content-Type": "application/ld+json"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["claim_reviewed"] == load_example("seed-factcheck.json")["claim_reviewed"]
    assert body["date_published"] == "2024-01-17T09:30:00Z"
    assert [(item["path"], item["code"]) for item in body["repairs"]] == [
        ("/datePublished", "date-repaired"),
        ("/dateModified", "date-unreadable"),  # the example's placeholder
        ("/claimreviewed", "property-repaired"),
    ]
    stored = client.get(response.headers["Location"], headers=writer).json()
    assert "repairs" not in stored


def test_jsonld_input_without_a_claim_is_refused_naming_it(
    client: TestClient, writer: dict[str, str]
) -> None:
    document: dict[str, Any] = load_example("seed-factcheck.jsonld")
    del document["claimReviewed"]

    response = client.post(
        "/v1/claim-reviews",
        content=orjson.dumps(document),
        headers={**writer, "Content-Type": "application/ld+json"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["path"] for error in response.json()["errors"]] == ["/claimReviewed"]


def test_several_reviews_share_an_article_with_anchors(
    client: TestClient, writer: dict[str, str]
) -> None:
    article = "https://www.polygraph.info/a/roundup.html"
    first = create_review(client, writer, external_id="a", url=article + "#claim-1")
    second = create_review(client, writer, external_id="b", url=article + "#claim-2")

    ld_first = client.get(f"/v1/claim-reviews/{first['id']}.jsonld").json()
    ld_second = client.get(f"/v1/claim-reviews/{second['id']}.jsonld").json()

    assert ld_first["url"].endswith("#claim-1")
    assert ld_second["url"].endswith("#claim-2")
    assert ld_first["@id"] != ld_second["@id"]


def test_organization_claimant_is_rendered_as_organization(
    client: TestClient, writer: dict[str, str]
) -> None:
    claim = {
        "author": {"type": "Organization", "name": "Ministry of Foreign Affairs of Russia"},
        "date": "2024-01-26T09:30:00+03:00",
    }
    created = create_review(client, writer, claim=claim)

    jsonld = client.get(f"/v1/claim-reviews/{created['id']}.jsonld").json()

    assert jsonld["itemReviewed"]["author"] == {
        "@type": "Organization",
        "name": "Ministry of Foreign Affairs of Russia",
    }
    assert jsonld["itemReviewed"]["datePublished"] == "2024-01-26T06:30:00Z"


def test_numbers_stay_numbers(client: TestClient, writer: dict[str, str]) -> None:
    rating = {"value": 2.5, "best": 5.0, "worst": 1, "label": "Half true"}
    created = create_review(client, writer, rating=rating)

    raw = client.get(f"/v1/claim-reviews/{created['id']}.jsonld").content

    assert b'"ratingValue":2.5' in raw
    assert b'"bestRating":5,' in raw
    assert b"null" not in raw
    assert b"[]" not in raw


def test_admin_writes_for_a_named_publisher(client: TestClient) -> None:
    make_publisher(client)

    response = client.post(
        "/v1/claim-reviews", json=seed_review(publisher="polygraph"), headers=ADMIN
    )
    without_publisher = client.post("/v1/claim-reviews", json=seed_review(), headers=ADMIN)

    assert response.status_code == 201
    assert response.json()["publisher"] == "polygraph"
    assert without_publisher.status_code == 422
    assert without_publisher.json()["errors"][0]["path"] == "/publisher"


def test_key_cannot_write_for_another_publisher(client: TestClient, writer: dict[str, str]) -> None:
    make_publisher(client, slug="other", name="Other", url="https://other.example/")

    response = client.post("/v1/claim-reviews", json=seed_review(publisher="other"), headers=writer)

    assert response.status_code == 403
    assert response.json()["errors"][0]["path"] == "/publisher"


def test_read_only_key_reads_own_drafts(client: TestClient, writer: dict[str, str]) -> None:
    draft = create_review(client, writer, status="draft")
    reader = bearer(make_key(client, "polygraph", "reviews:read"))

    response = client.get(f"/v1/claim-reviews/{draft['id']}", headers=reader)

    assert response.status_code == 200
    assert response.json()["status"] == "draft"
    assert response.headers["cache-control"] == "private, no-cache"


def test_upsert_republishes_a_retracted_review(client: TestClient, writer: dict[str, str]) -> None:
    path = "/v1/claim-reviews/by-external-id/cms-7"
    body = seed_review(external_id=None)
    created = client.put(path, json=body, headers=writer).json()
    client.delete(f"/v1/claim-reviews/{created['id']}", headers=writer)

    revived = client.put(path, json=body, headers=writer)

    assert revived.status_code == 200
    assert revived.json()["status"] == "published"
    assert client.get(f"/v1/claim-reviews/{created['id']}.jsonld").status_code == 200
