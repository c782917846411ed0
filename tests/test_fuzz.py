"""API fuzzing: schemathesis against the service's own OpenAPI document, on a real uvicorn.

Every operation is fuzzed twice, with a publisher's write key and with the admin token, each
on its own database seeded with a publisher, reviews (one retracted), a Google markup page and
a webhook, so that path parameters often name real objects and reach the code behind the 404.
Every response must pass four checks: no 5xx, a documented status code, a documented content
type, and a body valid against the documented schema. A failure means the code or the document
is wrong: fix one of them, never exclude the operation.

Bounded for CI: deterministic (fixed seed, derandomized Hypothesis), few examples per
operation. Set ``CLAIMREVIEW_FUZZ_EXAMPLES`` to fuzz harder.

The operations are read from the document at import (pytest makes one test of each); the
lazy ``schemathesis.pytest.from_fixture`` loader would fetch it from the live server instead,
but it does not run on pytest 9.2 (it sets ``Node._nodeid``, which is gone).
"""

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis import Case

from app.config import Settings
from app.main import create_app
from tests.conftest import (
    ADMIN,
    ADMIN_TOKEN,
    BASE_URL,
    bearer,
    create_review,
    fresh_database_url,
    make_key,
    make_publisher,
    serving,
)

EXAMPLES = int(os.environ.get("CLAIMREVIEW_FUZZ_EXAMPLES", "5"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# Google's API answers claims:imageSearch with 501 UNIMPLEMENTED, and so does ours (documented).
UNIMPLEMENTED = {
    "include-path": "/v1alpha1/claims:imageSearch",
    "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "501"]}},
}
# The document declares an NDJSON body as a string (its lines): send it as the text it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
DOCUMENT = create_app(Settings(admin_token=ADMIN_TOKEN, base_url=BASE_URL)).openapi()
CONFIG: dict[str, Any] = {
    "seed": 20240601,
    "generation": {"max-examples": EXAMPLES, "deterministic": True},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    "operations": [UNIMPLEMENTED],
}


@dataclass(frozen=True)
class Target:
    """A seeded server and who calls it."""

    base_url: str
    headers: dict[str, str]
    # Path parameter name -> ids of seeded objects.
    ids: dict[str, list[Any]]


def seed(base_url: str) -> tuple[str, dict[str, list[Any]]]:
    """Objects for the fuzzer to find: returns a write key and the ids of what was made."""
    with httpx.Client(base_url=base_url) as client:
        make_publisher(client)
        key = make_key(client, "polygraph", "reviews:write")
        writer = bearer(key)
        kept = create_review(client, writer, external_id="fuzz-kept")
        gone = create_review(client, writer, external_id="fuzz-gone")
        assert client.delete(f"/v1/claim-reviews/{gone['id']}", headers=writer).status_code == 204
        pages = client.get("/v1alpha1/pages", params={"url": kept["url"]}, headers=writer)
        page_name = pages.json()["claimReviewMarkupPages"][0]["name"]
        hook = client.post("/v1/webhooks", json={"url": "https://example.org/hook"}, headers=writer)
        keys = client.get("/v1/publishers/polygraph/keys", headers=ADMIN).json()["items"]
        served = client.get("/openapi.json").json()
    assert served == DOCUMENT, "the fuzzed document must be the one the service serves"
    ids: dict[str, list[Any]] = {
        "review_id": [kept["id"], gone["id"]],
        "external_id": ["fuzz-kept", "fuzz-gone"],
        "version": [1, 2],
        "slug": ["polygraph"],
        "key_id": [item["id"] for item in keys],
        "page_id": [page_name.removeprefix("pages/")],
    }
    if hook.status_code == 201:  # example.org must resolve; without DNS, fuzz unknown ids only
        ids["webhook_id"] = [hook.json()["id"]]
    return key, ids


@pytest.fixture(scope="module", params=["publisher", "admin"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """One server per caller, on its own database: what one run changes (an admin revoking
    keys, retracting reviews) does not leak into the other."""
    settings = Settings(
        database_url=fresh_database_url(request, tmp_path_factory.mktemp("fuzz")),
        admin_token=ADMIN_TOKEN,
        base_url=BASE_URL,
        dispatcher_enabled=False,  # the seeded webhook points at a public host
        access_log=False,
        # Thousands of requests from one address: throttling them would stop the fuzzing.
        rate_limit_enabled=False,
    )
    with serving(settings) as base_url:
        key, ids = seed(base_url)
        token = key if request.param == "publisher" else ADMIN_TOKEN
        yield Target(base_url, bearer(token), ids)


schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))


def point_at_seeded_objects(case: Case, ids: dict[str, list[Any]]) -> None:
    """Swap most generated path parameters for ids of seeded objects. The pick is a hash of
    the generated value, so runs stay deterministic (``schema.given`` would turn off
    schemathesis' coverage phase, and the ids are only known once the server is up)."""
    for name, generated in (case.path_parameters or {}).items():
        seeded = ids.get(name, [])
        pick = zlib.crc32(repr(generated).encode()) % (len(seeded) + 1)
        if pick < len(seeded):
            case.path_parameters[name] = seeded[pick]  # type: ignore[index]


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_operation_conforms_to_the_document(case: Case, target: Target) -> None:
    point_at_seeded_objects(case, target.ids)
    case.call_and_validate(base_url=target.base_url, headers=target.headers)


def test_every_operation_documents_the_answers_given_outside_its_route() -> None:
    """429 from the rate limiter anywhere, 413 wherever a body is read, and 422 as
    problem+json (NUL in a parameter, on any route) unless the route has its own error shape."""
    operations = [op for item in DOCUMENT["paths"].values() for op in item.values()]

    for operation in operations:
        described = operation["responses"]
        assert "Retry-After" in described["429"]["headers"]
        assert list(described["429"]["content"]) == ["application/problem+json"]
        assert "requestBody" not in operation or "413" in described
        errors = described["4XX"] if "4XX" in described else described["422"]
        assert ("application/json" in errors["content"]) == ("4XX" in described)
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]
