"""Syndication partners (issue 16): accounts, their keys, and the webhooks a partner, a
publisher or the platform owns. The isolation matrix adds a partner's key to every route;
these tests cover what a single status cannot show."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest import (
    ADMIN,
    bearer,
    create_review,
    make_key,
    make_publisher,
    seed_review,
)
from tests.served import eventually
from tests.webhook_receiver import Receiver, running_receiver

PARTNER = {"slug": "factbase", "name": "Factbase Aggregator", "url": "https://factbase.example/"}
SECRET = "whsec-partner-shared-secret-0123"
DRAFT_MARKER = "qz8partnerdraftmarker"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A quick dispatcher, and receivers on 127.0.0.1 allowed."""
    return settings.model_copy(
        update={"outbound_allow_private": True, "dispatcher_interval_seconds": 0.05}
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def make_partner(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/partners", json={**PARTNER, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def partner_key(client: TestClient, slug: str, *scopes: str) -> dict[str, str]:
    body = {"name": "syndication", "scopes": list(scopes)}
    response = client.post(f"/v1/partners/{slug}/keys", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return bearer(response.json()["key"])


def subscribe(client: TestClient, headers: dict[str, str], url: str, **body: Any) -> Any:
    return client.post("/v1/webhooks", json={"url": url, "secret": SECRET, **body}, headers=headers)


def assert_problem(response: Any, status: int, path: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if path is not None:
        assert path in [error["path"] for error in response.json()["errors"]], response.text


# Partners and their keys


def test_create_partner_then_read_and_list_it(client: TestClient) -> None:
    created = make_partner(client)
    other = make_partner(client, slug="archive", name="Claims Archive", url="https://a.example/")

    fetched = client.get("/v1/partners/factbase", headers=ADMIN)
    listed = client.get("/v1/partners", headers=ADMIN)
    missing = client.get("/v1/partners/nobody", headers=ADMIN)

    assert created == {
        **PARTNER,
        "created_at": created["created_at"],
        "updated_at": created["created_at"],
    }
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert listed.json() == {"items": [other, created]}  # by slug
    assert_problem(missing, 404)


def test_create_partner_refuses_a_taken_slug_and_names_bad_fields(client: TestClient) -> None:
    make_partner(client)
    cases: list[tuple[dict[str, Any], int, str]] = [
        (PARTNER, 409, "/slug"),
        ({**PARTNER, "slug": "Not A Slug"}, 422, "/slug"),
        ({**PARTNER, "slug": "ok", "url": "ftp://x.example/"}, 422, "/url"),
        ({"slug": "ok", "url": "https://x.example/"}, 422, "/name"),
        ({**PARTNER, "slug": "ok", "name": "x\u0000y"}, 422, "/name"),
        ({**PARTNER, "slug": "ok", "domains": ["x.example"]}, 422, "/domains"),
    ]

    for body, status, path in cases:
        assert_problem(client.post("/v1/partners", json=body, headers=ADMIN), status, path)
    assert [item["slug"] for item in client.get("/v1/partners", headers=ADMIN).json()["items"]] == [
        "factbase"
    ]


def test_partner_keys_hold_only_read_and_webhook_scopes(client: TestClient) -> None:
    make_partner(client)
    path = "/v1/partners/factbase/keys"

    created = client.post(
        path, json={"name": "feed", "scopes": ["webhooks:manage", "reviews:read"]}, headers=ADMIN
    )
    writer = client.post(
        path, json={"name": "w", "scopes": ["reviews:read", "reviews:write"]}, headers=ADMIN
    )
    admin = client.post(path, json={"name": "a", "scopes": ["admin"]}, headers=ADMIN)
    none = client.post(path, json={"name": "n", "scopes": []}, headers=ADMIN)
    unknown = client.post(
        "/v1/partners/nobody/keys", json={"name": "x", "scopes": ["reviews:read"]}, headers=ADMIN
    )
    listed = client.get(path, headers=ADMIN)

    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith(f"crk_{key['id']}_")
    assert (key["partner"], key["name"], key["scopes"]) == (
        "factbase",
        "feed",
        ["reviews:read", "webhooks:manage"],
    )
    assert_problem(writer, 422, "/scopes/1")
    assert "'reviews:write' is not a partner scope" in writer.json()["errors"][0]["message"]
    assert_problem(admin, 422, "/scopes/0")
    assert "'admin'" in admin.json()["errors"][0]["message"]
    assert_problem(none, 422, "/scopes")
    assert_problem(unknown, 404)
    assert listed.json() == {"items": [{k: v for k, v in key.items() if k != "key"}]}
    assert key["key"] not in listed.text
    schema = client.get("/openapi.json").json()["components"]["schemas"]["PartnerKeyCreate"]
    assert schema["properties"]["scopes"]["items"]["enum"] == ["reviews:read", "webhooks:manage"]


def test_a_revoked_partner_key_stops_working(client: TestClient) -> None:
    make_partner(client)
    headers = partner_key(client, "factbase", "reviews:read", "webhooks:manage")
    key_id = headers["Authorization"].split("_")[1]
    assert client.get("/v1/webhooks", headers=headers).status_code == 200

    revoked = client.delete(f"/v1/keys/{key_id}", headers=ADMIN)
    listed = client.get("/v1/partners/factbase/keys", headers=ADMIN).json()["items"]

    assert revoked.status_code == 204
    assert_problem(client.get("/v1/webhooks", headers=headers), 401)
    assert_problem(client.get("/v1/claim-reviews", headers=headers), 401)
    assert listed[0]["revoked_at"] is not None


def test_a_partner_key_reads_published_reviews_never_drafts_and_never_writes(
    client: TestClient, writer: dict[str, str]
) -> None:
    published = create_review(client, writer)
    draft = create_review(
        client,
        writer,
        status="draft",
        external_id="draft-1",
        url="https://www.polygraph.info/draft-1",
        headline=f"Draft {DRAFT_MARKER}",
    )
    make_partner(client)
    partner = partner_key(client, "factbase", "reviews:read", "webhooks:manage")

    reads = {
        "published": client.get(f"/v1/claim-reviews/{published['id']}", headers=partner),
        "draft": client.get(f"/v1/claim-reviews/{draft['id']}", headers=partner),
        "draft JSON-LD": client.get(f"/v1/claim-reviews/{draft['id']}.jsonld", headers=partner),
        "draft embed": client.get(f"/v1/claim-reviews/{draft['id']}/embed", headers=partner),
        "draft history": client.get(f"/v1/claim-reviews/{draft['id']}/revisions", headers=partner),
        "drafts listed": client.get(
            "/v1/claim-reviews", params={"status": "draft"}, headers=partner
        ),
        "drafts exported": client.get(
            "/v1/export",
            params={"status": "draft"},
            headers=partner | {"Accept-Encoding": "identity"},
        ),
        "publisher": client.get("/v1/publishers/polygraph", headers=partner),
    }
    writes = {
        "create": client.post("/v1/claim-reviews", json=seed_review(), headers=partner),
        "patch": client.patch(
            f"/v1/claim-reviews/{published['id']}", json={"headline": "x"}, headers=partner
        ),
        "retract": client.delete(f"/v1/claim-reviews/{published['id']}", headers=partner),
        "correct": client.post(
            f"/v1/claim-reviews/{published['id']}/corrections", json={"text": "x"}, headers=partner
        ),
        "import": client.post(
            "/v1/import",
            content=b'{"@type": "ClaimReview"}',
            headers=partner | {"Content-Type": "application/ld+json"},
        ),
        "publisher": client.post(
            "/v1/publishers", json={**PARTNER, "slug": "mine"}, headers=partner
        ),
    }

    assert reads["published"].status_code == 200
    for name in ("draft", "draft JSON-LD", "draft embed", "draft history", "publisher"):
        assert_problem(reads[name], 404)
    assert reads["drafts listed"].json()["items"] == []
    assert reads["drafts exported"].status_code == 200
    for response in reads.values():
        assert DRAFT_MARKER not in response.text
    for name, response in writes.items():
        assert response.status_code == 403, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/v1/claim-reviews/{published['id']}").json()["version"] == 1


# Webhooks: publisher, partner or platform


def test_a_partner_manages_its_own_webhooks_with_webhooks_manage(
    client: TestClient, receiver: Receiver
) -> None:
    make_publisher(client)
    make_partner(client)
    make_partner(client, slug="archive", name="Claims Archive", url="https://a.example/")
    manager = partner_key(client, "factbase", "webhooks:manage")
    reader = partner_key(client, "factbase", "reviews:read")
    rival = partner_key(client, "archive", "reviews:read", "webhooks:manage")
    publisher = bearer(make_key(client, "polygraph", "reviews:write"))

    created = subscribe(client, manager, receiver.url("/factbase"), filters={"language": "en"})
    theirs = subscribe(client, rival, receiver.url("/archive")).json()["id"]
    publishers = subscribe(client, publisher, receiver.url("/polygraph")).json()["id"]
    platform = subscribe(client, ADMIN, receiver.url("/platform")).json()["id"]
    mine = created.json()["id"]

    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in ("publisher", "partner", "filters")} == {
        "publisher": None,
        "partner": "factbase",
        "filters": {"language": "en"},
    }
    listed = client.get("/v1/webhooks", headers=manager).json()["items"]
    assert [item["id"] for item in listed] == [mine]
    assert client.get(f"/v1/webhooks/{mine}", headers=manager).json() == created.json()
    assert client.get(f"/v1/webhooks/{mine}/deliveries", headers=manager).json() == {"items": []}
    # Nobody else's: another partner's, a publisher's, the platform's all answer 404.
    for foreign in (theirs, publishers, platform):
        for response in (
            client.get(f"/v1/webhooks/{foreign}", headers=manager),
            client.get(f"/v1/webhooks/{foreign}/deliveries", headers=manager),
            client.delete(f"/v1/webhooks/{foreign}", headers=manager),
        ):
            assert_problem(response, 404)
    for outsider in (rival, publisher):
        assert_problem(client.get(f"/v1/webhooks/{mine}", headers=outsider), 404)
        assert_problem(client.delete(f"/v1/webhooks/{mine}", headers=outsider), 404)
    # reviews:read alone manages no webhook.
    assert_problem(subscribe(client, reader, receiver.url("/nope")), 403)
    assert_problem(client.get("/v1/webhooks", headers=reader), 403)
    assert_problem(client.get(f"/v1/webhooks/{mine}", headers=reader), 403)
    assert_problem(client.delete(f"/v1/webhooks/{mine}", headers=reader), 403)
    # A partner owns only its own webhooks: naming a publisher is refused.
    assert_problem(
        subscribe(client, manager, receiver.url("/x"), publisher="polygraph"), 403, "/publisher"
    )
    everything = client.get("/v1/webhooks", headers=ADMIN).json()["items"]
    assert {item["id"] for item in everything} == {mine, theirs, publishers, platform}
    assert client.delete(f"/v1/webhooks/{mine}", headers=manager).status_code == 204
    assert client.get("/v1/webhooks", headers=manager).json() == {"items": []}


def test_the_admin_creates_a_platform_webhook_with_only_filters(
    client: TestClient, receiver: Receiver
) -> None:
    make_publisher(client)
    admin_key = bearer(make_key(client, "polygraph", "admin"))
    body = {
        "url": receiver.url(),
        "secret": SECRET,
        "events": ["review.published"],
        "filters": {"publisher": "polygraph"},
    }

    by_token = client.post("/v1/webhooks", json=body, headers=ADMIN)
    by_key = client.post("/v1/webhooks", json=body, headers=admin_key)
    for_its_publisher = client.post(
        "/v1/webhooks", json={**body, "publisher": "polygraph"}, headers=admin_key
    )

    for response in (by_token, by_key):
        assert response.status_code == 201, response.text
        assert (response.json()["publisher"], response.json()["partner"]) == (None, None)
        assert response.json()["filters"] == {"publisher": "polygraph"}
    assert for_its_publisher.json()["publisher"] == "polygraph"


def test_publisher_keys_need_webhooks_manage_unless_they_write(
    client: TestClient, receiver: Receiver
) -> None:
    make_publisher(client)
    read_only = bearer(make_key(client, "polygraph", "reviews:read"))
    read_and_manage = bearer(make_key(client, "polygraph", "reviews:read", "webhooks:manage"))
    manage_only = bearer(make_key(client, "polygraph", "webhooks:manage"))
    write = bearer(make_key(client, "polygraph", "reviews:write"))

    refused = subscribe(client, read_only, receiver.url())
    made = [subscribe(client, k, receiver.url()) for k in (read_and_manage, manage_only, write)]

    assert_problem(refused, 403)
    assert "webhooks:manage" in refused.json()["detail"]
    assert [response.status_code for response in made] == [201, 201, 201]
    assert {response.json()["publisher"] for response in made} == {"polygraph"}
    # webhooks:manage grants no reading: a publisher's drafts stay out of its reach.
    draft = create_review(client, write, status="draft")
    assert_problem(client.get(f"/v1/claim-reviews/{draft['id']}", headers=manage_only), 404)
    drafts = client.get("/v1/claim-reviews", params={"status": "draft"}, headers=manage_only)
    assert drafts.json()["items"] == []
    assert client.get("/v1/claim-reviews", params={"status": "draft"}, headers=write).json()[
        "items"
    ]


def test_partner_and_platform_webhooks_receive_published_reviews_only(
    client: TestClient, receiver: Receiver
) -> None:
    """Through the real dispatcher: a draft sends nothing; publishing it sends its published
    JSON-LD; taking it back to draft sends a tombstone without the draft's text. An existing
    publisher webhook (once made with a read key) keeps receiving alongside."""
    writer = bearer(make_key(client, make_publisher(client)["slug"], "reviews:write"))
    make_publisher(client, slug="maldita", name="Maldita.es", url="https://maldita.es/")
    maldita = bearer(make_key(client, "maldita", "reviews:write"))
    make_partner(client)
    partner = partner_key(client, "factbase", "webhooks:manage")
    hooks = {
        "/partner": subscribe(client, partner, receiver.url("/partner")),
        "/platform": subscribe(
            client, ADMIN, receiver.url("/platform"), filters={"publisher": "polygraph"}
        ),
        "/publisher": subscribe(client, ADMIN, receiver.url("/publisher"), publisher="polygraph"),
    }
    assert {response.status_code for response in hooks.values()} == {201}

    draft = create_review(client, writer, status="draft", headline=f"Draft {DRAFT_MARKER}")
    path = f"/v1/claim-reviews/{draft['id']}"
    published = client.patch(
        path,
        json={"status": "published", "headline": "Published headline"},
        headers=writer | {"Content-Type": "application/merge-patch+json"},
    )
    assert published.status_code == 200, published.text
    published_jsonld = client.get(path + ".jsonld").json()
    other = create_review(
        client, maldita, url="https://maldita.es/b.html", external_id="m-1", language="es"
    )
    unpublished = client.patch(
        path,
        json={"status": "draft", "headline": f"Back to draft {DRAFT_MARKER}"},
        headers=writer | {"Content-Type": "application/merge-patch+json"},
    )
    assert unpublished.status_code == 200, unpublished.text
    receiver.wait_for(3, "/partner")
    receiver.wait_for(2, "/platform")
    receiver.wait_for(3, "/publisher")
    for route, response in hooks.items():
        headers = ADMIN if route != "/partner" else partner
        eventually(lambda r=response, h=headers: _settled(client, h, r.json()["id"]))

    def sent(route: str) -> list[tuple[str, str, int]]:
        return [
            (r.json()["review_id"], r.json()["type"], r.json()["version"])
            for r in receiver.received(route)
        ]

    ours = [(draft["id"], "review.published", 2), (draft["id"], "review.retracted", 3)]
    everything = [ours[0], (other["id"], "review.published", 1), ours[1]]
    assert sent("/partner") == everything
    assert sent("/platform") == ours  # its filter
    assert sent("/publisher") == everything  # the owner never narrows what is sent
    for route in hooks:
        bodies = [request.json() for request in receiver.received(route)]
        assert DRAFT_MARKER not in str(bodies)
        assert bodies[0]["data"] == published_jsonld
        assert bodies[-1]["data"] == {"@id": published_jsonld["@id"], "url": draft["url"]}


def _settled(client: TestClient, headers: dict[str, str], webhook_id: str) -> Any:
    items = client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=headers).json()["items"]
    return items if items and all(item["status"] == "delivered" for item in items) else None
