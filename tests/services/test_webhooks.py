"""Signed webhooks (§8): subscriptions over HTTP, and deliveries sent by the real dispatcher to a
real receiver on 127.0.0.1 — retries, failure, filters, two dispatchers, and a crash."""

import hmac
import re
import signal
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import (
    ADMIN,
    BASE_URL,
    REPO,
    SEED_PUBLISHER,
    bearer,
    create_review,
    make_key,
    make_publisher,
    seed_review,
)
from tests.served import environment, eventually, serve
from tests.webhook_receiver import Receiver, running_receiver

SECRET = "whsec-correct-horse-battery-staple"
OTHER = {"slug": "maldita", "name": "Maldita.es", "url": "https://maldita.es/", "language": "es"}
MEDIA_URL = "https://video.example/embed/4"


def documented_verify_webhook() -> Callable[..., bool]:
    """The receiver's check exactly as docs/webhooks.md prints it for partners to copy: the
    deliveries below are verified with that code, so the page cannot drift from what the
    dispatcher signs.

    It takes the raw request body and the X-ClaimReview-Signature header, refuses timestamps
    older than ``tolerance`` seconds (replays); a receiver also deduplicates on the
    X-ClaimReview-Delivery header, since a delivery can arrive more than once.
    """
    page = (REPO / "docs" / "webhooks.md").read_text(encoding="utf-8")
    snippets = re.findall(r"^```python\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
    assert len(snippets) == 1, "docs/webhooks.md shows one Python snippet: the check"
    namespace: dict[str, Any] = {}
    exec(compile(snippets[0], "docs/webhooks.md", "exec"), namespace)
    return namespace["verify_webhook"]


verify_webhook = documented_verify_webhook()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Quick dispatcher and retries; the receiver on 127.0.0.1 is allowed."""
    return settings.model_copy(
        update={
            "outbound_allow_private": True,
            "dispatcher_interval_seconds": 0.05,
            "webhook_backoff_seconds": 0.05,
            "webhook_max_attempts": 3,
            "webhook_timeout_seconds": 2.0,
            "webhook_max_response_bytes": 1024,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def keys(
    http: httpx.Client | TestClient, publisher: dict[str, str], *scopes: str
) -> dict[str, str]:
    """Create the publisher; the headers of a new key of it."""
    assert http.post("/v1/publishers", json=publisher, headers=ADMIN).status_code == 201
    return key(http, publisher["slug"], *scopes)


def key(http: httpx.Client | TestClient, slug: str, *scopes: str) -> dict[str, str]:
    body = {"name": "partner", "scopes": list(scopes or ["reviews:write"])}
    created = http.post(f"/v1/publishers/{slug}/keys", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    return bearer(created.json()["key"])


def subscribe(
    http: httpx.Client | TestClient, headers: dict[str, str], url: str, **body: Any
) -> str:
    response = http.post(
        "/v1/webhooks", json={"url": url, "secret": SECRET, **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    webhook_id: str = response.json()["id"]
    return webhook_id


def deliveries(http: httpx.Client | TestClient, headers: dict[str, str], webhook_id: str) -> Any:
    response = http.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def settled(http: httpx.Client | TestClient, headers: dict[str, str], webhook_id: str) -> Any:
    """The deliveries once none is pending."""
    items = deliveries(http, headers, webhook_id)
    return items if items and all(item["status"] != "pending" for item in items) else None


def article(n: int, **changes: Any) -> dict[str, Any]:
    url = f"https://www.polygraph.info/a/{n}.html"
    return seed_review(external_id=f"hook-{n}", url=url, **changes)


# Subscriptions


def test_create_webhook_returns_it_without_the_secret(
    client: TestClient, receiver: Receiver
) -> None:
    make_publisher(client)
    manager = bearer(make_key(client, "polygraph", "webhooks:manage"))
    body = {
        "url": receiver.url(),
        "secret": SECRET,
        "events": ["review.published", "review.retracted", "review.published"],
        "filters": {"language": "pt-br", "verdict": "false", "publisher": "polygraph"},
    }

    created = client.post("/v1/webhooks", json=body, headers=manager)
    webhook_id = created.json()["id"]
    listed = client.get("/v1/webhooks", headers=manager)
    fetched = client.get(f"/v1/webhooks/{webhook_id}", headers=manager)
    history = client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=manager)
    openapi = client.get("/openapi.json")

    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{BASE_URL}/v1/webhooks/{webhook_id}"
    assert created.json() == {
        "id": webhook_id,
        "publisher": "polygraph",
        "partner": None,
        "url": receiver.url(),
        "events": ["review.published", "review.retracted"],
        "filters": {"publisher": "polygraph", "language": "pt-BR", "verdict": "false"},
        "status": "active",
        "created_at": created.json()["created_at"],
    }
    assert len(webhook_id) >= 16 and webhook_id.replace("-", "").replace("_", "").isalnum()
    assert listed.json() == {"items": [created.json()]}
    assert fetched.json() == created.json()
    assert history.json() == {"items": []}
    for response in (created, listed, fetched, history):
        assert SECRET not in response.text
        assert "secret" not in response.text
    schemas = openapi.json()["components"]["schemas"]
    assert "secret" not in schemas["WebhookPublic"]["properties"]
    assert "secret" in schemas["WebhookCreate"]["required"]
    assert set(openapi.json()["paths"]["/v1/webhooks"]["post"]["responses"]) >= {"201", "422"}


def test_create_webhook_defaults_to_every_event(client: TestClient, receiver: Receiver) -> None:
    make_publisher(client)
    manager = bearer(make_key(client, "polygraph", "webhooks:manage"))

    created = client.post(
        "/v1/webhooks", json={"url": receiver.url(), "secret": SECRET}, headers=manager
    )

    assert created.json()["events"] == ["review.published", "review.updated", "review.retracted"]
    assert created.json()["filters"] == {}


BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"url": "ftp://example.org/hook"}, "/url"),
    ({"url": "not a url"}, "/url"),
    ({"url": None}, "/url"),
    ({"secret": "too-short"}, "/secret"),
    ({"secret": None}, "/secret"),
    ({"events": []}, "/events"),
    ({"events": ["review.deleted"]}, "/events/0"),
    ({"events": "review.published"}, "/events"),
    ({"filters": {"verdict": "nonsense"}}, "/filters/verdict"),
    ({"filters": {"language": "english!"}}, "/filters/language"),
    ({"filters": {"publisher": "nobody"}}, "/filters/publisher"),
    ({"filters": {"colour": "red"}}, "/filters/colour"),
    ({"publisher": "polygraph", "extra": 1}, "/extra"),
]


def test_create_webhook_names_the_bad_field(client: TestClient, receiver: Receiver) -> None:
    manager = keys(client, SEED_PUBLISHER, "webhooks:manage")

    for changes, path in BAD_INPUT:
        body = {"url": receiver.url(), "secret": SECRET, **changes}
        response = client.post(
            "/v1/webhooks", json={k: v for k, v in body.items() if v is not None}, headers=manager
        )

        assert response.status_code == 422, (changes, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert path in [error["path"] for error in response.json()["errors"]], changes
        assert SECRET not in response.text
    assert client.get("/v1/webhooks", headers=manager).json() == {"items": []}


def test_create_webhook_refuses_a_body_that_is_not_json(client: TestClient) -> None:
    make_publisher(client)
    manager = bearer(make_key(client, "polygraph", "webhooks:manage"))

    broken = client.post(
        "/v1/webhooks",
        content=b"{",
        headers={**manager, "Content-Type": "application/json"},
    )
    text = client.post(
        "/v1/webhooks", content=b"url=x", headers={**manager, "Content-Type": "text/plain"}
    )

    assert broken.status_code == 400
    assert broken.json()["errors"] == [
        {"path": "/", "message": "not valid JSON (or not UTF-8, or nested too deep)"}
    ]
    assert text.status_code == 415
    assert text.headers["content-type"] == "application/problem+json"


PRIVATE_URLS = [
    "http://127.0.0.1:9/hook",
    "http://127.1/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://224.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://240.0.0.1/hook",
    "http://unresolvable.invalid/hook",
]


def test_create_webhook_refuses_private_addresses_unless_allowed(
    settings: Settings, receiver: Receiver
) -> None:
    strict = settings.model_copy(update={"outbound_allow_private": False})
    with TestClient(create_app(strict), base_url=BASE_URL) as client:
        manager = keys(client, SEED_PUBLISHER, "webhooks:manage")

        refused = {
            url: client.post("/v1/webhooks", json={"url": url, "secret": SECRET}, headers=manager)
            for url in [*PRIVATE_URLS, receiver.url()]
        }

    for url, response in refused.items():
        assert response.status_code == 422, url
        assert response.headers["content-type"] == "application/problem+json"
        assert [error["path"] for error in response.json()["errors"]] == ["/url"], url
    assert "not a public address" in refused[receiver.url()].json()["errors"][0]["message"]


def test_delivery_checks_the_address_again(settings: Settings, receiver: Receiver) -> None:
    allowed = settings.model_copy(update={"dispatcher_enabled": False})
    with TestClient(create_app(allowed), base_url=BASE_URL) as client:
        writer = keys(client, SEED_PUBLISHER)
        webhook_id = subscribe(client, writer, receiver.url())
    strict = settings.model_copy(
        update={"outbound_allow_private": False, "webhook_max_attempts": 1}
    )

    with TestClient(create_app(strict), base_url=BASE_URL) as client:
        create_review(client, writer)
        [delivery] = eventually(lambda: settled(client, writer, webhook_id))
        webhook = client.get(f"/v1/webhooks/{webhook_id}", headers=writer).json()

    assert receiver.received() == []
    assert delivery["status"] == "failed"
    assert delivery["last_status_code"] is None
    assert (
        "127.0.0.1" in delivery["last_error"] and "not a public address" in delivery["last_error"]
    )
    assert webhook["status"] == "failing"


def test_webhooks_are_private_to_their_publisher(client: TestClient, receiver: Receiver) -> None:
    polygraph = keys(client, SEED_PUBLISHER, "reviews:read", "webhooks:manage")
    maldita = keys(client, OTHER, "reviews:write")
    admin_key = key(client, "maldita", "admin")
    webhook_id = subscribe(client, polygraph, receiver.url("/polygraph"))
    theirs = subscribe(client, maldita, receiver.url("/maldita"))
    path = f"/v1/webhooks/{webhook_id}"

    foreign = [
        client.get(path, headers=maldita),
        client.get(f"{path}/deliveries", headers=maldita),
        client.delete(path, headers=maldita),
    ]
    maldita_list = client.get("/v1/webhooks", headers=maldita).json()["items"]
    admin_list = client.get("/v1/webhooks", headers=ADMIN).json()["items"]
    admin_key_list = client.get("/v1/webhooks", headers=admin_key).json()["items"]
    anonymous = client.get("/v1/webhooks")
    for_someone_else = client.post(
        "/v1/webhooks",
        json={"url": receiver.url(), "secret": SECRET, "publisher": "polygraph"},
        headers=maldita,
    )
    admin_without_owner = client.post(
        "/v1/webhooks", json={"url": receiver.url(), "secret": SECRET}, headers=ADMIN
    )
    admin_for_polygraph = client.post(
        "/v1/webhooks",
        json={"url": receiver.url(), "secret": SECRET, "publisher": "polygraph"},
        headers=ADMIN,
    )

    assert [response.status_code for response in foreign] == [404, 404, 404]
    assert all(r.headers["content-type"] == "application/problem+json" for r in foreign)
    assert client.get(path, headers=polygraph).status_code == 200
    assert client.get(path, headers=ADMIN).json()["publisher"] == "polygraph"
    assert [item["id"] for item in maldita_list] == [theirs]
    assert {item["id"] for item in admin_list} == {webhook_id, theirs}
    assert {item["id"] for item in admin_key_list} == {webhook_id, theirs}
    assert anonymous.status_code == 401
    assert for_someone_else.status_code == 403
    assert for_someone_else.json()["errors"][0]["path"] == "/publisher"
    # The admin naming no publisher makes the platform's own webhook, no publisher's to see.
    assert admin_without_owner.status_code == 201, admin_without_owner.text
    platform = admin_without_owner.json()
    assert (platform["publisher"], platform["partner"]) == (None, None)
    assert client.get(f"/v1/webhooks/{platform['id']}", headers=maldita).status_code == 404
    assert client.get(f"/v1/webhooks/{platform['id']}", headers=polygraph).status_code == 404
    assert admin_for_polygraph.status_code == 201
    assert admin_for_polygraph.json()["publisher"] == "polygraph"


def test_delete_webhook_stops_its_deliveries(
    client: TestClient, writer: dict[str, str], receiver: Receiver
) -> None:
    gone = subscribe(client, writer, receiver.url("/gone"))
    control = subscribe(client, writer, receiver.url("/control"))

    deleted = client.delete(f"/v1/webhooks/{gone}", headers=writer)
    again = client.delete(f"/v1/webhooks/{gone}", headers=writer)
    fetched = client.get(f"/v1/webhooks/{gone}", headers=writer)
    listed = client.get("/v1/webhooks", headers=writer).json()["items"]
    create_review(client, writer)
    receiver.wait_for(1, "/control")
    eventually(lambda: settled(client, writer, control))

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert again.status_code == 404
    assert fetched.status_code == 404
    assert [item["id"] for item in listed] == [control]
    assert receiver.received("/gone") == []


def test_list_deliveries_is_newest_first_and_limited(
    client: TestClient, writer: dict[str, str], receiver: Receiver
) -> None:
    webhook_id = subscribe(client, writer, receiver.url())
    for n in range(3):
        create_review(client, writer, external_id=f"x-{n}", url=f"https://www.polygraph.info/{n}")
    receiver.wait_for(3)
    everything = eventually(lambda: settled(client, writer, webhook_id))
    path = f"/v1/webhooks/{webhook_id}/deliveries"

    two = client.get(path, params={"limit": 2}, headers=writer)
    too_many = client.get(path, params={"limit": 101}, headers=writer)
    none = client.get(path, params={"limit": 0}, headers=writer)

    event_ids = [int(item["event_id"]) for item in everything]
    assert event_ids == sorted(event_ids, reverse=True)
    assert two.json()["items"] == everything[:2]
    assert {item["status"] for item in everything} == {"delivered"}
    assert everything[0]["attempts"] == 1
    assert everything[0]["last_status_code"] == 200
    assert everything[0]["last_response"] == "answered 200"
    assert everything[0]["delivered_at"] >= everything[0]["created_at"]
    assert everything[0]["next_attempt_at"] is None
    for bad in (too_many, none):
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["errors"][0]["path"] == "limit"


# Deliveries through a real server


def test_events_are_delivered_signed_and_in_order(live_server: str, receiver: Receiver) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        writer = keys(http, SEED_PUBLISHER)
        subscribe(http, writer, receiver.url())
        created = http.post("/v1/claim-reviews", json=seed_review(), headers=writer).json()
        path = f"/v1/claim-reviews/{created['id']}"
        published = http.get(path + ".jsonld").json()
        assert http.patch(path, json={"headline": "Edited"}, headers=writer).status_code == 200
        updated = http.get(path + ".jsonld").json()
        assert http.delete(path, headers=writer).status_code in (200, 204)

    received = receiver.wait_for(3)
    bodies = [request.json() for request in received]

    assert [request.method for request in received] == ["POST"] * 3
    assert [request.headers["x-claimreview-event"] for request in received] == [
        "review.published",
        "review.updated",
        "review.retracted",
    ]
    assert [body["type"] for body in bodies] == [r.headers["x-claimreview-event"] for r in received]
    assert [body["version"] for body in bodies] == [1, 2, 3]
    assert {body["review_id"] for body in bodies} == {created["id"]}
    assert [r.headers["x-claimreview-delivery"] for r in received] == [b["id"] for b in bodies]
    assert len({body["id"] for body in bodies}) == 3
    assert all(
        set(body) == {"id", "type", "created_at", "review_id", "version", "data"} for body in bodies
    )
    assert bodies[0]["data"] == published
    assert bodies[1]["data"] == updated
    assert bodies[1]["data"]["headline"] == "Edited"
    assert bodies[2]["data"] == {
        "@id": f"{BASE_URL}/v1/claim-reviews/{created['id']}",
        "url": seed_review()["url"],
    }
    for request in received:
        assert request.headers["content-type"] == "application/json"
        signature = request.headers["x-claimreview-signature"]
        assert verify_webhook(SECRET, request.body, signature)
        assert not verify_webhook("another-secret-of-some-length", request.body, signature)
        assert not verify_webhook(SECRET, request.body + b" ", signature)
    stale = (
        "t=1000000000,v1="
        + hmac.new(SECRET.encode(), b"1000000000." + received[0].body, "sha256").hexdigest()
    )
    assert not verify_webhook(SECRET, received[0].body, stale)


def test_filters_and_event_types_choose_what_is_sent(live_server: str, receiver: Receiver) -> None:
    expected = {
        "/all": [
            "a:review.published",
            "b:review.published",
            "c:review.published",
            "d:review.published",
            "a:review.retracted",
        ],
        "/maldita": ["c:review.published"],
        "/portuguese": ["b:review.published"],
        "/misleading": ["b:review.published"],
        "/retractions": ["a:review.retracted"],
        "/media": ["d:review.published"],
        "/claims-retracted": ["a:review.retracted"],
    }
    with httpx.Client(base_url=live_server, timeout=10) as http:
        polygraph = keys(http, SEED_PUBLISHER)
        maldita = keys(http, OTHER)
        hooks = {
            "/all": subscribe(http, polygraph, receiver.url("/all")),
            "/maldita": subscribe(
                http, polygraph, receiver.url("/maldita"), filters={"publisher": "maldita"}
            ),
            "/portuguese": subscribe(
                http, polygraph, receiver.url("/portuguese"), filters={"language": "pt"}
            ),
            "/misleading": subscribe(
                http, polygraph, receiver.url("/misleading"), filters={"verdict": "misleading"}
            ),
            "/retractions": subscribe(
                http, polygraph, receiver.url("/retractions"), events=["review.retracted"]
            ),
            "/media": subscribe(http, polygraph, receiver.url("/media"), filters={"kind": "media"}),
            "/claims-retracted": subscribe(
                http,
                polygraph,
                receiver.url("/claims-retracted"),
                events=["review.retracted"],
                filters={"kind": "claim"},
            ),
        }
        misleading = {"label": "Enganoso", "value": 2, "best": 5, "worst": 1}
        made = {
            "a": http.post("/v1/claim-reviews", json=article(1), headers=polygraph).json(),
            "b": http.post(
                "/v1/claim-reviews",
                json=article(2, language="pt-BR", rating=misleading),
                headers=polygraph,
            ).json(),
            "c": http.post(
                "/v1/claim-reviews",
                json=seed_review(external_id="m-1", url="https://maldita.es/b.html", language="es"),
                headers=maldita,
            ).json(),
            "d": http.post(
                "/v1/claim-reviews",
                json=article(
                    4,
                    kind="media",
                    claim=None,
                    claim_reviewed=None,
                    media_authenticity="TransformedContent",
                    media={"appearances": [{"type": "VideoObject", "embed_url": MEDIA_URL}]},
                ),
                headers=polygraph,
            ).json(),
        }
        assert http.delete(f"/v1/claim-reviews/{made['a']['id']}", headers=polygraph).is_success
        names = {review["id"]: name for name, review in made.items()}
        for path, events in expected.items():
            receiver.wait_for(len(events), path)
        recorded = {
            path: eventually(lambda webhook_id=webhook_id: settled(http, polygraph, webhook_id))
            for path, webhook_id in hooks.items()
        }

    for path, events in expected.items():
        sent = [
            f"{names[r.json()['review_id']]}:{r.json()['type']}" for r in receiver.received(path)
        ]
        listed = [f"{names[item['review_id']]}:{item['event_type']}" for item in recorded[path]]
        assert sent == events, path
        assert listed == events[::-1], path


def test_failed_delivery_is_retried_with_backoff_until_it_succeeds(
    live_server: str, receiver: Receiver, settings: Settings
) -> None:
    receiver.script("/hook", 500, 503)
    with httpx.Client(base_url=live_server, timeout=10) as http:
        writer = keys(http, SEED_PUBLISHER)
        webhook_id = subscribe(http, writer, receiver.url())
        http.post("/v1/claim-reviews", json=seed_review(), headers=writer)
        attempts = receiver.wait_for(3)
        [delivery] = eventually(lambda: settled(http, writer, webhook_id))
        webhook = http.get(f"/v1/webhooks/{webhook_id}", headers=writer).json()

    base = settings.webhook_backoff_seconds
    first_wait, second_wait = (later.at - earlier.at for earlier, later in pairwise(attempts))
    assert first_wait >= base * 0.75
    assert second_wait >= base * 2 * 0.75
    assert second_wait < 5
    assert len({request.headers["x-claimreview-delivery"] for request in attempts}) == 1
    assert len({request.body for request in attempts}) == 1
    assert all(
        verify_webhook(SECRET, r.body, r.headers["x-claimreview-signature"]) for r in attempts
    )
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 3
    assert delivery["last_status_code"] == 200
    assert delivery["last_error"] is None
    assert webhook["status"] == "active"
    time.sleep(base * 4)
    assert len(receiver.received()) == 3


def test_delivery_fails_after_max_attempts_and_the_webhook_is_failing(
    live_server: str, receiver: Receiver, settings: Settings
) -> None:
    receiver.script("/hook", *[500] * settings.webhook_max_attempts)
    with httpx.Client(base_url=live_server, timeout=10) as http:
        writer = keys(http, SEED_PUBLISHER)
        webhook_id = subscribe(http, writer, receiver.url())
        http.post("/v1/claim-reviews", json=article(1), headers=writer)
        [failed] = eventually(lambda: settled(http, writer, webhook_id))
        failing = http.get(f"/v1/webhooks/{webhook_id}", headers=writer).json()
        http.post("/v1/claim-reviews", json=article(2), headers=writer)
        receiver.wait_for(settings.webhook_max_attempts + 1)
        recovered = eventually(lambda: settled(http, writer, webhook_id))
        active = http.get(f"/v1/webhooks/{webhook_id}", headers=writer).json()

    assert failed["status"] == "failed"
    assert failed["attempts"] == settings.webhook_max_attempts
    assert failed["last_status_code"] == 500
    assert failed["last_response"] == "answered 500"
    assert failed["next_attempt_at"] is None
    assert failed["delivered_at"] is None
    assert failing["status"] == "failing"
    assert [item["status"] for item in recovered] == ["delivered", "failed"]
    assert active["status"] == "active"


def test_delivery_does_not_follow_redirects_caps_answers_and_times_out(
    settings: Settings, receiver: Receiver
) -> None:
    quick = settings.model_copy(update={"webhook_timeout_seconds": 0.3, "webhook_max_attempts": 1})
    receiver.script("/moved", "redirect")
    receiver.script("/big", "big")
    receiver.script("/slow", "hang")
    with TestClient(create_app(quick), base_url=BASE_URL) as client:
        writer = keys(client, SEED_PUBLISHER)
        hooks = {
            path: subscribe(client, writer, receiver.url(path))
            for path in ("/moved", "/big", "/slow")
        }
        create_review(client, writer)
        moved, big, slow = (
            eventually(lambda webhook_id=webhook_id: settled(client, writer, webhook_id))[0]
            for webhook_id in hooks.values()
        )

    assert moved["status"] == "failed"
    assert moved["last_status_code"] == 302
    assert receiver.received("/elsewhere") == []
    assert big["status"] == "delivered"
    assert big["last_response"] == "x" * quick.webhook_max_response_bytes
    assert slow["status"] == "failed"
    assert slow["last_status_code"] is None
    assert "Timeout" in slow["last_error"]


def test_two_dispatchers_deliver_each_event_once(
    live_server: str, settings: Settings, receiver: Receiver
) -> None:
    count = 20
    with httpx.Client(base_url=live_server, timeout=10) as http:
        writer = keys(http, SEED_PUBLISHER)
        hooks = [subscribe(http, writer, receiver.url(f"/{n}")) for n in range(2)]
        # A second worker process on the same database: its own app, engine and dispatcher.
        with TestClient(create_app(settings), base_url=BASE_URL):
            for n in range(count):
                response = http.post("/v1/claim-reviews", json=article(n), headers=writer)
                assert response.status_code == 201
            for webhook_id in hooks:
                eventually(lambda webhook_id=webhook_id: settled(http, writer, webhook_id))
            time.sleep(0.2)

    for n in range(2):
        sent = [request.headers["x-claimreview-delivery"] for request in receiver.received(f"/{n}")]
        assert len(sent) == count
        assert len(set(sent)) == count


# Crash safety


def test_deliveries_pending_at_a_crash_are_sent_after_restart(
    database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    """kill -9 while one delivery is in flight, more wait behind it and the last changes may not
    be fanned out yet: after a restart every event arrives; only the cut-off one twice."""
    env = environment(
        database_url,
        WEBHOOK_ALLOW_PRIVATE="true",
        DISPATCHER_INTERVAL_SECONDS="0.05",
        WEBHOOK_TIMEOUT_SECONDS="2",
    )
    log = tmp_path / "serve.log"
    receiver.script("/hook", "hang")
    first = serve(env, log)
    try:
        with httpx.Client(base_url=first.base, timeout=10) as http:
            writer = keys(http, SEED_PUBLISHER)
            webhook_id = subscribe(http, writer, receiver.url())
            for n in range(3):
                assert http.post("/v1/claim-reviews", json=article(n), headers=writer).is_success
            [cut_off] = receiver.wait_for(1)
            for n in range(3, 6):
                assert http.post("/v1/claim-reviews", json=article(n), headers=writer).is_success
    finally:
        first.kill()

    second = serve(env, log)
    try:
        with httpx.Client(base_url=second.base, timeout=10) as http:
            settled_deliveries = eventually(lambda: settled(http, writer, webhook_id), timeout=30)
    finally:
        second.stop()

    assert first.process.returncode == -signal.SIGKILL
    assert len(settled_deliveries) == 6
    assert {item["status"] for item in settled_deliveries} == {"delivered"}
    sent = [request.headers["x-claimreview-delivery"] for request in receiver.received()]
    event_ids = {item["event_id"] for item in settled_deliveries}
    assert set(sent) == event_ids
    cut_off_id = cut_off.headers["x-claimreview-delivery"]
    assert sorted(sent) == sorted([*event_ids, cut_off_id])
    [resent] = [
        r for r in receiver.received()[1:] if r.headers["x-claimreview-delivery"] == cut_off_id
    ]
    assert resent.body == cut_off.body
    assert verify_webhook(SECRET, resent.body, resent.headers["x-claimreview-signature"])
