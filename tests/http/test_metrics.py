"""Metrics and logs: ``GET /metrics`` counts requests by route template, times them, and
reports the database pools and the webhook backlog; the access log is one JSON object per line
carrying the request id."""

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.http import logs
from app.http.metrics import LATENCY_BUCKETS
from app.main import create_app
from tests.conftest import (
    ADMIN_TOKEN,
    BASE_URL,
    POSTGRES_URL,
    bearer,
    create_review,
    make_key,
    make_publisher,
)
from tests.served import CLAIMREVIEW, Server, environment, serve
from tests.services.test_webhooks import eventually, subscribe
from tests.webhook_receiver import Receiver, running_receiver

REVIEW_ROUTE = "/v1/claim-reviews/{review_id}.jsonld"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient | httpx.Client, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, route: str, status: int, method: str = "GET") -> float:
    labels = {"route": route, "method": method, "status": str(status)}
    return value(samples, "claimreview_http_requests_total", **labels)


def test_requests_are_counted_by_route_template_and_status(
    client: TestClient, writer: dict[str, str]
) -> None:
    before = scrape(client)
    created = create_review(client, writer)
    for _ in range(3):
        assert client.get(f"/v1/claim-reviews/{created['id']}.jsonld").status_code == 200
    assert client.get("/v1/claim-reviews/no-such-review.jsonld").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    assert client.request("BREW", "/healthz").status_code == 405
    after = scrape(client)

    assert requests(after, REVIEW_ROUTE, 200) - requests(before, REVIEW_ROUTE, 200) == 3
    assert requests(after, REVIEW_ROUTE, 404) - requests(before, REVIEW_ROUTE, 404) == 1
    assert (
        requests(after, "/v1/claim-reviews", 201, "POST")
        - requests(before, "/v1/claim-reviews", 201, "POST")
        == 1
    )
    assert requests(after, "unmatched", 404) - requests(before, "unmatched", 404) == 1
    assert (
        requests(after, "/healthz", 405, "OTHER") - requests(before, "/healthz", 405, "OTHER") == 1
    )
    assert requests(after, "/metrics", 200) - requests(before, "/metrics", 200) == 1
    # Raw paths never become label values.
    assert not any(created["id"] in str(labels) for _name, labels in after)


def test_latency_histogram_has_every_bucket(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    before = scrape(client)
    for _ in range(5):
        client.get(f"/v1/claim-reviews/{created['id']}.jsonld")
    after = scrape(client)

    name = "claimreview_http_request_duration_seconds"
    labels = {"route": REVIEW_ROUTE, "method": "GET"}
    bounds = [*(str(float(bound)) for bound in LATENCY_BUCKETS), "+Inf"]
    buckets = [value(after, f"{name}_bucket", **labels, le=bound) for bound in bounds]
    count = value(after, f"{name}_count", **labels)

    assert count - value(before, f"{name}_count", **labels) == 5
    assert buckets == sorted(buckets)  # cumulative
    assert buckets[-1] == count
    assert value(after, f"{name}_sum", **labels) > value(before, f"{name}_sum", **labels)


def test_pool_gauges_show_connections_in_use(settings: Settings) -> None:
    # No dispatcher and no facet folding: on SQLite's one-connection pool either would take
    # the connection the moment the test gives it back, and the second scrape would see it in
    # use.
    quiet = settings.model_copy(
        update={"dispatcher_enabled": False, "facet_fold_interval_seconds": 3600}
    )
    with TestClient(create_app(quiet)) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        with engine.connect():
            held = scrape(client)
        released = scrape(client)

    assert value(held, "claimreview_db_pool_checked_out", pool="write") == 1
    assert value(released, "claimreview_db_pool_checked_out", pool="write") == 0
    assert value(held, "claimreview_db_pool_size", pool="write") == engine.pool.size()
    if POSTGRES_URL:
        assert value(held, "claimreview_db_pool_size", pool="read") == settings.read_pool_size
        assert value(held, "claimreview_db_pool_waiting", pool="read") == 0
    else:
        assert ("claimreview_db_pool_size", frozenset({("pool", "read")})) not in held


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def dispatching(settings: Settings, **changes: object) -> TestClient:
    quick = {
        "outbound_allow_private": True,
        "dispatcher_interval_seconds": 0.05,
        "webhook_timeout_seconds": 2.0,
    }
    return TestClient(create_app(settings.model_copy(update={**quick, **changes})))


def test_backlog_gauges_follow_the_outbox_and_deliveries(
    settings: Settings, receiver: Receiver
) -> None:
    receiver.script("/hook", 500)
    with dispatching(settings, dispatcher_enabled=False) as client:
        make_publisher(client)
        writer = bearer(make_key(client, "polygraph", "reviews:write"))
        subscribe(client, writer, receiver.url("/hook"))
        create_review(client, writer)
        queued = scrape(client)
    # A failed attempt leaves the delivery pending, its retry an hour away.
    with dispatching(settings, webhook_max_attempts=2, webhook_backoff_seconds=3600) as client:
        retrying = eventually(
            lambda: (
                (s := scrape(client))
                and value(s, "claimreview_webhook_deliveries_pending") == 1
                and value(s, "claimreview_webhook_attempts_total", result="failed")
                > value(queued, "claimreview_webhook_attempts_total", result="failed")
                and s
            )
        )

    assert value(queued, "claimreview_outbox_backlog") == 1
    assert value(queued, "claimreview_webhook_deliveries_pending") == 0
    assert value(retrying, "claimreview_outbox_backlog") == 0
    assert value(retrying, "claimreview_webhooks_failing") == 0
    failed = "claimreview_webhook_attempts_total"
    assert value(retrying, failed, result="failed") - value(queued, failed, result="failed") == 1
    assert len(receiver.received("/hook")) == 1


def test_failing_webhooks_are_counted(settings: Settings, receiver: Receiver) -> None:
    receiver.script("/bad", 500)
    with dispatching(settings, webhook_max_attempts=1) as client:
        make_publisher(client)
        writer = bearer(make_key(client, "polygraph", "reviews:write"))
        subscribe(client, writer, receiver.url("/bad"))
        subscribe(client, writer, receiver.url("/good"))
        before = scrape(client)
        create_review(client, writer)
        after = eventually(
            lambda: (
                (s := scrape(client))
                and value(s, "claimreview_webhooks_failing") == 1
                and value(s, "claimreview_webhook_deliveries_pending") == 0
                and s
            )
        )

    attempts = "claimreview_webhook_attempts_total"
    for result in ("delivered", "failed"):
        assert value(after, attempts, result=result) - value(before, attempts, result=result) == 1


def test_metrics_token_protects_the_endpoint(settings: Settings) -> None:
    token = "metrics-token-5f2c"
    app = create_app(settings.model_copy(update={"metrics_token": token}))
    with TestClient(app, base_url=BASE_URL) as client:
        anonymous = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        scraped = scrape(client, Authorization=f"Bearer {token}")

    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert wrong.status_code == 401
    assert ("claimreview_outbox_backlog", frozenset()) in scraped


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the service's own log handler writes, while the test runs."""
    [handler] = logging.getLogger("claimreview").handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def test_access_log_is_one_json_object_per_line(
    client: TestClient, writer: dict[str, str], log_output: io.StringIO
) -> None:
    created = create_review(client, writer)
    client.get(
        f"/v1/claim-reviews/{created['id']}.jsonld?key=query-secret-123",
        headers={"X-Request-ID": "trace-abc"},
    )

    lines = [orjson.loads(line) for line in log_output.getvalue().splitlines()]
    read = lines[-1]

    assert [line["logger"] for line in lines] == ["claimreview.access"] * 2
    assert lines[0]["route"] == "/v1/claim-reviews"
    assert lines[0]["status"] == 201
    assert read["request_id"] == "trace-abc"
    assert read["route"] == REVIEW_ROUTE
    assert read["path"] == f"/v1/claim-reviews/{created['id']}.jsonld"
    assert read["method"] == "GET"
    assert read["status"] == 200
    assert read["level"] == "INFO"
    assert read["bytes"] > 0
    assert isinstance(read["duration_ms"], float)
    assert read["time"].endswith("Z")
    assert "query-secret-123" not in log_output.getvalue()


def test_error_lines_are_json_with_the_request_id_and_traceback(
    settings: Settings, log_output: io.StringIO
) -> None:
    create_app(settings)  # configures the handler for JSON
    token = logs.request_id.set("trace-err")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("claimreview.errors").exception("unhandled error on GET /x")
    finally:
        logs.request_id.reset(token)

    [line] = [orjson.loads(line) for line in log_output.getvalue().splitlines()]

    assert line["level"] == "ERROR"
    assert line["message"] == "unhandled error on GET /x"
    assert line["request_id"] == "trace-err"
    assert "ValueError: boom" in line["error"]


def test_text_log_format_keeps_the_classic_line(
    settings: Settings, log_output: io.StringIO
) -> None:
    app = create_app(settings.model_copy(update={"log_format": "text"}))
    with TestClient(app, base_url=BASE_URL) as client:
        client.get("/healthz", headers={"X-Request-ID": "plain-1"})

    [line] = log_output.getvalue().splitlines()

    assert ' INFO claimreview.access testclient "GET /healthz" 200 ' in line
    assert line.endswith("ms id=plain-1")


def test_processes_share_counts_in_multiprocess_mode(database_url: str, tmp_path: Path) -> None:
    """Two worker processes, as uvicorn ``--workers`` runs them, each answering some requests:
    a scrape of either counts them all. ``claimreview serve`` empties the directory first."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_99999.db").write_bytes(b"left over from an earlier run")
    env = {
        **environment(database_url, DISPATCHER_ENABLED="false"),
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    log = tmp_path / "serve.log"
    servers: list[Server] = []
    try:
        servers.append(serve(env, log))
        wiped = not (directory / "counter_99999.db").exists()
        uvicorn = [str(Path(CLAIMREVIEW).parent / "uvicorn"), "app.main:create_app", "--factory"]
        servers.append(serve(env, log, [*uvicorn, "--no-access-log"]))
        for server, count in zip(servers, (7, 5), strict=True):
            for _ in range(count):
                assert httpx.get(server.base + "/healthz", timeout=10).status_code == 200
        with httpx.Client(base_url=servers[1].base, timeout=10) as http:
            samples = scrape(http)
    finally:
        for server in servers:
            server.stop()

    assert wiped
    assert requests(samples, "/healthz", 200) == 12
