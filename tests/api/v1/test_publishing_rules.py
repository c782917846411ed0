"""Validation on every write (§7): what refuses publishing, what a draft may carry."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import create_review, seed_review

RATING = seed_review()["rating"]


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"rating": {**RATING, "label": None}}, "/rating/label"),
        ({"rating": {**RATING, "worst": 5, "best": 5}}, "/rating/worst"),
        ({"rating": {**RATING, "value": 9}}, "/rating/value"),
        ({"url": "https://www.example.com/elsewhere.html"}, "/url"),
        ({"claim_reviewed": None}, "/claim_reviewed"),
    ],
    ids=["missing-label", "worst-not-below-best", "value-out-of-range", "off-domain", "no-claim"],
)
def test_publishing_with_an_error_is_refused_naming_the_field(
    client: TestClient, writer: dict[str, str], changes: dict[str, Any], pointer: str
) -> None:
    body = {key: value for key, value in seed_review(**changes).items() if value is not None}
    body["rating"] = {k: v for k, v in body["rating"].items() if v is not None}

    response = client.post("/v1/claim-reviews", json=body, headers=writer)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert pointer in [error["path"] for error in problem["errors"]], problem
    assert all(
        finding["severity"] == "error"
        for finding in problem["findings"]
        if finding["path"] == pointer
    )


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"url": "javascript:alert(1)"}, "/url"),
        ({"url": "ftp://www.polygraph.info/a"}, "/url"),
        ({"image": "data:image/png;base64,AAAA"}, "/image"),
        ({"date_published": "2024-02-30"}, "/date_published"),
        ({"claim": {"date": "yesterday"}}, "/claim/date"),
        ({"language": "english!"}, "/language"),
        ({"colour": "red"}, "/colour"),
        ({"rating": {**RATING, "value": "one"}}, "/rating/value"),
        ({"tags": "Russia"}, "/tags"),
        ({"claim": {"appearances": [{"url": "mailto:x@y.z"}]}}, "/claim/appearances/0/url"),
        ({"status": "retracted"}, "/status"),
    ],
)
def test_unstorable_input_is_refused_even_for_drafts(
    client: TestClient, writer: dict[str, str], changes: dict[str, Any], pointer: str
) -> None:
    for status in ("published", "draft"):
        body = seed_review(status=status)
        body.update(changes)

        response = client.post("/v1/claim-reviews", json=body, headers=writer)

        assert response.status_code == 422, response.text
        assert pointer in [error["path"] for error in response.json()["errors"]]


def test_draft_is_stored_with_its_findings(client: TestClient, writer: dict[str, str]) -> None:
    body = seed_review(status="draft")
    del body["rating"]["label"]

    response = client.post("/v1/claim-reviews", json=body, headers=writer)

    assert response.status_code == 201
    findings = response.json()["findings"]
    assert {"severity": "error", "path": "/rating/label"}.items() <= next(
        finding for finding in findings if finding["path"] == "/rating/label"
    ).items()
    publish = client.patch(
        f"/v1/claim-reviews/{response.json()['id']}", json={"status": "published"}, headers=writer
    )
    assert publish.status_code == 422
    fixed = client.patch(
        f"/v1/claim-reviews/{response.json()['id']}",
        json={"status": "published", "rating": {"label": "False"}},
        headers=writer,
    )
    assert fixed.status_code == 200
    assert fixed.json()["findings"] == []


def test_long_claim_is_a_warning_not_an_error(client: TestClient, writer: dict[str, str]) -> None:
    long_claim = (
        "Russia is not carrying out any military-technical cooperation with North Korea at all."
    )
    assert len(long_claim) > 75

    created = create_review(client, writer, claim_reviewed=long_claim)

    warnings = [finding for finding in created["findings"] if finding["severity"] == "warning"]
    assert [finding["path"] for finding in warnings] == ["/claim_reviewed"]
    assert created["status"] == "published"
