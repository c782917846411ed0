"""POST /v1/import?create_publishers=true: an aggregator's feed of many fact-checkers creates a
publisher per author that matches none, on the registrable domain of its review URLs."""

import os
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db.engine import make_engine, make_sessionmaker
from app.main import create_app
from app.services import importer, new_publishers
from tests.api.v1.test_import import (
    NDJSON,
    counts,
    dying_at,
    in_worker_processes,
    ndjson,
    post_import,
    statuses,
    stored,
)
from tests.conftest import ADMIN, BASE_URL, bearer, make_key, make_publisher

CREATE = {"create_publishers": "true"}
AFP = {"@type": "Organization", "name": "AFP Fact Check", "url": "https://factcheck.afp.com/"}
AFP_CREATED = {
    "slug": "afp-fact-check",
    "name": "AFP Fact Check",
    "url": "https://factcheck.afp.com/",
    "domains": ["afp.com"],
}


def fact_check(url: str, author: Any, number: int = 1, **changes: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": url,
        "headline": f"Checking claim {number}",
        "claimReviewed": f"Claim number {number} went viral.",
        "datePublished": "2024-03-04",
        "inLanguage": "en",
        "author": author,
        "itemReviewed": {
            "@type": "Claim",
            "author": {"@type": "Person", "name": "Pat Example"},
            "datePublished": "2024-03-01",
            "appearance": [{"@type": "CreativeWork", "url": f"https://social.example/{number}"}],
        },
        "reviewRating": {"@type": "Rating", "alternateName": "False"},
    }
    node.update(changes)
    return {key: value for key, value in node.items() if value is not None}


def data_feed(*nodes: dict[str, Any]) -> dict[str, Any]:
    """A Data Commons-style feed: every item without its own @context."""
    items = [{key: value for key, value in node.items() if key != "@context"} for node in nodes]
    return {
        "@context": "https://schema.org",
        "@type": "DataFeed",
        "dataFeedElement": [{"@type": "DataFeedItem", "item": [item]} for item in items],
    }


def aggregated_feed() -> dict[str, Any]:
    """Three organisations: AFP's editions on three subdomains, BOOM, Africa Check."""
    return data_feed(
        fact_check("https://factcheck.afp.com/doc.afp.com.1", AFP, 1),
        fact_check("https://www.boomlive.in/fact-check/2", {"name": "BOOM"}, 2),
        fact_check(
            "https://factuel.afp.com/doc.afp.com.3",
            {"@type": "Organization", "name": "AFP Factuel", "url": "https://factuel.afp.com/"},
            3,
            inLanguage="fr",
        ),
        fact_check(
            "https://factcheckhindi.afp.com/doc.afp.com.4",
            {"@type": "Organization", "name": "AFP \u0939\u093f\u0902\u0926\u0940"},
            4,
            inLanguage="hi",
        ),
        fact_check(
            "https://africacheck.org/fact-checks/5",
            {
                "@type": "NewsMediaOrganization",
                "name": "Africa Check",
                "url": "https://africacheck.org",
            },
            5,
        ),
    )


def publishers(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/publishers", headers=ADMIN)
    assert response.status_code == 200, response.text
    return {row["slug"]: row for row in response.json()["items"]}


def created(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(row["slug"], row["domains"]) for row in report["publishers_created"]]


def test_import_creates_one_publisher_per_organisation_on_its_registrable_domain(
    client: TestClient,
) -> None:
    report = post_import(client, aggregated_feed(), ADMIN, **CREATE)

    assert counts(report) == (5, 0, 0, 0)
    assert report["publishers_created"] == [
        AFP_CREATED,
        {
            "slug": "boom",
            "name": "BOOM",
            "url": "https://www.boomlive.in/",
            "domains": ["boomlive.in"],
        },
        {
            "slug": "africa-check",
            "name": "Africa Check",
            "url": "https://africacheck.org",
            "domains": ["africacheck.org"],
        },
    ]
    assert {slug: row["domains"] for slug, row in publishers(client).items()} == {
        "afp-fact-check": ["afp.com"],
        "boom": ["boomlive.in"],
        "africa-check": ["africacheck.org"],
    }
    afp = stored(client, ADMIN, publisher="afp-fact-check")
    assert sorted(item["language"] for item in afp) == ["en", "fr", "hi"]
    assert {item["publisher"] for item in stored(client, ADMIN, language="en")} == {
        "africa-check",
        "boom",
        "afp-fact-check",
    }
    served = orjson.loads(client.get(f"/v1/claim-reviews/{afp[0]['id']}.jsonld").content)
    assert served["author"] == {
        "@type": "Organization",
        "name": "AFP Fact Check",
        "url": "https://factcheck.afp.com/",
    }


def test_import_of_the_same_feed_again_creates_nothing_and_changes_nothing(
    client: TestClient,
) -> None:
    first = post_import(client, aggregated_feed(), ADMIN, **CREATE)
    again = post_import(client, aggregated_feed(), ADMIN, **CREATE)
    without_flag = post_import(client, aggregated_feed(), ADMIN)

    assert counts(again) == (0, 0, 5, 0)
    assert again["publishers_created"] == []
    assert [item["id"] for item in again["items"]] == [item["id"] for item in first["items"]]
    # The created publishers are ordinary ones: an import without the flag matches them too.
    assert counts(without_flag) == (0, 0, 5, 0)
    assert len(publishers(client)) == 3


def test_import_matches_existing_publishers_before_creating_any(client: TestClient) -> None:
    make_publisher(client, slug="boom-live", name="BOOM Live", url="https://www.boomlive.in/")
    make_publisher(client, slug="afp", name="Agence France-Presse", url="https://www.afp.com/")

    report = post_import(client, aggregated_feed(), ADMIN, **CREATE)

    assert created(report) == [("africa-check", ["africacheck.org"])]
    assert [item["publisher"] for item in stored(client, ADMIN, publisher="afp")] == ["afp"] * 3
    assert len(stored(client, ADMIN, publisher="boom-live")) == 1


def test_import_makes_slugs_unique(client: TestClient) -> None:
    make_publisher(client, slug="afp-fact-check", name="Another", url="https://another.example/")
    feed = data_feed(
        fact_check("https://factcheck.afp.com/1", AFP, 1),
        fact_check("https://fact-check.org/2", {"name": "Fact Check!"}, 2),
        fact_check("https://factcheck.ph/3", {"name": "Fact-Check"}, 3),
    )

    report = post_import(client, feed, ADMIN, **CREATE)

    assert created(report) == [
        ("afp-fact-check-2", ["afp.com"]),
        ("fact-check", ["fact-check.org"]),
        ("fact-check-2", ["factcheck.ph"]),
    ]
    assert counts(report) == (3, 0, 0, 0)


def test_import_names_a_publisher_without_an_organisation_after_its_domain(
    client: TestClient,
) -> None:
    feed = data_feed(
        fact_check("https://newschecker.in/fact-check/1", None, 1),
        fact_check("https://www.vishvasnews.com/2", {"@type": "Person", "name": "Jane Doe"}, 2),
        fact_check("https://factly.in/3", {"@type": "Organization", "name": "  "}, 3),
        fact_check(
            "https://newschecker.in/fact-check/4",
            [{"@type": "Person", "name": "Sam"}, {"@type": "Organization", "name": "Newschecker"}],
            4,
        ),
    )

    report = post_import(client, feed, ADMIN, **CREATE)

    assert [(row["slug"], row["name"], row["url"]) for row in report["publishers_created"]] == [
        ("newschecker-in", "newschecker.in", "https://newschecker.in/"),
        ("vishvasnews-com", "vishvasnews.com", "https://www.vishvasnews.com/"),
        ("factly-in", "factly.in", "https://factly.in/"),
    ]
    # The fourth review is on newschecker.in: the publisher made for the first.
    assert [item["publisher"] for item in stored(client, ADMIN, publisher="newschecker-in")] == [
        "newschecker-in"
    ] * 2


def test_import_adds_another_registrable_domain_of_the_same_author(client: TestClient) -> None:
    reuters = {"@type": "Organization", "name": "Reuters Fact Check"}
    feed = data_feed(
        fact_check("https://www.reuters.com/fact-check/1", reuters, 1),
        fact_check("https://uk.reuters.co.uk/fact-check/2", reuters, 2),
        fact_check("https://graphics.reuters.com/fact-check/3", reuters, 3),
    )

    report = post_import(client, feed, ADMIN, **CREATE)

    assert counts(report) == (3, 0, 0, 0)
    assert created(report) == [("reuters-fact-check", ["reuters.com", "reuters.co.uk"])]
    assert publishers(client)["reuters-fact-check"]["domains"] == ["reuters.com", "reuters.co.uk"]


def test_import_never_takes_a_public_suffix_for_a_publisher_site(client: TestClient) -> None:
    """A publisher on blogspot.com (a public suffix) owns nobody's blog there."""
    make_publisher(client, slug="blogger", name="Blogger", url="https://blogspot.com/")
    feed = data_feed(
        fact_check("https://checkers.blogspot.com/2024/1", {"name": "Checkers"}, 1),
        fact_check("https://others.blogspot.com/2024/2", None, 2),
    )

    report = post_import(client, feed, ADMIN, **CREATE)

    assert created(report) == [
        ("checkers", ["checkers.blogspot.com"]),
        ("others-blogspot-com", ["others.blogspot.com"]),
    ]
    assert stored(client, ADMIN, publisher="blogger") == []


def test_import_creates_no_publisher_for_an_author_whose_reviews_are_all_invalid(
    client: TestClient,
) -> None:
    feed = data_feed(
        fact_check("https://ghostcheck.org/1", {"name": "Ghost Check"}, 1, claimReviewed=None),
        fact_check("https://factcheck.afp.com/2", AFP, 2, reviewRating=None),
        fact_check("https://factcheck.afp.com/3", AFP, 3),
    )

    report = post_import(client, feed, ADMIN, **CREATE)

    assert statuses(report) == [(0, "invalid"), (1, "invalid"), (2, "created")]
    assert report["publishers_created"] == [AFP_CREATED]
    assert set(publishers(client)) == {"afp-fact-check"}


def test_import_with_an_admin_key_creates_publishers_rather_than_using_its_own(
    client: TestClient,
) -> None:
    make_publisher(client, slug="desk", name="Desk", url="https://desk.example/")
    admin_key = bearer(make_key(client, "desk", "admin"))
    feed = data_feed(fact_check("https://africacheck.org/1", {"name": "Africa Check"}))

    plain = post_import(client, feed, admin_key)
    report = post_import(client, feed, admin_key, **CREATE)

    assert statuses(plain) == [(0, "invalid")]  # on africacheck.org, not on desk.example
    assert created(report) == [("africa-check", ["africacheck.org"])]
    assert counts(report) == (1, 0, 0, 0)


def test_import_creating_publishers_needs_an_admin(client: TestClient) -> None:
    make_publisher(client, slug="desk", name="Desk", url="https://desk.example/")
    key = bearer(make_key(client, "desk", "reviews:write"))

    response = client.post(
        "/v1/import",
        content=orjson.dumps(aggregated_feed()),
        headers={**key, "Content-Type": "application/ld+json"},
        params=CREATE,
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"path": "create_publishers", "message": "needs the admin scope"}
    ]
    assert set(publishers(client)) == {"desk"}


def test_import_creating_publishers_is_not_for_one_publisher(client: TestClient) -> None:
    make_publisher(client, slug="desk", name="Desk", url="https://desk.example/")

    response = client.post(
        "/v1/import",
        content=orjson.dumps(aggregated_feed()),
        headers={**ADMIN, "Content-Type": "application/ld+json"},
        params={**CREATE, "publisher": "desk"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["path"] == "create_publishers"


def spread(count: int) -> list[dict[str, Any]]:
    """Reviews by AFP (two editions), BOOM, Full Fact, and from item 7 on Africa Check."""
    authors = [
        ("https://factcheck.afp.com/", AFP),
        ("https://www.boomlive.in/", {"name": "BOOM"}),
        ("https://factuel.afp.com/", {"name": "AFP Factuel"}),
        ("https://fullfact.org/", {"name": "Full Fact"}),
        ("https://africacheck.org/", {"name": "Africa Check"}),
    ]
    order = [0, 1, 2, 3, 0, 1, 2, 4, 0, 4, 3, 1]
    return [fact_check(f"{authors[order[n]][0]}{n}", authors[order[n]][1], n) for n in range(count)]


def test_import_in_worker_processes_creates_the_same_publishers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of two go to worker processes: the writer decides each item's publisher, and
    a publisher first seen after the workers started is made all the same."""
    pooled = in_worker_processes(monkeypatch, batch_size=2)
    nodes = spread(12)
    del nodes[7]["claimReviewed"]  # invalid: Africa Check is made for item 9, in batch 5

    report = post_import(client, ndjson(*nodes), ADMIN, content_type=NDJSON, **CREATE)
    again = post_import(client, ndjson(*nodes), ADMIN, content_type=NDJSON, **CREATE)

    if (os.cpu_count() or 1) > 1:
        assert pooled == [os.cpu_count()] * 2
    assert created(report) == [
        ("afp-fact-check", ["afp.com"]),
        ("boom", ["boomlive.in"]),
        ("full-fact", ["fullfact.org"]),
        ("africa-check", ["africacheck.org"]),
    ]
    assert counts(report) == (11, 0, 0, 1)
    assert counts(again) == (0, 0, 11, 1)
    assert again["publishers_created"] == []
    by_publisher = {slug: len(stored(client, ADMIN, publisher=slug)) for slug in publishers(client)}
    assert by_publisher == {"afp-fact-check": 5, "boom": 3, "full-fact": 2, "africa-check": 1}
    served = stored(client, ADMIN, publisher="africa-check")[0]
    assert served["publisher"] == "africa-check"


def test_import_that_fails_leaves_no_publisher_of_its_unwritten_batch(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dying_at(monkeypatch, "/3", batch_size=2)
    with TestClient(
        create_app(settings), base_url=BASE_URL, raise_server_exceptions=False
    ) as client:
        crashed = client.post(
            "/v1/import",
            content=ndjson(*spread(4)),
            headers={**ADMIN, **NDJSON},
            params=CREATE,
        )
        kept = publishers(client)

    assert crashed.status_code == 500
    # Batch [0-1] committed with AFP and BOOM; [2-3] rolled back, Full Fact with it.
    assert set(kept) == {"afp-fact-check", "boom"}


@pytest.mark.parametrize("processes", [1, 2])
def test_import_numbers_a_slug_another_writer_took_meanwhile(
    client: TestClient, settings: Settings, processes: int
) -> None:
    """The publishers were read before someone created "afp-fact-check": the insert is refused,
    the publisher stored as "afp-fact-check-2", and its reviews say so."""
    make_publisher(client, slug="afp-fact-check", name="Another", url="https://another.example/")
    items = importer.claim_reviews(importer.sources(ndjson(*spread(4)), "ndjson"))
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            report = importer.upsert(
                session=session,
                items=items,
                publishers=importer.Publishers(create=True),
                actor="test",
                base_url=BASE_URL,
                commit=session.commit,
                batch_size=1,
                processes=processes,
            )
    finally:
        engine.dispose()

    assert [row["slug"] for row in report.publishers_created] == [
        "afp-fact-check-2",
        "boom",
        "full-fact",
    ]
    assert (report.created, report.invalid) == (4, 0)
    afp = stored(client, ADMIN, publisher="afp-fact-check-2")
    assert [item["publisher"] for item in afp] == ["afp-fact-check-2"] * 2
    assert stored(client, ADMIN, publisher="afp-fact-check") == []


@pytest.mark.parametrize(
    ("author", "name"),
    [
        ({"@type": "Person", "name": "Jane Doe"}, "factly.in"),
        ({"@type": "schema:person", "name": "Jane Doe"}, "factly.in"),
        ({"@type": ["Thing", "http://schema.org/Person"], "name": "Jane Doe"}, "factly.in"),
        ([{"@type": "Person", "name": "Jane"}, {"name": "Factly"}], "Factly"),
        ("Factly &amp; Co", "Factly & Co"),
        ({"@type": "NewsMediaOrganization", "name": ["  Factly\n Media "]}, "Factly Media"),
    ],
)
def test_a_new_publisher_is_named_after_the_organisation_not_a_journalist(
    author: Any, name: str
) -> None:
    made = new_publishers.for_review({"url": "https://factly.in/x", "author": author}, taken=set())
    assert made is not None
    assert (made.name, made.domains) == (name, ["factly.in"])


@pytest.mark.parametrize("batch_size", [1, 10])
def test_import_makes_the_publisher_of_an_author_given_by_reference(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    """The Yoast pattern: the author is an @id naming a node elsewhere in the graph. The
    publisher is decided on the repaired node, in one process or (batches of one) in workers."""
    monkeypatch.setattr(importer, "BATCH_SIZE", batch_size)
    reference = {"@id": "https://factly.in/#organization"}
    reviews_of_the_page = [
        {key: value for key, value in fact_check(url, reference, n).items() if key != "@context"}
        for n, url in enumerate(["https://factly.in/1", "https://factly.in/2"])
    ]
    organisation = {
        "@type": "Organization",
        "@id": "https://factly.in/#organization",
        "name": "Factly",
        "url": "https://factly.in/",
    }
    page = {"@context": "https://schema.org", "@graph": [organisation, *reviews_of_the_page]}

    report = post_import(client, page, ADMIN, **CREATE)

    assert counts(report) == (2, 0, 0, 0)
    assert report["publishers_created"] == [
        {"slug": "factly", "name": "Factly", "url": "https://factly.in/", "domains": ["factly.in"]}
    ]
