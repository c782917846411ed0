"""Facets from the count tables (app/db/facet_counts.py): whatever was written, folded or not, the
totals answer exactly what counting the reviews answers."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import facet_counts
from app.db.tables import FacetDelta
from tests.conftest import ADMIN, bearer, create_review, make_key, make_publisher

# A filter the totals cannot answer that still matches every review: its facets are counted
# row by row, the reference every counted answer must equal.
EVERY_DATE = {"published_since": "1900-01-01"}
FILTERS: list[dict[str, str]] = [
    {},
    {"publisher": "polygraph"},
    {"publisher": "maldita"},
    {"language": "es"},
    {"language": "pt"},
    {"verdict": "false"},
    {"claimant": "ANGELA muller"},
    {"publisher": "polygraph", "verdict": "misleading", "language": "pt"},
]


def facets(client: TestClient, params: dict[str, str], **headers: str) -> dict[str, Any]:
    response = client.get("/v1/facets", params={**params, "top": "100"}, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def assert_counted_equals_live(client: TestClient, **headers: str) -> None:
    for params in FILTERS:
        counted = facets(client, params, **headers)
        assert counted == facets(client, {**params, **EVERY_DATE}, **headers), params
    drafts = facets(client, {"status": "draft"}, **headers) if headers else None
    if drafts is not None:
        assert drafts == facets(client, {"status": "draft", **EVERY_DATE}, **headers)


def unfolded(client: TestClient) -> int:
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        count: int = session.scalar(select(func.count()).select_from(FacetDelta))
    return count


def fold(client: TestClient) -> None:
    facet_counts.fold_all(client.app.state.sessionmaker)  # type: ignore[attr-defined]


@pytest.fixture
def corpus(client: TestClient, writer: dict[str, str]) -> dict[str, Any]:
    """Reviews across two publishers, languages with and without a region, verdicts, claimants
    spelled two ways (one key), a review without a claimant and a draft."""

    def make(n: int, headers: dict[str, str] = writer, **changes: Any) -> dict[str, Any]:
        return create_review(
            client,
            headers,
            external_id=f"f-{n}",
            url=f"https://www.polygraph.info/f/{n}.html",
            date_published=f"2024-02-{n:02d}",
            **changes,
        )

    made = {
        "es": make(1, language="es", claim={"author": {"name": "Ángela Müller"}}),
        "pt": make(
            2,
            language="pt-BR",
            claim={"author": {"name": "ANGELA MULLER"}},
            rating={"label": "Enganoso", "value": 2, "best": 5, "worst": 1},
        ),
        "pt-pt": make(3, language="pt-PT"),
        "nobody": make(4, language="en", claim={"author": None}),
        "draft": make(5, status="draft", claim={"author": {"name": "Draft Person"}}),
    }
    make_publisher(
        client, slug="maldita", name="Maldita.es", url="https://maldita.es/", language="es"
    )
    other = bearer(make_key(client, "maldita"))
    made["other"] = create_review(
        client,
        other,
        external_id="m-1",
        url="https://maldita.es/f.html",
        language="es",
        rating={"label": "Engañoso", "value": 2, "best": 5, "worst": 1},
    )
    return made


def test_counted_facets_equal_counting_the_reviews_before_and_after_folding(
    client: TestClient, writer: dict[str, str], corpus: dict[str, Any]
) -> None:
    assert unfolded(client) > 0 or facets(client, {})["total"] == 5

    assert_counted_equals_live(client)
    assert_counted_equals_live(client, **writer)
    fold(client)
    assert unfolded(client) == 0
    assert_counted_equals_live(client)
    assert_counted_equals_live(client, **writer)

    everything = facets(client, {})
    assert everything["total"] == 5
    assert {"value": "maldita", "count": 1} in everything["publisher"]
    # One claimant key, shown as written in the newest review; no facet value for "none".
    assert everything["claimant"][0]["count"] == 2
    assert everything["claimant"][0]["value"] == "ANGELA MULLER"
    assert "" not in [entry["value"] for entry in everything["language"]]
    assert facets(client, {"language": "pt"})["total"] == 2
    assert facets(client, {"status": "draft"}, **writer)["claimant"] == [
        {"value": "Draft Person", "count": 1}
    ]


def test_counts_follow_edits_status_changes_retractions_and_rescaling(
    client: TestClient, writer: dict[str, str], corpus: dict[str, Any]
) -> None:
    fold(client)
    es = corpus["es"]["id"]
    changed = client.patch(
        f"/v1/claim-reviews/{es}",
        json={"language": "fr", "claim": {"author": {"name": "Someone Else"}}},
        headers=writer,
    )
    assert changed.status_code == 200, changed.text
    to_draft = client.patch(
        f"/v1/claim-reviews/{corpus['pt-pt']['id']}", json={"status": "draft"}, headers=writer
    )
    assert to_draft.status_code == 200, to_draft.text
    published = client.patch(
        f"/v1/claim-reviews/{corpus['draft']['id']}", json={"status": "published"}, headers=writer
    )
    assert published.status_code == 200, published.text
    retracted = client.delete(f"/v1/claim-reviews/{corpus['nobody']['id']}", headers=writer)
    assert retracted.status_code == 204
    scale = {
        "best": 5,
        "worst": 1,
        "labels": [{"label": "Enganoso", "value": 2, "verdict": "satire"}],
    }
    rescaled = client.put("/v1/publishers/polygraph/rating-scale", json=scale, headers=ADMIN)
    assert rescaled.status_code == 200, rescaled.text

    assert_counted_equals_live(client)
    assert_counted_equals_live(client, **writer)
    everything = facets(client, {})
    assert everything["total"] == 4
    assert {"value": "satire", "count": 1} in everything["verdict"]
    assert {"value": "fr", "count": 1} in everything["language"]
    assert facets(client, {"status": "draft"}, **writer)["total"] == 1

    fold(client)
    assert facets(client, {}) == everything
    assert_counted_equals_live(client, **writer)
