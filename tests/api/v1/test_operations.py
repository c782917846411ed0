"""Operations: health, readiness, request ids, access log, OpenAPI."""

import logging
import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.config import Settings
from app.main import create_app
from tests.conftest import create_review


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_startup_fails_fast_on_an_unopenable_database() -> None:
    settings = Settings(database_url="sqlite:////nonexistent-dir/none.db", admin_token="x")

    client = TestClient(create_app(settings))

    with pytest.raises(sqlite3.OperationalError, match="unable to open database"):
        client.__enter__()  # runs the lifespan, which opens the database


def test_readyz_answers_503_when_the_database_goes_away(
    client: TestClient, settings: Settings
) -> None:
    client.app.state.engine.dispose()  # type: ignore[attr-defined]
    original = client.app.state.engine.url  # type: ignore[attr-defined]
    client.app.state.engine = create_engine(  # type: ignore[attr-defined]
        "postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    try:
        response = client.get("/readyz")
    finally:
        client.app.state.engine = create_engine(original)  # type: ignore[attr-defined]

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
    error = client.get("/v1/claim-reviews/missing")

    assert len(generated) == 16
    assert echoed == "abc-123"
    assert error.status_code == 404
    assert error.headers["x-request-id"]


def test_access_log_has_one_line_per_request_without_secrets(
    client: TestClient, writer: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="claimreview.access")
    created = create_review(client, writer)
    client.get(f"/v1/claim-reviews/{created['id']}.jsonld", headers={"X-Request-ID": "req-42"})

    lines = [
        record.getMessage() for record in caplog.records if record.name == "claimreview.access"
    ]

    assert len(lines) == 2
    assert '"POST /v1/claim-reviews" 201' in lines[0]
    assert lines[1].endswith("id=req-42")
    secret = writer["Authorization"].removeprefix("Bearer ")
    assert all(secret not in record.getMessage() for record in caplog.records)


def test_openapi_documents_every_route_and_problem_responses(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    docs = client.get("/docs")

    assert docs.status_code == 200
    post = document["paths"]["/v1/claim-reviews"]["post"]
    assert "application/ld+json" in post["requestBody"]["content"]
    assert "application/problem+json" in post["responses"]["422"]["content"]
    assert "ReviewIn" in document["components"]["schemas"]
    assert "/v1/claim-reviews/{review_id}.jsonld" in document["paths"]
