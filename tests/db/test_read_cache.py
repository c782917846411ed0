"""The cache of list pages (app/db/read_cache.py): a page read again while nothing was written comes
from memory, and every write that finished before a request, on this host or another, shows in
its answer."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import ADMIN, BASE_URL, bearer, create_review, make_key, make_publisher

PAGE = {"publisher": "polygraph", "limit": "5"}


def headlines(client: TestClient, **params: str) -> list[str]:
    response = client.get("/v1/claim-reviews", params={**PAGE, **params})
    assert response.status_code == 200, response.text
    return [item["headline"] for item in response.json()["items"]]


def cache_counts(client: TestClient) -> tuple[float, float]:
    """This host's (hits, misses) as /metrics reports them."""
    text = client.get("/metrics", headers=ADMIN).text
    counted = {
        name: float(value)
        for name, value in re.findall(r"^claimreview_read_cache_(\w+)_total (\S+)$", text, re.M)
    }
    return counted["hits"], counted["misses"]


@pytest.fixture
def other_host(settings: Settings) -> Iterator[TestClient]:
    """A second app on the same database: another process behind the load balancer."""
    with TestClient(create_app(settings), base_url=BASE_URL) as second:
        yield second


def test_a_page_read_again_comes_from_the_cache(client: TestClient, writer: dict[str, str]) -> None:
    create_review(client, writer, headline="One")
    first = client.get("/v1/claim-reviews", params=PAGE)
    hits, misses = cache_counts(client)

    again = client.get("/v1/claim-reviews", params=PAGE)

    assert again.content == first.content
    assert cache_counts(client) == (hits + 1, misses)


def test_every_write_shows_on_the_next_read_of_a_cached_page(
    client: TestClient, writer: dict[str, str]
) -> None:
    first = create_review(client, writer, headline="First")
    assert headlines(client) == ["First"]

    create_review(client, writer, headline="Second", external_id="second")
    assert headlines(client) == ["Second", "First"]

    changed = client.patch(
        f"/v1/claim-reviews/{first['id']}", json={"headline": "First, corrected"}, headers=writer
    )
    assert changed.status_code == 200, changed.text
    assert headlines(client) == ["Second", "First, corrected"]

    retracted = client.delete(f"/v1/claim-reviews/{first['id']}", headers=writer)
    assert retracted.status_code == 204, retracted.text
    assert headlines(client) == ["Second"]


def test_a_write_on_another_host_shows_on_the_next_read(
    client: TestClient, other_host: TestClient, writer: dict[str, str]
) -> None:
    create_review(client, writer, headline="Here")
    assert headlines(client) == ["Here"]
    assert headlines(client) == ["Here"]  # cached now

    create_review(other_host, writer, headline="There", external_id="there")

    assert headlines(client) == ["There", "Here"]


def test_drafts_are_cached_per_publisher_and_stay_private(
    client: TestClient, writer: dict[str, str]
) -> None:
    create_review(client, writer, headline="Draft", status="draft")
    make_publisher(client, slug="rival", name="Rival", url="https://rival.example/")
    rival = bearer(make_key(client, "rival", "reviews:write"))

    def drafts(headers: dict[str, str]) -> list[Any]:
        response = client.get("/v1/claim-reviews", params={"status": "draft"}, headers=headers)
        assert response.status_code == 200, response.text
        return [item["headline"] for item in response.json()["items"]]

    assert drafts(writer) == drafts(writer) == ["Draft"]
    assert drafts(rival) == drafts(rival) == []


def test_the_cache_can_be_turned_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"read_cache_mb": 0}))
    with TestClient(app, base_url=BASE_URL) as client:
        writer = bearer(make_key(client, make_publisher(client)["slug"], "reviews:write"))
        create_review(client, writer, headline="Only")
        assert headlines(client) == headlines(client) == ["Only"]
        hits, _ = cache_counts(client)
        create_review(client, writer, headline="Next", external_id="next")
        assert headlines(client) == ["Next", "Only"]

        assert cache_counts(client)[0] == hits == 0


def test_an_article_read_again_shows_a_review_added_since(
    client: TestClient, writer: dict[str, str]
) -> None:
    """/v1/markup reads an article's reviews through the same cache as list pages."""
    first = create_review(client, writer)
    params = {"url": first["url"]}

    def marked_up() -> list[str]:
        response = client.get("/v1/markup", params=params)
        assert response.status_code == 200, response.text
        return [node["@id"].rsplit("/", 1)[1] for node in response.json()]

    assert marked_up() == marked_up() == [first["id"]]
    second = create_review(client, writer, external_id="second", url=first["url"] + "#2")

    assert marked_up() == [first["id"], second["id"]]


def test_a_kept_page_answers_only_callers_it_fits(
    client: TestClient, writer: dict[str, str]
) -> None:
    """Whole pages are kept for anonymous callers, per query string and representation: a
    caller with a key, or one asking for JSON-LD, gets its own answer."""
    create_review(client, writer, headline="Kept")
    request_ids = []
    for _ in range(2):
        anonymous = client.get("/v1/claim-reviews", params=PAGE)
        as_jsonld = client.get(
            "/v1/claim-reviews", params=PAGE, headers={"Accept": "application/ld+json"}
        )
        with_key = client.get("/v1/claim-reviews", params=PAGE, headers=writer)

        assert anonymous.headers["cache-control"].startswith("public")
        assert anonymous.json()["items"][0]["headline"] == "Kept"
        assert as_jsonld.headers["content-type"] == "application/ld+json"
        assert as_jsonld.json()["@graph"][0]["headline"] == "Kept"
        assert with_key.headers["cache-control"] == "private, no-cache"
        assert with_key.json() == anonymous.json()
        request_ids += anonymous.headers.get_list("x-request-id")

    assert len(set(request_ids)) == len(request_ids) == 2  # each answer has its own


def test_the_budget_holds_against_many_distinct_long_query_strings(settings: Settings) -> None:
    """An anonymous caller chooses the key of a kept page (its query string): pages kept for
    a flood of distinct 7 KB query strings must not outgrow the budget, however small their
    bodies (an empty page is 32 bytes)."""
    budget = 1 << 20
    app = create_app(settings.model_copy(update={"read_cache_mb": 1}))
    with TestClient(app, base_url=BASE_URL) as client:
        for n in range(200):
            # A repeated parameter counts once (the last), so a query string can be long.
            padding = [("claimant", "x" * 490)] * 14
            response = client.get("/v1/claim-reviews", params=[*padding, ("claimant", str(n))])
            assert response.status_code == 200, response.text
            assert response.json()["items"] == []
        cache = app.state.reads.cache

        # Each request kept a page and its rows; 200 keys of 7 KB exceed 1 MiB, so the oldest
        # were evicted.
        assert cache.misses == 400
        assert 0 < cache.size <= budget
        assert len(cache) < 400
