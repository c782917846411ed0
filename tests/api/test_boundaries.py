"""Boundary values (issue 16 item 1): past what storage, orjson or ``datetime`` can hold, a
number or a date is refused with a 4xx naming it, in the route's own error shape, and the
OpenAPI document declares the range. Each of these was a 500 on SQLite, PostgreSQL or both."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.bounds import INT4_MAX, SAFE_INTEGER
from app.core.google import INT32_MAX, INT32_MIN
from tests.api.v1alpha1.test_google import markup, page
from tests.conftest import ADMIN, create_review, seed_review

PROBLEM_JSON = "application/problem+json"


def problem_paths(response: Any) -> list[str]:
    assert response.headers["content-type"] == PROBLEM_JSON, response.text
    return [error["path"] for error in response.json()["errors"]]


def google_violations(response: Any) -> list[str]:
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    (details,) = error["details"]
    return [violation["field"] for violation in details["fieldViolations"]]


def parameter(path: str, method: str, name: str, client: TestClient) -> dict[str, Any]:
    operation = client.get("/openapi.json").json()["paths"][path][method]
    (found,) = [item for item in operation["parameters"] if item["name"] == name]
    return found


# /v1: a revision's version (PostgreSQL integer; SQLite's 8-byte INTEGER overflowed past it)


@pytest.mark.parametrize(
    "version", [0, -1, INT4_MAX + 1, 2**63, -(2**63) - 1, 2618385987064560091136]
)
def test_revision_version_out_of_range_is_refused_naming_it(
    client: TestClient, writer: dict[str, str], version: int
) -> None:
    review = create_review(client, writer)

    response = client.get(f"/v1/claim-reviews/{review['id']}/revisions/{version}", headers=writer)

    assert response.status_code == 422
    assert problem_paths(response) == ["version"]


def test_revision_version_at_the_top_of_its_range_is_not_found(
    client: TestClient, writer: dict[str, str]
) -> None:
    review = create_review(client, writer)
    path = f"/v1/claim-reviews/{review['id']}/revisions"

    assert client.get(f"{path}/1", headers=writer).status_code == 200
    response = client.get(f"{path}/{INT4_MAX}", headers=writer)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_document_declares_the_version_range(client: TestClient) -> None:
    declared = parameter(
        "/v1/claim-reviews/{review_id}/revisions/{version}", "get", "version", client
    )
    assert (declared["schema"]["minimum"], declared["schema"]["maximum"]) == (1, INT4_MAX)


# /v1: dates beyond datetime's years 1-9999 once converted to UTC


@pytest.mark.parametrize("name", ["published_since", "published_until", "updated_since"])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_query_date_outside_utc_years_is_refused_naming_it(
    client: TestClient, name: str, moment: str
) -> None:
    for path in ("/v1/claim-reviews", "/v1/facets"):
        response = client.get(path, params={name: moment})

        assert response.status_code == 422
        assert problem_paths(response) == [name]


def test_published_until_the_last_day_finds_every_review(
    client: TestClient, writer: dict[str, str]
) -> None:
    review = create_review(client, writer)

    listed = client.get("/v1/claim-reviews", params={"published_until": "9999-12-31"})
    counted = client.get("/v1/facets", params={"published_until": "9999-12-31"})

    assert [item["id"] for item in listed.json()["items"]] == [review["id"]]
    assert counted.json()["total"] == 1


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_body_date_outside_utc_years_is_refused_naming_it(
    client: TestClient, writer: dict[str, str], moment: str
) -> None:
    claim = {**seed_review()["claim"], "date": moment}
    body = seed_review(date_published=moment, claim=claim)

    response = client.post("/v1/claim-reviews", json=body, headers=writer)

    assert response.status_code == 422
    assert sorted(problem_paths(response)) == ["/claim/date", "/date_published"]


# /v1: rating numbers (orjson writes 64-bit integers; 1e308 became a 309-digit one)


@pytest.mark.parametrize("number", [SAFE_INTEGER + 1, 2**70, 1e308, -1e308])
@pytest.mark.parametrize("field", ["value", "best", "worst"])
def test_rating_number_out_of_range_is_refused_naming_it(
    client: TestClient, writer: dict[str, str], field: str, number: float
) -> None:
    body = seed_review()
    body["rating"] = {**body["rating"], field: number}

    response = client.post("/v1/claim-reviews", json=body, headers=writer)

    assert response.status_code == 422
    assert problem_paths(response) == [f"/rating/{field}"]


def test_rating_number_at_the_edge_of_its_range_is_kept_as_sent(
    client: TestClient, writer: dict[str, str]
) -> None:
    body = seed_review()
    body["rating"] = {**body["rating"], "value": 1, "worst": 1, "best": SAFE_INTEGER}

    created = client.post("/v1/claim-reviews", json=body, headers=writer)
    jsonld = client.get(f"/v1/claim-reviews/{created.json()['id']}.jsonld")

    assert created.status_code == 201, created.text
    assert jsonld.json()["reviewRating"]["bestRating"] == SAFE_INTEGER


@pytest.mark.parametrize("number", [2**70, 1e308])
def test_rating_scale_number_out_of_range_is_refused_naming_it(
    client: TestClient, writer: dict[str, str], number: float
) -> None:
    scale = {"best": number, "worst": 1, "labels": [{"label": "x", "verdict": "false"}]}

    response = client.put("/v1/publishers/polygraph/rating-scale", json=scale, headers=ADMIN)

    assert response.status_code == 422
    assert problem_paths(response) == ["/best"]


def test_document_declares_the_rating_range(client: TestClient) -> None:
    rating = client.get("/openapi.json").json()["components"]["schemas"]["Rating"]

    best = rating["properties"]["best"]["anyOf"][0]
    assert (best["minimum"], best["maximum"]) == (-SAFE_INTEGER, SAFE_INTEGER)


# /v1alpha1: Google's int32 maxAgeDays (timedelta holds 999,999,999 days, datetime 9999 years)


@pytest.mark.parametrize("days", [800_000, INT32_MAX - 1, INT32_MAX])
def test_max_age_days_older_than_any_date_finds_every_review(
    client: TestClient, writer: dict[str, str], days: int
) -> None:
    create_review(client, writer)

    response = client.get("/v1alpha1/claims:search", params={"query": "korea", "maxAgeDays": days})

    assert response.status_code == 200, response.text
    assert len(response.json()["claims"]) == 1


def test_max_age_days_still_filters(client: TestClient, writer: dict[str, str]) -> None:
    create_review(client, writer)  # published in January 2024

    response = client.get("/v1alpha1/claims:search", params={"query": "korea", "maxAgeDays": 1})

    assert response.json() == {}


def test_max_age_days_past_int32_is_refused_in_google_shape(client: TestClient) -> None:
    params = {"query": "korea", "maxAgeDays": INT32_MAX + 1}

    response = client.get("/v1alpha1/claims:search", params=params)

    assert response.status_code == 400
    assert google_violations(response) == ["maxAgeDays"]
    declared = parameter("/v1alpha1/claims:search", "get", "maxAgeDays", client)
    assert declared["schema"]["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": INT32_MAX}


@pytest.mark.parametrize("number", [INT32_MAX + 1, INT32_MIN - 1, 2**70])
def test_markup_rating_past_int32_is_refused_in_google_shape(
    client: TestClient, writer: dict[str, str], number: int
) -> None:
    rating = {**markup(1)["rating"], "bestRating": number}

    response = client.post("/v1alpha1/pages", json=page(markup(1, rating=rating)), headers=writer)

    assert response.status_code == 400
    assert google_violations(response) == ["claimReviewMarkups[0].rating.bestRating"]
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    best = schemas["GoogleClaimRating"]["properties"]["bestRating"]["anyOf"][0]
    assert (best["minimum"], best["maximum"]) == (INT32_MIN, INT32_MAX)
