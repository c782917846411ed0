"""Every field of app.core.fields through every door a review goes in or out by, over HTTP on a real
database: a door that drops or mangles a field it is meant to carry fails here, and the field
table says which fields a door does not carry by design."""

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.core import google
from tests.conftest import BASE_URL, bearer, make_key, make_publisher
from tests.every_field import ARTICLE, PUBLISHER, REVIEW, misplaced
from tests.served import eventually
from tests.webhook_receiver import Receiver, running_receiver

LD_JSON = "application/ld+json"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A quick dispatcher that may deliver to the receiver on 127.0.0.1."""
    return settings.model_copy(
        update={
            "outbound_allow_private": True,
            "dispatcher_interval_seconds": 0.05,
            "webhook_backoff_seconds": 0.05,
        }
    )


@dataclass
class Walk:
    client: TestClient
    writer: dict[str, str]
    receiver: Receiver
    created: dict[str, Any]

    @property
    def review_id(self) -> str:
        review_id: str = self.created["id"]
        return review_id

    @property
    def iri(self) -> str:
        return f"{BASE_URL}/v1/claim-reviews/{self.review_id}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self.writer)
        assert response.status_code == 200, response.text
        return response

    def native(self, review_id: str) -> Any:
        return self.get(f"/v1/claim-reviews/{review_id}").json()

    def jsonld(self) -> dict[str, Any]:
        """The review's JSON-LD, as a new review's markup (another article, no @id)."""
        node: dict[str, Any] = self.get(f"/v1/claim-reviews/{self.review_id}.jsonld").json()
        del node["@id"], node["dateModified"]
        return node


@pytest.fixture
def walk(client: TestClient) -> Iterator[Walk]:
    """The every-field review, written as native JSON by its publisher, who receives webhooks."""
    make_publisher(client, **PUBLISHER)
    writer = bearer(make_key(client, "polygraph", "reviews:write"))
    with running_receiver() as receiver:
        hook = {"url": receiver.url(), "secret": "whsec-every-field-of-the-table"}
        assert client.post("/v1/webhooks", json=hook, headers=writer).status_code == 201
        created = client.post("/v1/claim-reviews", json=REVIEW, headers=writer)
        assert created.status_code == 201, created.text
        yield Walk(client, writer, receiver, created.json())


def elsewhere(name: str) -> str:
    """The every-field review's URL on another article of the same publisher."""
    return REVIEW["url"].replace("every-field", name)


# Native JSON


def native_post(walk: Walk) -> list[str]:
    return misplaced("POST /v1/claim-reviews", walk.created, shape=None)


def native_get(walk: Walk) -> list[str]:
    return misplaced("GET /v1/claim-reviews/{id}", walk.native(walk.review_id), shape=None)


def native_list(walk: Walk) -> list[str]:
    [item] = walk.get("/v1/claim-reviews").json()["items"]
    return misplaced("GET /v1/claim-reviews", item, shape=None)


def native_patch(walk: Walk) -> list[str]:
    """A change to one field merges into the stored review: the others stay as they were."""
    headline = "Fieldtown kept its bridge"
    path = f"/v1/claim-reviews/{walk.review_id}"
    response = walk.client.patch(path, json={"headline": headline}, headers=walk.writer)
    assert response.status_code == 200, response.text
    expected = REVIEW | {"headline": headline}
    return misplaced(
        "PATCH /v1/claim-reviews/{id}", walk.native(walk.review_id), shape=None, expected=expected
    )


def revision(walk: Walk) -> list[str]:
    snapshot = walk.get(f"/v1/claim-reviews/{walk.review_id}/revisions/1").json()
    # A revision keeps the review's document, which leaves out the publisher (a column).
    document = {"publisher": walk.created["publisher"], **snapshot["document"]}
    return [
        *misplaced("GET /v1/claim-reviews/{id}/revisions/1", document, shape=None),
        *misplaced("GET /v1/claim-reviews/{id}/revisions/1", snapshot["jsonld"], shape="jsonld"),
    ]


# JSON-LD out: stored bytes, served by every read, export, feed and webhook


def jsonld_get(walk: Walk) -> list[str]:
    node = walk.get(f"/v1/claim-reviews/{walk.review_id}.jsonld").json()
    return misplaced("GET /v1/claim-reviews/{id}.jsonld", node, shape="jsonld")


def jsonld_list(walk: Walk) -> list[str]:
    response = walk.client.get("/v1/claim-reviews", headers={**walk.writer, "Accept": LD_JSON})
    [node] = response.json()["@graph"]
    return misplaced("GET /v1/claim-reviews as JSON-LD", node, shape="jsonld")


def feed(walk: Walk) -> list[str]:
    # On PostgreSQL the feed holds a change back while an older transaction runs, in any
    # database of the server (transaction ids are server-wide).
    [item] = eventually(lambda: walk.get("/v1/feed").json()["dataFeedElement"])
    return misplaced("GET /v1/feed", item["item"], shape="jsonld")


def export_ndjson(walk: Walk) -> list[str]:
    [line] = walk.get("/v1/export", format="ndjson").content.splitlines()
    return misplaced("GET /v1/export?format=ndjson", orjson.loads(line), shape="jsonld")


def export_jsonld(walk: Walk) -> list[str]:
    [item] = walk.get("/v1/export", format="jsonld").json()["dataFeedElement"]
    return misplaced("GET /v1/export?format=jsonld", item["item"], shape="jsonld")


def export_csv(walk: Walk) -> list[str]:
    [row] = csv.DictReader(io.StringIO(walk.get("/v1/export", format="csv").text))
    assert row["id"] == walk.review_id
    return misplaced("GET /v1/export?format=csv", row, shape="csv")


def webhook(walk: Walk) -> list[str]:
    [delivery] = walk.receiver.wait_for(1)
    body = delivery.json()
    assert (body["type"], body["review_id"]) == ("review.published", walk.review_id)
    return misplaced("webhook review.published", body["data"], shape="jsonld")


# JSON-LD in: the review's own markup as a new review's


def jsonld_post(walk: Walk) -> list[str]:
    url = elsewhere("every-field-ld")
    body = orjson.dumps(walk.jsonld() | {"url": url})
    response = walk.client.post(
        "/v1/claim-reviews", content=body, headers={**walk.writer, "Content-Type": LD_JSON}
    )
    assert response.status_code == 201, response.text
    made = walk.native(response.json()["id"])
    expected = REVIEW | {"url": url}
    return misplaced(
        "POST /v1/claim-reviews as JSON-LD", made, shape=None, expected=expected, through="jsonld"
    )


def import_ndjson(walk: Walk) -> list[str]:
    url = elsewhere("every-field-import")
    body = orjson.dumps(walk.jsonld() | {"url": url}) + b"\n"
    headers = {**walk.writer, "Content-Type": "application/x-ndjson"}
    response = walk.client.post("/v1/import", content=body, headers=headers)
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert item["status"] == "created", item
    made = walk.native(item["id"])
    expected = REVIEW | {"url": url}
    return misplaced(
        "POST /v1/import (NDJSON)", made, shape=None, expected=expected, through="jsonld"
    )


# Google's v1alpha1 pages


def page_path(article: str) -> str:
    return f"/v1alpha1/pages/{google.page_id(article)}"


def google_get(walk: Walk) -> list[str]:
    page = walk.get(page_path(ARTICLE)).json()
    return misplaced("GET /v1alpha1/pages/{id}", page, shape="google")


def google_put(walk: Walk) -> list[str]:
    """The page sent back as it was read: what Google cannot show must survive it."""
    page = walk.get(page_path(ARTICLE)).json()
    response = walk.client.put(page_path(ARTICLE), json=page, headers=walk.writer)
    assert response.status_code == 200, response.text
    return [
        *misplaced("PUT /v1alpha1/pages/{id}", response.json(), shape="google"),
        *misplaced("PUT /v1alpha1/pages/{id}", walk.native(walk.review_id), shape=None),
    ]


def google_post(walk: Walk) -> list[str]:
    url = elsewhere("every-field-google")
    [markup] = walk.get(page_path(ARTICLE)).json()["claimReviewMarkups"]
    page = {
        "pageUrl": url.split("#")[0],
        "publishDate": REVIEW["date_published"],
        "claimReviewMarkups": [markup | {"url": url}],
    }
    response = walk.client.post("/v1alpha1/pages", json=page, headers=walk.writer)
    assert response.status_code == 200, response.text
    [made] = walk.get("/v1/claim-reviews", url=url).json()["items"]
    expected = REVIEW | {"url": url}
    return misplaced("POST /v1alpha1/pages", made, shape=None, expected=expected, through="google")


DOORS: list[Callable[[Walk], list[str]]] = [
    native_post,
    native_get,
    native_list,
    native_patch,
    revision,
    jsonld_get,
    jsonld_list,
    feed,
    export_ndjson,
    export_jsonld,
    export_csv,
    webhook,
    jsonld_post,
    import_ndjson,
    google_get,
    google_put,
    google_post,
]


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.__name__)
def test_door_carries_every_field_it_is_meant_to(walk: Walk, door: Callable[[Walk], list[str]]):
    assert door(walk) == []
