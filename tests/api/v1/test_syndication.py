"""Change feed and exports (§8 Syndication)."""

import asyncio
import csv
import gzip
import io
import threading
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.api.v1 import syndication as syndication_routes
from app.core.document import ReviewIn
from app.db.tables import Publisher
from app.services import reviews
from app.services.syndication import CSV_COLUMNS
from tests.conftest import (
    ADMIN,
    POSTGRES_URL,
    SEED_PUBLISHER,
    bearer,
    create_review,
    make_key,
    make_publisher,
    seed_review,
)


def follow(client: Any, url: str = "/v1/feed") -> tuple[list[dict[str, Any]], str]:
    """Every item from ``url`` to the first empty page; returns the items and the last link."""
    items: list[dict[str, Any]] = []
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.text
        page = response.json()
        link = response.headers["link"]
        url = link[1 : link.index(">")]
        if not page["dataFeedElement"]:
            return items, url
        items += page["dataFeedElement"]


def replay(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What a partner holds after applying the feed in order."""
    held: dict[str, dict[str, Any]] = {}
    for item in items:
        if "dateDeleted" in item:
            held.pop(item["item"]["@id"], None)
        else:
            held[item["item"]["@id"]] = item["item"]
    return held


def published(client: Any) -> dict[str, dict[str, Any]]:
    page = client.get(
        "/v1/claim-reviews", params={"limit": 100}, headers={"Accept": "application/ld+json"}
    )
    return {node["@id"]: node for node in page.json()["@graph"]}


def test_feed_lists_changes_in_order_with_tombstones(
    client: TestClient, writer: dict[str, str]
) -> None:
    first = create_review(client, writer, external_id="a")
    second = create_review(client, writer, external_id="b", url="https://www.polygraph.info/b")
    create_review(client, writer, external_id="c", status="draft")
    client.patch(f"/v1/claim-reviews/{first['id']}", json={"headline": "Edited"}, headers=writer)
    client.delete(f"/v1/claim-reviews/{second['id']}", headers=writer)

    response = client.get("/v1/feed")
    feed = response.json()

    assert response.headers["content-type"] == "application/ld+json"
    assert feed["@context"] == "https://schema.org"
    assert feed["@type"] == "DataFeed"
    items = feed["dataFeedElement"]
    assert [item["@type"] for item in items] == ["DataFeedItem"] * 4
    assert [item["item"]["@id"].rsplit("/", 1)[1] for item in items] == [
        first["id"],
        second["id"],
        first["id"],
        second["id"],
    ]
    assert items[2]["item"]["headline"] == "Edited"
    assert items[2]["dateModified"] == items[2]["item"]["dateModified"]
    assert items[3]["item"] == {
        "@id": f"http://127.0.0.1:8000/v1/claim-reviews/{second['id']}",
        "url": "https://www.polygraph.info/b",
    }
    assert "dateDeleted" in items[3]
    assert response.headers["link"].endswith('rel="next"')


def test_partner_following_next_ends_with_the_published_set_and_sees_only_new_changes(
    client: TestClient, writer: dict[str, str]
) -> None:
    made = [create_review(client, writer, external_id=f"r{n}") for n in range(5)]
    client.delete(f"/v1/claim-reviews/{made[0]['id']}", headers=writer)

    items, later = follow(client, "/v1/feed?limit=2")
    assert replay(items) == published(client)

    create_review(client, writer, external_id="new")
    client.patch(f"/v1/claim-reviews/{made[1]['id']}", json={"headline": "x"}, headers=writer)
    more, _ = follow(client, later)

    assert len(more) == 2
    assert replay(items + more) == published(client)
    keys = [(item["item"]["@id"], item.get("dateModified")) for item in items + more]
    assert len(keys) == len(set(keys))


def test_feed_filters_by_publisher_and_language(client: TestClient, writer: dict[str, str]) -> None:
    create_review(client, writer, external_id="en")
    create_review(client, writer, external_id="es", language="es")
    make_publisher(client, slug="other", name="Other", url="https://other.example/")
    create_review(client, bearer(make_key(client, "other")), url="https://other.example/x")

    polygraph = client.get("/v1/feed", params={"publisher": "polygraph"}).json()
    spanish = client.get("/v1/feed", params={"language": "es"}).json()

    assert len(polygraph["dataFeedElement"]) == 2
    assert [item["item"]["inLanguage"] for item in spanish["dataFeedElement"]] == ["es"]


def test_feed_pages_are_cacheable(client: TestClient, writer: dict[str, str]) -> None:
    create_review(client, writer)
    first = client.get("/v1/feed")

    again = client.get("/v1/feed", headers={"If-None-Match": first.headers["etag"]})
    create_review(client, writer, external_id="more")
    changed = client.get("/v1/feed", headers={"If-None-Match": first.headers["etag"]})

    assert again.status_code == 304
    assert changed.status_code == 200
    assert first.headers["cache-control"] == "public, max-age=5"


def test_feed_cursor_is_tamper_evident(client: TestClient, writer: dict[str, str]) -> None:
    create_review(client, writer)
    link = client.get("/v1/feed").headers["link"]
    since = httpx.URL(link[1 : link.index(">")]).params["since"]

    tampered = client.get("/v1/feed", params={"since": "x" + since[1:]})
    foreign = client.get("/v1/feed", params={"since": since, "publisher": "other"})

    assert tampered.status_code == 400
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["path"] == "since"


def test_feed_misses_and_repeats_nothing_under_concurrent_writers(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        http.post("/v1/publishers", json=SEED_PUBLISHER, headers=ADMIN)
        key = http.post(
            "/v1/publishers/polygraph/keys",
            json={"name": "w", "scopes": ["reviews:write"]},
            headers=ADMIN,
        ).json()["key"]
    writer = bearer(key)
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    async def write(worker: int) -> None:
        async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
            for n in range(8):
                body = seed_review(
                    external_id=f"w{worker}-{n}", url=f"https://www.polygraph.info/{worker}/{n}"
                )
                created = (await http.post("/v1/claim-reviews", json=body, headers=writer)).json()
                if n % 3 == 0:
                    await http.patch(
                        f"/v1/claim-reviews/{created['id']}", json={"headline": "e"}, headers=writer
                    )
                if n % 4 == 0:
                    await http.delete(f"/v1/claim-reviews/{created['id']}", headers=writer)

    def read() -> None:
        with httpx.Client(base_url=live_server, timeout=30) as http:
            url = "/v1/feed?limit=7"
            while True:
                # Read the flag first: an empty page fetched after it was set is really the end.
                finished = done.is_set()
                response = http.get(url)
                page = response.json()["dataFeedElement"]
                seen.extend(page)
                link = response.headers["link"]
                url = link[link.index("/v1/feed") : link.index(">")]
                if not page and finished:
                    return

    reader = threading.Thread(target=read)
    reader.start()

    async def writers() -> None:
        await asyncio.gather(*(write(worker) for worker in range(4)))

    asyncio.run(writers())
    done.set()
    reader.join(timeout=60)

    with httpx.Client(base_url=live_server, timeout=30) as http:
        final = published(http)
    keys = [
        (item["item"]["@id"], item.get("dateModified"), item.get("dateDeleted")) for item in seen
    ]
    assert len(keys) == len(set(keys))
    assert replay(seen) == final
    assert len(final) == 24


@pytest.mark.skipif(
    not POSTGRES_URL, reason="SQLite runs one writer at a time: no commit reordering"
)
def test_feed_holds_back_a_later_commit_until_an_earlier_transaction_ends(
    client: TestClient, writer: dict[str, str]
) -> None:
    with Session(client.app.state.engine) as slow:  # type: ignore[attr-defined]
        publisher = slow.query(Publisher).filter_by(slug="polygraph").one()
        early = reviews.create(
            session=slow,
            publisher=publisher,
            incoming=ReviewIn.model_validate(seed_review(external_id="early")),
            actor="test",
            base_url="http://127.0.0.1:8000",
        )
        early_id = early.id
        late = create_review(client, writer, external_id="late")

        while_open = client.get("/v1/feed").json()["dataFeedElement"]
        slow.commit()

    after = client.get("/v1/feed").json()["dataFeedElement"]
    assert while_open == []
    assert [item["item"]["@id"].rsplit("/", 1)[1] for item in after] == [early_id, late["id"]]


def test_export_ndjson_streams_the_stored_jsonld(
    client: TestClient, writer: dict[str, str]
) -> None:
    made = [create_review(client, writer, external_id=f"r{n}") for n in range(3)]
    create_review(client, writer, external_id="d", status="draft")
    client.delete(f"/v1/claim-reviews/{made[2]['id']}", headers=writer)

    live = client.get("/v1/export")
    with_deleted = client.get("/v1/export", params={"include_deleted": "true"})

    assert live.headers["content-type"] == "application/x-ndjson"
    assert live.headers["content-disposition"].startswith('attachment; filename="claimreviews-')
    lines = live.content.splitlines()
    assert lines == [client.get(f"/v1/claim-reviews/{r['id']}.jsonld").content for r in made[:2]]
    tombstone = orjson.loads(with_deleted.content.splitlines()[-1])
    assert tombstone["@id"].endswith(made[2]["id"])
    assert set(tombstone) == {"@id", "url", "dateDeleted"}


@pytest.mark.parametrize("format", ["ndjson", "jsonld", "csv"])
def test_export_batches_join_into_the_same_document(
    client: TestClient, writer: dict[str, str], monkeypatch: pytest.MonkeyPatch, format: str
) -> None:
    made = [create_review(client, writer, external_id=f"r{n}") for n in range(5)]
    client.delete(f"/v1/claim-reviews/{made[1]['id']}", headers=writer)
    params = {"format": format}
    whole = client.get("/v1/export", params=params).content
    whole_deleted = client.get("/v1/export", params=params | {"include_deleted": "true"}).content

    monkeypatch.setattr(syndication_routes, "EXPORT_BATCH", 2)
    batched = client.get("/v1/export", params=params).content
    batched_deleted = client.get("/v1/export", params=params | {"include_deleted": "true"}).content

    assert (batched, batched_deleted) == (whole, whole_deleted)
    if format == "ndjson":
        live = [orjson.loads(line)["@id"].rsplit("/", 1)[1] for line in batched.splitlines()]
        assert live == [review["id"] for n, review in enumerate(made) if n != 1]
        assert len(batched_deleted.splitlines()) == 5
        assert batched.endswith(b"}\n")


def test_export_jsonld_is_a_data_feed_and_honours_filters(
    client: TestClient, writer: dict[str, str]
) -> None:
    create_review(client, writer, external_id="en")
    create_review(client, writer, external_id="es", language="es")

    feed = client.get("/v1/export", params={"format": "jsonld", "language": "es"}).json()

    assert feed["@type"] == "DataFeed"
    assert [item["item"]["inLanguage"] for item in feed["dataFeedElement"]] == ["es"]
    empty = client.get("/v1/export", params={"format": "jsonld", "publisher": "nobody"}).json()
    assert empty["dataFeedElement"] == []


def test_export_csv_survives_commas_quotes_and_newlines(
    client: TestClient, writer: dict[str, str]
) -> None:
    tricky = 'He said "no", then\nleft; really, twice'
    created = create_review(client, writer, claim_reviewed=tricky, tags=["a,b", 'c"d'])

    response = client.get("/v1/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.text)))

    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert len(rows) == 1
    assert rows[0]["id"] == created["id"]
    assert rows[0]["claim_reviewed"] == tricky
    assert rows[0]["tags"] == 'a,b; c"d'
    assert rows[0]["rating_value"] == "1"
    assert rows[0]["verdict"] == "false"
    assert tuple(rows[0]) == CSV_COLUMNS


def test_export_is_gzipped_when_accepted(client: TestClient, writer: dict[str, str]) -> None:
    create_review(client, writer)

    with client.stream("GET", "/v1/export", headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())

    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw).startswith(b'{"@context":"https://schema.org"')


def test_export_of_drafts_needs_their_publisher(client: TestClient, writer: dict[str, str]) -> None:
    create_review(client, writer, status="draft")

    anonymous = client.get("/v1/export", params={"status": "draft"})
    own = client.get("/v1/export", params={"status": "draft"}, headers=writer)

    assert anonymous.status_code == 401
    assert len(own.content.splitlines()) == 1
