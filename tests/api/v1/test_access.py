"""Publishers, keys and who may do what (§8 auth)."""

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.db.engine import sqlalchemy_url
from tests.conftest import ADMIN, bearer, create_review, make_key, make_publisher, seed_review

OTHER = {"slug": "other", "name": "Other Checks", "url": "https://other.example/"}


def test_admin_creates_publisher_with_default_domain(client: TestClient) -> None:
    created = make_publisher(client)

    assert created["slug"] == "polygraph"
    assert created["domains"] == ["polygraph.info"]
    assert client.get("/v1/publishers/polygraph", headers=ADMIN).json()["name"] == "Polygraph.info"


def test_duplicate_publisher_slug_conflicts(client: TestClient) -> None:
    make_publisher(client)

    response = client.post("/v1/publishers", json=OTHER | {"slug": "polygraph"}, headers=ADMIN)

    assert response.status_code == 409


def test_key_is_shown_once_and_stored_only_as_a_hash(client: TestClient, database_url: str) -> None:
    make_publisher(client)
    created = client.post(
        "/v1/publishers/polygraph/keys",
        json={"name": "cms", "scopes": ["reviews:write"]},
        headers=ADMIN,
    ).json()

    listed = client.get("/v1/publishers/polygraph/keys", headers=ADMIN).json()["items"]
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM api_key")).mappings().one()
    engine.dispose()

    secret = created["key"].split("_", 2)[2]
    assert created["key"].startswith("crk_")
    assert "key" not in listed[0]
    assert listed[0]["id"] == created["id"]
    assert secret not in str(dict(stored))
    assert len(stored["secret_hash"]) == 64


def test_key_name_longer_than_its_column_is_refused(client: TestClient) -> None:
    make_publisher(client)
    body = {"name": "k" * 201, "scopes": ["reviews:write"]}

    response = client.post("/v1/publishers/polygraph/keys", json=body, headers=ADMIN)

    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "/name"


def test_revoked_key_stops_working(client: TestClient) -> None:
    make_publisher(client)
    key = make_key(client, "polygraph", "reviews:write")
    key_id = key.split("_")[1]

    assert client.delete(f"/v1/keys/{key_id}", headers=ADMIN).status_code == 204
    response = client.post("/v1/claim-reviews", json=seed_review(), headers=bearer(key))

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_writes_need_a_key(client: TestClient) -> None:
    make_publisher(client)

    response = client.post("/v1/claim-reviews", json=seed_review())

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_wrong_secret_and_malformed_header_are_401(client: TestClient) -> None:
    make_publisher(client)
    key = make_key(client, "polygraph")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    for header in (f"Bearer {forged}", "Bearer crk_nope", "Basic dXNlcjpwYXNz", "Bearer "):
        response = client.post(
            "/v1/claim-reviews", json=seed_review(), headers={"Authorization": header}
        )
        assert response.status_code == 401, header


def test_read_only_key_cannot_write(client: TestClient) -> None:
    make_publisher(client)
    reader = bearer(make_key(client, "polygraph", "reviews:read"))

    response = client.post("/v1/claim-reviews", json=seed_review(), headers=reader)

    assert response.status_code == 403


def test_publisher_keys_cannot_administer(client: TestClient, writer: dict[str, str]) -> None:
    assert client.post("/v1/publishers", json=OTHER, headers=writer).status_code == 403
    assert client.get("/v1/publishers", headers=writer).status_code == 403


def test_admin_scoped_key_can_administer(client: TestClient) -> None:
    make_publisher(client)
    admin_key = bearer(make_key(client, "polygraph", "admin"))

    assert client.post("/v1/publishers", json=OTHER, headers=admin_key).status_code == 201


def test_other_publisher_cannot_see_drafts_or_change_reviews(
    client: TestClient, writer: dict[str, str]
) -> None:
    draft = create_review(client, writer, status="draft", external_id="d")
    published = create_review(client, writer)
    make_publisher(client, **OTHER)
    intruder = bearer(make_key(client, "other", "reviews:write"))

    draft_path = f"/v1/claim-reviews/{draft['id']}"
    published_path = f"/v1/claim-reviews/{published['id']}"
    assert client.get(draft_path, headers=intruder).status_code == 404
    assert client.get(draft_path + ".jsonld", headers=intruder).status_code == 404
    assert client.get(draft_path).status_code == 404
    assert client.get(published_path, headers=intruder).status_code == 200
    assert client.patch(published_path, json={"headline": "x"}, headers=intruder).status_code == 404
    assert client.put(published_path, json=seed_review(), headers=intruder).status_code == 404
    assert client.delete(published_path, headers=intruder).status_code == 404
    assert (
        client.post(
            published_path + "/corrections", json={"text": "x"}, headers=intruder
        ).status_code
        == 404
    )
    assert client.get(published_path + "/revisions", headers=intruder).status_code == 404
    assert client.get(published_path).json()["headline"] == published["headline"]


def test_review_url_must_be_on_the_publisher_domain(
    client: TestClient, writer: dict[str, str]
) -> None:
    evil = client.post(
        "/v1/claim-reviews",
        json=seed_review(url="https://evilpolygraph.info/a.html"),
        headers=writer,
    )
    subdomain = client.post(
        "/v1/claim-reviews",
        json=seed_review(url="https://ru.polygraph.info/a.html", external_id="ru"),
        headers=writer,
    )

    assert evil.status_code == 422
    assert evil.json()["errors"][0]["path"] == "/url"
    assert subdomain.status_code == 201


def test_public_reads_can_be_switched_off(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    client.app.state.settings.public_reads = False  # type: ignore[attr-defined]
    try:
        anonymous = client.get(f"/v1/claim-reviews/{created['id']}.jsonld")
        keyed = client.get(f"/v1/claim-reviews/{created['id']}.jsonld", headers=writer)
    finally:
        client.app.state.settings.public_reads = True  # type: ignore[attr-defined]

    assert anonymous.status_code == 401
    assert keyed.status_code == 200


def test_publisher_change_rerenders_its_reviews(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)

    response = client.patch(
        "/v1/publishers/polygraph",
        json={"name": "Polygraph", "logo": "https://www.polygraph.info/logo.png"},
        headers=ADMIN,
    )
    jsonld = client.get(f"/v1/claim-reviews/{created['id']}.jsonld").json()

    assert response.status_code == 200
    assert jsonld["author"] == {
        "@type": "Organization",
        "name": "Polygraph",
        "url": "https://www.polygraph.info/",
        "logo": "https://www.polygraph.info/logo.png",
    }
    assert client.get(f"/v1/claim-reviews/{created['id']}").json()["version"] == 2


def test_rating_scale_renormalises_the_publishers_reviews(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(
        client, writer, rating={"label": "Zakharova-grade", "value": 1, "best": 5, "worst": 1}
    )
    assert created["verdict"] == "false"  # from the numeric position on the declared scale

    scale = {
        "best": 5,
        "worst": 1,
        "labels": [{"label": "Zakharova-grade", "value": 1, "verdict": "satire"}],
    }
    response = client.put("/v1/publishers/polygraph/rating-scale", json=scale, headers=ADMIN)

    assert response.status_code == 200
    assert (
        client.get("/v1/publishers/polygraph/rating-scale", headers=writer).json()["labels"][0][
            "verdict"
        ]
        == "satire"
    )
    assert client.get(f"/v1/claim-reviews/{created['id']}").json()["verdict"] == "satire"


def test_verdict_vocabulary_is_published(client: TestClient) -> None:
    body = client.get("/v1/verdicts").json()

    assert body["version"]
    assert [item["verdict"] for item in body["vocabulary"]][-1] == "unknown"
    assert any(entry["label"] == "Pants on Fire" for entry in body["entries"])
