"""Facets against a direct count of the stored reviews, after every kind of write.

Facets answer from count tables (migration 0003) when the filter only names status, publisher,
language, verdict or claimant, and count the reviews themselves for any other filter. Each test
writes through the API, then compares ``GET /v1/facets`` for many filters with counts made here
in Python from the rows of ``claim_review``, and the count tables with a GROUP BY of it.
"""

import dataclasses
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from app.config import Settings
from app.db import sqlalchemy_url
from tests.conftest import ADMIN, bearer, create_review, make_key, make_publisher

MALDITA = {"slug": "maldita", "name": "Maldita.es", "url": "https://maldita.es/", "language": "es"}
FCE = {"slug": "fce", "name": "Fact Check Example", "url": "https://factcheck.example/"}


@dataclasses.dataclass(frozen=True)
class Row:
    id: str
    pk: int
    status: str
    publisher: str
    language: str | None
    verdict: str
    label_key: str | None
    claimant_key: str | None
    claimant_name: str | None
    published_at: datetime
    tags: frozenset[str]


Keep = Callable[[Row], bool]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = create_engine(sqlalchemy_url(settings.database_url))
    yield engine
    engine.dispose()


def stored_rows(engine: Engine) -> list[Row]:
    with engine.connect() as connection:
        tags: dict[int, set[str]] = {}
        for pk, key in connection.execute(text("SELECT review_pk, tag_key FROM review_tag")):
            tags.setdefault(pk, set()).add(key)
        rows = connection.execute(
            text(
                "SELECT r.id, r.pk, r.status, p.slug, r.language, r.verdict, r.label_key,"
                " r.claimant_key, r.claimant_name, r.published_at"
                " FROM claim_review r JOIN publisher p ON p.id = r.publisher_id"
            )
        ).all()
    return [
        Row(*row[:9], published_at=_utc(row[9]), tags=frozenset(tags.get(row[1], ())))
        for row in rows
    ]


def _utc(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def expected_facets(rows: list[Row], keep: Keep, visible: Keep) -> dict[str, Any]:
    """What the facets must say: counts of the rows the caller may see (``visible``) that
    ``keep`` selects; a claimant shown by the name in its newest review the caller may see."""
    matching = [row for row in rows if keep(row) and visible(row)]
    newest: dict[str, Row] = {}
    for row in sorted(rows, key=lambda row: (row.published_at, row.pk)):
        if visible(row) and row.claimant_key is not None:
            newest[row.claimant_key] = row
    claimants = Counter(row.claimant_key for row in matching if row.claimant_key is not None)
    return {
        "total": len(matching),
        "publisher": dict(Counter(row.publisher for row in matching)),
        "verdict": dict(Counter(row.verdict for row in matching)),
        "language": dict(Counter(row.language for row in matching if row.language)),
        "claimant": {newest[key].claimant_name: count for key, count in claimants.items()},
    }


def facets(client: TestClient, params: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/v1/facets", params={**params, "top": "100"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    found: dict[str, Any] = {"total": body["total"]}
    for facet in ("publisher", "verdict", "language", "claimant"):
        counts = [item["count"] for item in body[facet]]
        assert counts == sorted(counts, reverse=True), (facet, body[facet])
        assert all(count > 0 for count in counts), (facet, body[facet])
        found[facet] = {item["value"]: item["count"] for item in body[facet]}
        assert len(found[facet]) == len(body[facet]), (facet, body[facet])
    return found


def listed_ids(client: TestClient, params: dict[str, str]) -> set[str]:
    """Every review the list endpoint finds for ``params`` (all pages)."""
    found: set[str] = set()
    paging = {**params, "limit": "100"}
    while True:
        page = client.get("/v1/claim-reviews", params=paging).json()
        found |= {item["id"] for item in page["items"]}
        if page["next_cursor"] is None:
            return found
        paging["cursor"] = page["next_cursor"]


def published(row: Row) -> bool:
    return row.status == "published"


def language(tag: str) -> Keep:
    return lambda row: row.language == tag or (row.language or "").startswith(tag + "-")


def check_counts_tables(engine: Engine) -> None:
    """The count tables hold exactly the counts of the reviews (rows at zero aside):
    review_count per (status, publisher, language, verdict); claimant_count per (status,
    publisher, verdict, language, claimant) and per total over any of the first three."""
    review_count: Counter[tuple[Any, ...]] = Counter()
    claimant_count: Counter[tuple[Any, ...]] = Counter()
    with engine.connect() as connection:
        reviews = connection.execute(
            text("SELECT status, publisher_id, language, verdict, claimant_key FROM claim_review")
        ).all()
        kept = {
            table: Counter(
                {
                    tuple(row[:-1]): row[-1]
                    for row in connection.execute(text(f"SELECT * FROM {table} WHERE n <> 0"))
                }
            )
            for table in ("review_count", "claimant_count")
        }
    for status, publisher_id, language, verdict, claimant_key in reviews:
        review_count[(status, publisher_id, language or "", verdict)] += 1
        if claimant_key is None:
            continue
        for by_publisher, by_verdict, by_language in itertools.product((False, True), repeat=3):
            claimant_count[
                (
                    status,
                    publisher_id if by_publisher else 0,
                    verdict if by_verdict else "*",
                    (language or "") if by_language else "*",
                    claimant_key,
                )
            ] += 1
    assert kept["review_count"] == review_count
    assert kept["claimant_count"] == claimant_count


def check_everything(client: TestClient, engine: Engine, keys: dict[str, dict[str, str]]) -> None:
    """Facets for each kind of filter (both count tables, and the reviews themselves) equal a
    direct count; then the count tables themselves."""
    rows = stored_rows(engine)
    anonymous: dict[str, str] = {}
    claimant = next(row.claimant_name for row in rows if row.claimant_key and published(row))
    claimant_key = next(row.claimant_key for row in rows if row.claimant_name == claimant)
    cases: list[tuple[dict[str, str], Keep]] = [
        ({}, lambda row: True),
        ({"publisher": "polygraph"}, lambda row: row.publisher == "polygraph"),
        ({"language": "pt"}, language("pt")),
        ({"language": "es"}, language("es")),
        ({"verdict": "false"}, lambda row: row.verdict == "false"),
        (
            {"publisher": "polygraph", "verdict": "misleading"},
            lambda row: row.publisher == "polygraph" and row.verdict == "misleading",
        ),
        ({"claimant": claimant.upper()}, lambda row: row.claimant_key == claimant_key),
        ({"label": "FALSO"}, lambda row: row.label_key == "falso"),
        ({"tag": "Bridges"}, lambda row: "bridges" in row.tags),
        (
            {"published_since": "2024-01-05"},
            lambda row: row.published_at >= datetime(2024, 1, 5, tzinfo=UTC),
        ),
    ]
    for params, keep in cases:
        expected = expected_facets(rows, keep, published)
        assert facets(client, params, anonymous) == expected, params
    matched = listed_ids(client, {"q": "military"})
    expected = expected_facets(rows, lambda row: row.id in matched, published)
    assert expected["total"] > 0
    assert facets(client, {"q": "military"}, anonymous) == expected

    drafts = {"status": "draft"}
    for who, publisher in (("writer", "polygraph"), ("admin", None)):

        def own_draft(row: Row, publisher: str | None = publisher) -> bool:
            return row.status == "draft" and publisher in (None, row.publisher)

        expected = expected_facets(rows, own_draft, own_draft)
        assert facets(client, drafts, keys[who]) == expected, who
    check_counts_tables(engine)


@pytest.fixture
def keys(client: TestClient) -> dict[str, dict[str, str]]:
    make_publisher(client)
    make_publisher(client, **MALDITA)
    make_publisher(client, **FCE)
    return {
        "writer": bearer(make_key(client, "polygraph")),
        "maldita": bearer(make_key(client, "maldita")),
        "fce": bearer(make_key(client, "fce")),
        "admin": ADMIN,
    }


def rating(label: str, value: int = 1) -> dict[str, Any]:
    return {"label": label, "value": value, "best": 5, "worst": 1}


def review(
    client: TestClient,
    headers: dict[str, str],
    n: int,
    host: str = "https://www.polygraph.info",
    **changes: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "external_id": f"f-{n}",
        "url": f"{host}/a/{n}.html",
        "date_published": f"2024-01-{n:02d}",
    }
    return create_review(client, headers, **{**fields, **changes})


def corpus(client: TestClient, keys: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Reviews across three publishers, published and draft, in several languages or none,
    with and without a claimant, the same claimant spelled two ways."""
    writer, maldita, host = keys["writer"], keys["maldita"], "https://maldita.es"
    zakharova = {"author": {"name": "Maria Zakharova"}}
    return {
        "en": review(client, writer, 1, claim=zakharova, tags=["Bridges"]),
        "es": review(
            client,
            writer,
            2,
            language="es",
            claim_reviewed="El puente fue vendido",
            claim={"author": {"name": "María Zakhárova"}},
            rating=rating("Falso"),
        ),
        "pt": review(client, writer, 3, language="pt-BR", rating=rating("Enganoso", 2)),
        "pt-pt": review(client, writer, 4, language="pt-PT", claim={"date": "2024-01-02"}),
        "none": review(client, writer, 5, language=None, tags=["bridges", "Roads"]),
        "draft": review(client, writer, 6, status="draft", claim=zakharova, language="de"),
        "maldita": review(
            client,
            maldita,
            7,
            host,
            language="es",
            claim_reviewed="Otro puente",
            rating=rating("Engañoso", 2),
            claim={"author": {"name": "Pedro Sánchez"}},
        ),
        "maldita-draft": review(client, maldita, 8, host, status="draft", language="es"),
    }


def test_facets_equal_a_direct_count_for_every_kind_of_filter(
    client: TestClient, engine: Engine, keys: dict[str, dict[str, str]]
) -> None:
    corpus(client, keys)

    check_everything(client, engine, keys)
    assert facets(client, {}, {})["claimant"] == {"Maria Zakharova": 4, "Pedro Sánchez": 1}


def test_counts_follow_updates_status_changes_and_retractions(
    client: TestClient, engine: Engine, keys: dict[str, dict[str, str]]
) -> None:
    made = corpus(client, keys)
    writer = keys["writer"]

    def put(name: str, **changes: Any) -> None:
        current = client.get(f"/v1/claim-reviews/{made[name]['id']}", headers=writer).json()
        document = {
            key: value
            for key, value in current.items()
            if key not in ("id", "publisher", "verdict", "verdict_dictionary_version", "version")
            and key not in ("created_at", "updated_at", "findings")
        }
        response = client.put(
            f"/v1/claim-reviews/{made[name]['id']}", json={**document, **changes}, headers=writer
        )
        assert response.status_code == 200, response.text

    put("en", rating=rating("Misleading", 2))  # another verdict
    put("es", language="pt-BR", claim={"author": {"name": "Pedro Sánchez"}})
    put("pt", status="draft")
    put("draft", status="published")
    put("none", language="en", claim={"author": {"name": "Jane Roe"}})
    patched = client.patch(
        f"/v1/claim-reviews/{made['pt-pt']['id']}",
        content=orjson.dumps({"claim": {"author": {"name": "Jane Roe"}}}),
        headers={**writer, "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    retracted = client.delete(f"/v1/claim-reviews/{made['en']['id']}", headers=writer)
    assert retracted.status_code in (200, 204), retracted.text

    check_everything(client, engine, keys)
    assert facets(client, {"publisher": "polygraph"}, {})["verdict"] == {"false": 4}


def test_counts_follow_imports_and_re_imports(
    client: TestClient, engine: Engine, keys: dict[str, dict[str, str]]
) -> None:
    corpus(client, keys)

    def node(number: int, label: str, claimant: str, language: str = "en") -> dict[str, Any]:
        return {
            "@context": "https://schema.org",
            "@type": "ClaimReview",
            "url": f"https://factcheck.example/2024/claims/{number}",
            "claimReviewed": f"Claim number {number} about a puente.",
            "datePublished": f"2024-02-{number:02d}",
            "inLanguage": language,
            "author": {"@type": "Organization", "name": "Fact Check Example"},
            "itemReviewed": {"@type": "Claim", "author": {"@type": "Person", "name": claimant}},
            "reviewRating": {
                "@type": "Rating",
                "ratingValue": 1,
                "bestRating": 5,
                "worstRating": 1,
                "alternateName": label,
            },
        }

    def post(*nodes: dict[str, Any]) -> dict[str, Any]:
        response = client.post(
            "/v1/import",
            content=b"".join(orjson.dumps(item) + b"\n" for item in nodes),
            headers={**keys["fce"], "Content-Type": "application/x-ndjson"},
        )
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    first = [node(n, "False" if n % 3 else "Misleading", f"Person {n % 4}") for n in range(1, 13)]
    assert post(*first)["created"] == 12
    check_everything(client, engine, keys)

    changed = [node(1, "True", "Person 9", "es"), node(2, "False", "Person 2"), *first[2:]]
    report = post(*changed, node(20, "Satire", "Maria Zakharova", "pt-BR"))
    assert (report["created"], report["updated"]) == (1, 1)

    check_everything(client, engine, keys)


def test_counts_follow_a_rating_scale_change(
    client: TestClient, engine: Engine, keys: dict[str, dict[str, str]]
) -> None:
    corpus(client, keys)
    scale = {
        "best": 5,
        "worst": 1,
        "labels": [
            {"label": "False", "value": 1, "verdict": "satire"},
            {"label": "Enganoso", "value": 2, "verdict": "mixed"},
        ],
    }

    response = client.put("/v1/publishers/polygraph/rating-scale", json=scale, headers=ADMIN)

    assert response.status_code == 200, response.text
    check_everything(client, engine, keys)
    assert facets(client, {"publisher": "polygraph"}, {})["verdict"] == {
        "satire": 3,
        "false": 1,
        "mixed": 1,
    }


def test_counts_follow_reviews_deleted_in_the_database(
    client: TestClient, engine: Engine, keys: dict[str, dict[str, str]]
) -> None:
    """No route deletes a review; an operator's DELETE moves the counts all the same."""
    made = corpus(client, keys)

    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM claim_review WHERE id IN (:a, :b)"),
            {"a": made["es"]["id"], "b": made["maldita"]["id"]},
        )

    check_everything(client, engine, keys)
    assert facets(client, {"language": "es"}, {})["total"] == 0
