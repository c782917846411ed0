"""Rate limits, query and body-time limits, slow clients and security headers, through HTTP.

Rates in most tests are tiny (one request per 1,000 s) so that nothing refills while a test
runs, however loaded the machine: the outcome depends on request counts, never on timing.
"""

import logging
import re
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.http.security_headers import API_POLICY, DOCS_POLICY
from app.main import create_app
from tests.conftest import (
    ADMIN_TOKEN,
    BASE_URL,
    bearer,
    make_key,
    make_publisher,
    seed_review,
    serving,
)
from tests.served import Server, environment, eventually, launch

REDIS_URL = "redis://127.0.0.1:6379/0"
SLOW = 0.001  # per second: no refill within a test
PROBLEM = "application/problem+json"


@contextmanager
def limited(settings: Settings, **changes: Any) -> Iterator[TestClient]:
    """A client of the app with ``changes`` applied to the test settings."""
    app = create_app(settings.model_copy(update=changes))
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test alone on the shared Redis; its keys are deleted afterwards."""
    prefix = f"claimreview-test:{secrets.token_hex(6)}:"
    yield prefix
    with redis.Redis.from_url(REDIS_URL) as client:
        stale = list(client.scan_iter(match=prefix + "*"))
        if stale:
            client.delete(*stale)


def assert_too_many(response: httpx.Response, policy: str) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:claimreview:problem:too-many-requests"
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert response.headers["ratelimit"] == f'"{policy}";r=0;t={retry_after}'
    assert response.headers["ratelimit-policy"].startswith(f'"{policy}";q=')
    return retry_after


# Rate limits


def test_client_over_its_ip_burst_gets_429_with_retry_after(settings: Settings) -> None:
    with limited(settings, rate_limit_ip_per_second=SLOW, rate_limit_ip_burst=3) as client:
        answers = [client.get("/healthz") for _ in range(4)]

    assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
    retry_after = assert_too_many(answers[3], "ip")
    assert 900 <= retry_after <= 1000  # one request per 1,000 s
    assert answers[3].headers["ratelimit-policy"] == '"ip";q=3;w=3000'
    assert answers[3].headers["x-request-id"]  # still logged and traced like any request


def test_each_key_has_its_own_budget(settings: Settings) -> None:
    changes = {"rate_limit_key_per_second": SLOW, "rate_limit_key_burst": 3}
    with limited(settings, **changes) as client:
        # The admin token spends its own budget (3 requests), not the keys'.
        make_publisher(client)
        first = bearer(make_key(client, "polygraph", "reviews:read"))
        second = bearer(make_key(client, "polygraph", "reviews:read"))

        spent = [client.get("/v1/claim-reviews", headers=first).status_code for _ in range(4)]
        other = [client.get("/v1/claim-reviews", headers=second).status_code for _ in range(3)]
        anonymous = client.get("/v1/claim-reviews")
        refused = client.get("/v1/claim-reviews", headers=first)

    assert spent == [200, 200, 200, 429]
    assert other == [200, 200, 200]
    assert anonymous.status_code == 200
    assert_too_many(refused, "key")


def test_a_spoofed_key_id_does_not_drain_the_real_keys_budget(settings: Settings) -> None:
    changes = {"rate_limit_key_per_second": SLOW, "rate_limit_key_burst": 3}
    with limited(settings, **changes) as client:
        make_publisher(client)
        victim = make_key(client, "polygraph", "reviews:read")
        key_id = victim.split("_")[1]
        # Same key id, made-up secrets: each is a different credential with its own bucket.
        forged = [
            client.get("/v1/claim-reviews", headers=bearer(f"crk_{key_id}_{secrets.token_hex(8)}"))
            for _ in range(10)
        ]
        # ...and one forged credential repeated is throttled on its own.
        repeated = [
            client.get("/v1/claim-reviews", headers=bearer(f"crk_{key_id}_guess")).status_code
            for _ in range(4)
        ]
        own = [
            client.get("/v1/claim-reviews", headers=bearer(victim)).status_code for _ in range(3)
        ]

    assert {answer.status_code for answer in forged} == {401}
    assert repeated == [401, 401, 401, 429]
    assert own == [200, 200, 200]


def test_google_key_parameter_counts_against_the_keys_budget(settings: Settings) -> None:
    changes = {"rate_limit_key_per_second": SLOW, "rate_limit_key_burst": 2}
    with limited(settings, **changes) as client:
        make_publisher(client)
        key = make_key(client, "polygraph", "reviews:read")
        path = "/v1alpha1/claims:search"
        as_parameter = [client.get(path, params={"key": key, "query": "x"}) for _ in range(2)]
        as_header = client.get(path, params={"query": "x"}, headers=bearer(key))

    assert [answer.status_code for answer in as_parameter] == [200, 200]
    assert_too_many(as_header, "key")


def test_forwarded_for_counts_only_from_a_trusted_proxy(settings: Settings) -> None:
    changes: dict[str, Any] = {"rate_limit_ip_per_second": SLOW, "rate_limit_ip_burst": 2}
    one, two = {"X-Forwarded-For": "203.0.113.1"}, {"X-Forwarded-For": "203.0.113.2"}
    with limited(settings, **changes) as client:  # the test client is not a trusted proxy
        untrusted = [
            client.get("/healthz", headers=forwarded).status_code for forwarded in (one, two, two)
        ]
    with limited(settings, trusted_proxies="testclient", **changes) as client:
        trusted = [client.get("/healthz", headers=one).status_code for _ in range(3)]
        trusted.append(client.get("/healthz", headers=two).status_code)
        # A client cannot pick its address: the proxy appends the one it saw, which counts.
        spoofed = client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.1"})

    assert untrusted == [200, 200, 429]
    assert trusted == [200, 200, 429, 200]
    assert spoofed.status_code == 429


def test_client_gets_in_again_after_retry_after(settings: Settings) -> None:
    with limited(settings, rate_limit_ip_per_second=2.0, rate_limit_ip_burst=1) as client:
        for _ in range(50):  # refused as soon as two requests fall within half a second
            refused = client.get("/healthz")
            if refused.status_code == 429:
                break
        retry_after = assert_too_many(refused, "ip")
        time.sleep(retry_after)
        again = client.get("/healthz")

    assert retry_after == 1
    assert again.status_code == 200


def test_rate_limits_can_be_turned_off(settings: Settings) -> None:
    changes = {"rate_limit_enabled": False, "rate_limit_ip_per_second": SLOW}
    with limited(settings, rate_limit_ip_burst=1, **changes) as client:
        answers = {client.get("/healthz").status_code for _ in range(5)}

    assert answers == {200}


def test_redis_limits_apply_within_one_app(settings: Settings, redis_prefix: str) -> None:
    changes = {
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "rate_limit_ip_per_second": SLOW,  # so that no bucket refills (and expires) in the test
        "rate_limit_key_per_second": SLOW,
        "rate_limit_key_burst": 3,
    }
    with limited(settings, **changes) as client:
        make_publisher(client)  # the admin token's 3 requests
        first = bearer(make_key(client, "polygraph", "reviews:read"))
        second = bearer(make_key(client, "polygraph", "reviews:read"))
        answers = [client.get("/v1/claim-reviews", headers=first).status_code for _ in range(4)]
        other = client.get("/v1/claim-reviews", headers=second)

    assert answers == [200, 200, 200, 429]
    assert other.status_code == 200
    with redis.Redis.from_url(REDIS_URL) as store:
        keys = {key.decode() for key in store.scan_iter(match=redis_prefix + "*")}
    assert redis_prefix + "ip:testclient" in keys
    assert sum(key.startswith(redis_prefix + "key:") for key in keys) == 3  # admin + two keys
    assert not any(key.removeprefix(redis_prefix + "key:") in str(first) for key in keys)


def test_unreachable_redis_falls_back_to_limits_per_process(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    changes = {
        "redis_url": f"redis://127.0.0.1:{port}/0",
        "rate_limit_ip_per_second": SLOW,
        "rate_limit_ip_burst": 3,
    }
    with caplog.at_level(logging.WARNING, logger="claimreview.rate_limits"):
        with limited(settings, **changes) as client:
            answers = [client.get("/healthz").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
    warnings = [r.message for r in caplog.records if r.name == "claimreview.rate_limits"]
    assert len(warnings) == 1  # once per outage, not once per request
    assert "Redis unreachable" in warnings[0]


@contextmanager
def served(database_url: str, log: Path, count: int, **variables: str) -> Iterator[list[Server]]:
    """``count`` processes of ``claimreview serve``, once each answers."""
    settings = {name.upper(): value for name, value in variables.items()}
    env = environment(database_url, DISPATCHER_ENABLED="false", **settings)
    servers = [launch(env, log) for _ in range(count)]
    try:
        for server in servers:
            eventually(server.ready, timeout=60)
        yield servers
    finally:
        for server in servers:
            server.stop()


def read_response(connection: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length, read off a raw socket."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    assert length, head
    while len(body) < int(length.group(1)):
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def test_redis_limits_are_shared_by_two_serve_processes(
    database_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    shared = {
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "rate_limit_ip_per_second": str(SLOW),
        "rate_limit_ip_burst": "4",
    }
    with served(database_url, tmp_path / "serve.log", 2, **shared) as (first, second):
        answers = [
            httpx.get(f"{server.base}/v1/claim-reviews", timeout=10).status_code
            for server in (first, second, first, second, first, second)
        ]

    # Each process alone would allow 4: together they allow 4. (Readiness checks spent 2.)
    assert answers == [200, 200, 429, 429, 429, 429]


# Slow clients


def test_serve_closes_idle_keep_alive_connections(database_url: str, tmp_path: Path) -> None:
    with served(database_url, tmp_path / "serve.log", 1, keepalive_timeout_seconds="1") as [one]:
        port = int(one.base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            started = time.monotonic()
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer = read_response(connection)
            closed = connection.recv(65536)  # blocks until the server closes the idle connection
            open_for = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 200")
    assert closed == b""
    # Kept open for the configured second after the answer, not uvicorn's default 5 s.
    assert 1.0 <= open_for < 5.0


def test_body_trickled_past_the_deadline_gets_408(settings: Settings) -> None:
    with serving(settings.model_copy(update={"body_timeout_seconds": 1.0})) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            started = time.monotonic()
            connection.sendall(
                b"POST /v1/validate HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/ld+json\r\nContent-Length: 100\r\n\r\n" + b"{" * 50
            )
            answer = b""
            while chunk := connection.recv(65536):  # the server answers, then hangs up
                answer += chunk
            waited = time.monotonic() - started

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"content-type: application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    assert b"urn:claimreview:problem:request-timeout" in body
    assert waited >= 1.0


def test_a_client_that_hangs_up_mid_body_is_no_server_error(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody is left to answer, and it is not the service's fault: counted as 499 (nginx's
    "client closed request"), logged without a traceback, never a 500."""
    with caplog.at_level(logging.INFO), serving(settings) as base:
        before = _creates_counted(base)
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(
                b"POST /v1/claim-reviews HTTP/1.1\r\nHost: localhost\r\n"
                b"Authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n" + b"{" * 10
            )
        after = eventually(lambda: _creates_counted(base) != before and _creates_counted(base))

    counted = {status: after[status] - before.get(status, 0) for status in after}
    assert {status: n for status, n in counted.items() if n} == {"499": 1}
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
    [gone] = [record for record in caplog.records if record.name == "claimreview.errors"]
    assert "closed the connection" in gone.getMessage()
    assert gone.exc_info is None


def _creates_counted(base: str) -> dict[str, float]:
    """claimreview_http_requests_total of POST /v1/claim-reviews, by status."""
    scraped = httpx.get(base + "/metrics", timeout=10).text
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name == "claimreview_http_requests_total"
        and sample.labels["route"] == "/v1/claim-reviews"
        and sample.labels["method"] == "POST"
    }


def test_body_sent_in_time_is_read(settings: Settings) -> None:
    with serving(settings.model_copy(update={"body_timeout_seconds": 30.0})) as base:
        answer = httpx.post(base + "/v1/validate", content=b"{}", timeout=30)

    assert answer.status_code == 200, answer.text


# Query limits


def test_overlong_query_gets_414(settings: Settings) -> None:
    with limited(settings, max_query_bytes=1024) as client:
        fits = client.get("/healthz", params={"ignored": "x" * 1000})
        too_long = client.get("/healthz", params={"ignored": "x" * 1030})

    assert fits.status_code == 200
    assert too_long.status_code == 414
    assert too_long.headers["content-type"] == PROBLEM
    assert too_long.json()["limit"] == 1024


def test_query_with_too_many_parameters_gets_400(settings: Settings) -> None:
    with limited(settings, max_query_params=5) as client:
        fits = client.get("/v1/claim-reviews", params=[("q", "a")] * 5)
        too_many = client.get("/v1/claim-reviews", params=[("q", "a")] * 6)

    assert fits.status_code == 200
    assert too_many.status_code == 400
    assert too_many.headers["content-type"] == PROBLEM
    assert "more than 5 parameters" in too_many.json()["detail"]


# Security headers


def test_every_response_carries_the_security_headers(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = client.post("/v1/claim-reviews", json={"claim_reviewed": ""}, headers=writer)
    answers = {
        "json": client.get("/v1/claim-reviews"),
        "problem": client.get("/v1/claim-reviews/nope"),
        "invalid": created,
        "too large": client.post("/v1/validate", content=b"x" * (2 << 20)),
        "embed": client.get("/v1/markup", params={"url": "https://example.org/", "format": "html"}),
    }

    for name, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", name
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin", name
        assert answer.headers.get_list("content-security-policy") == [API_POLICY], name
    assert answers["too large"].status_code == 413


def test_html_pages_keep_their_own_policy(client: TestClient, writer: dict[str, str]) -> None:
    created = client.post("/v1/claim-reviews", json=seed_review(), headers=writer)
    review_id = created.json()["id"]

    page = client.get(f"/claim-reviews/{review_id}")
    embed = client.get(f"/v1/claim-reviews/{review_id}/embed")

    assert page.headers["content-type"].startswith("text/html")
    [policy] = page.headers.get_list("content-security-policy")
    assert policy.startswith("default-src 'none'; style-src 'unsafe-inline'")
    assert embed.headers.get_list("content-security-policy") == [API_POLICY]


def test_api_docs_policy_allows_what_the_docs_pages_load(client: TestClient) -> None:
    directives = dict(part.strip().split(" ", 1) for part in DOCS_POLICY.split(";"))

    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == DOCS_POLICY
        scripts = re.findall(r'<script src="([^"]+)"', page.text)
        styles = re.findall(r'<link[^>]+href="([^"]+)"[^>]*rel="stylesheet"', page.text)
        styles += re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', page.text)
        assert scripts, path
        for url in scripts:
            assert _origin(url) in directives["script-src"].split(), url
        for url in styles:
            assert _origin(url) in directives["style-src"].split(), url
    assert "'self'" in directives["connect-src"].split()  # the docs fetch /openapi.json


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
