"""Bad input never gives a 500: every case answers a problem+json 4xx."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN, create_review

JSON = {"Content-Type": "application/json"}
DEEP = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"claim":' * 300 + b"{}" + b"}" * 300


@pytest.mark.parametrize(
    ("method", "path", "content", "headers", "status"),
    [
        ("POST", "/v1/claim-reviews", b'{"url": ', JSON, 400),
        ("POST", "/v1/claim-reviews", b"", JSON, 400),
        ("POST", "/v1/claim-reviews", b"null", JSON, 422),
        ("POST", "/v1/claim-reviews", b"[1, 2]", JSON, 422),
        ("POST", "/v1/claim-reviews", b'"a string"', JSON, 422),
        ("POST", "/v1/claim-reviews", b'{"url": 12, "rating": []}', JSON, 422),
        ("POST", "/v1/claim-reviews", b'{"url": "\xff\xfe"}', JSON, 400),
        ("POST", "/v1/claim-reviews", b"<html><body>hi</body></html>", JSON, 400),
        ("POST", "/v1/claim-reviews", b"<html></html>", {"Content-Type": "text/html"}, 415),
        ("POST", "/v1/claim-reviews", b"{}", {"Content-Type": "text/plain"}, 415),
        ("POST", "/v1/claim-reviews", DEEP, JSON, 400),
        ("POST", "/v1/claim-reviews", DEEP_OBJECT, JSON, 422),
        ("POST", "/v1/claim-reviews", b'{"url": "' + b"a" * (2 * 1024 * 1024) + b'"}', JSON, 413),
        ("POST", "/v1/claim-reviews", b"[]", {"Content-Type": "application/ld+json"}, 422),
        (
            "POST",
            "/v1/claim-reviews",
            b'{"@type": "Person"}',
            {"Content-Type": "application/ld+json"},
            422,
        ),
        ("GET", "/v1/claim-reviews/" + "x" * 5000, b"", {}, 404),
        ("GET", "/v1/claim-reviews/%ff", b"", {}, 404),
        # NUL anywhere reached PostgreSQL, which cannot store or compare it: it was a 500. A
        # review id is checked against its pattern before any lookup: no such review.
        ("GET", "/v1/claim-reviews/%00%ff", b"", {}, 404),
        ("GET", "/v1/claim-reviews/%00%ff/revisions", b"", {}, 422),
        ("GET", "/v1/publishers/a%00b", b"", {}, 422),
        ("GET", "/v1/feed?publisher=a%00b", b"", {}, 422),
        ("PATCH", "/v1/publishers/polygraph", b'{"name": "a\\u0000b"}', JSON, 422),
        (
            "POST",
            "/v1/claim-reviews",
            b'{"url": "https://x.org/", "headline": "\\u0000"}',
            JSON,
            422,
        ),
        (
            "POST",
            "/v1/webhooks",
            b'{"url": "https://x.org/", "secret": "0123456789abcdef\\u0000"}',
            JSON,
            422,
        ),
        ("GET", "/v1/claim-reviews/../../etc/passwd", b"", {}, 404),
        ("GET", "/v1/claim-reviews/abc/revisions/notanumber", b"", {}, 422),
        # Past the declared range (a PostgreSQL integer), whichever review it names.
        ("GET", "/v1/claim-reviews/abc/revisions/99999999999999999999999", b"", {}, 422),
        ("GET", "/v1/nowhere", b"", {}, 404),
        ("DELETE", "/v1/publishers", b"", {}, 405),
        ("POST", "/v1/publishers", b'{"slug": "Bad Slug!", "name": "", "url": "x"}', JSON, 422),
        ("POST", "/v1/publishers/polygraph/keys", b'{"name": "k", "scopes": ["root"]}', JSON, 422),
        ("PUT", "/v1/publishers/polygraph/rating-scale", b'{"labels": []}', JSON, 422),
    ],
)
def test_bad_input_is_a_problem_json_4xx(
    client: TestClient,
    writer: dict[str, str],
    method: str,
    path: str,
    content: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    auth = ADMIN if "/publishers" in path else writer

    response = client.request(method, path, content=content, headers={**auth, **headers})

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert {"type", "title", "detail"} <= problem.keys()


def test_input_errors_name_fields_by_json_pointer(
    client: TestClient, writer: dict[str, str]
) -> None:
    response = client.post(
        "/v1/claim-reviews",
        json={"url": 12, "rating": {"value": "x"}, "claim": {"appearances": [{"url": 5}]}},
        headers=writer,
    )

    paths = {error["path"] for error in response.json()["errors"]}
    assert {"/url", "/rating/value", "/claim/appearances/0/url"} <= paths


def test_bad_query_and_header_values(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"

    bad_key = client.post(
        "/v1/claim-reviews", json={}, headers={**writer, "Idempotency-Key": "x" * 300}
    )
    bad_match = client.put(path, json={}, headers={**writer, "If-Match": "garbage"})

    assert bad_key.status_code == 422
    assert bad_key.json()["errors"][0]["path"] == "idempotency-key"
    nul = client.get("/v1/claim-reviews", params={"publisher": "a\x00b"})
    assert nul.status_code == 422
    assert nul.json()["errors"] == [
        {"path": "publisher", "message": "must not contain NUL (U+0000) characters"}
    ]
    assert bad_match.status_code == 412
