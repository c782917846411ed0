"""What ``claimreview serve`` answers before the app sees a request, through raw sockets against
one real ``claimreview serve`` process: the header deadline (slow loris), the header size,
requests that are not HTTP, Upgrade requests, and the concurrency cap, all in problem+json.

The process allows one request in flight (``CLAIMREVIEW_MAX_CONCURRENCY=1``), 2.5 seconds and
4 KB for a request's headers; the tests take turns on it and leave nothing in flight.
"""

import json
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from app.http.security_headers import API_POLICY
from tests.conftest import fresh_database_url
from tests.served import Server, environment, eventually, serve

# The loris below sends a byte a second: the deadline falls between two bytes, never on one.
HEADER_TIMEOUT = 2.5
MAX_HEADER_BYTES = 4096
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow-loris-test\r\n\r\n"


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("protocol")
    env = environment(
        fresh_database_url(request, directory),
        DISPATCHER_ENABLED="false",
        HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        KEEPALIVE_TIMEOUT_SECONDS="30",
        MAX_HEADER_BYTES=str(MAX_HEADER_BYTES),
        MAX_CONCURRENCY="1",
    )
    running = serve(env, directory / "serve.log")
    yield running
    running.stop()


def connect(server: Server) -> socket.socket:
    host, port = server.base.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=30)


def read_until_closed(connection: socket.socket) -> bytes:
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return answer


def read_response(connection: socket.socket) -> bytes:
    """One response (they all have a Content-Length here), leaving the connection open."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = connection.recv(65536)
        assert chunk, answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    assert length, head
    while len(body) < int(length[1]):
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def problem(answer: bytes, status: int) -> dict[str, object]:
    """The problem+json body of a raw response, after checking its status and headers."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} "), answer
    headers = {
        name.lower(): value for name, _, value in (line.partition(": ") for line in lines[1:])
    }
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["content-length"]) == len(body)
    assert headers["content-security-policy"] == API_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert len(headers["x-request-id"]) == 16
    document: dict[str, object] = json.loads(body)
    assert document["status"] == status
    return document


def test_headers_sent_a_byte_a_second_get_408_and_the_connection_closed(server: Server) -> None:
    with connect(server) as loris:
        started = time.monotonic()
        loris.settimeout(1.0)  # one byte, then wait a second for an answer
        sent, answer = 0, b""
        while not answer and time.monotonic() - started < 10 * HEADER_TIMEOUT:
            try:
                loris.sendall(REQUEST[sent : sent + 1])
                sent += 1
            except (BrokenPipeError, ConnectionResetError):
                break
            if sent == 1:  # while the loris holds its connection, others are served
                assert httpx.get(server.base + "/healthz", timeout=10).status_code == 200
                listed = httpx.get(server.base + "/v1/claim-reviews", timeout=10)
                assert listed.status_code == 200, listed.text
            try:
                answer = loris.recv(65536)
            except TimeoutError:
                continue
        loris.settimeout(30)
        answer += read_until_closed(loris)
        held = time.monotonic() - started

    assert problem(answer, 408)["type"] == "urn:claimreview:problem:request-timeout"
    assert b"connection: close" in answer.lower()
    # Cut at the deadline, long before the trickle would have finished its headers.
    assert HEADER_TIMEOUT <= held < HEADER_TIMEOUT + 3
    assert sent < len(REQUEST)
    logged = eventually(lambda: "408 from 127.0.0.1" in server.log.read_text())
    assert logged


def test_a_connection_that_never_sends_a_byte_is_closed_at_the_deadline(server: Server) -> None:
    with connect(server) as silent:
        started = time.monotonic()
        answer = read_until_closed(silent)
        held = time.monotonic() - started

    assert answer == b""  # nothing was asked, so nothing is answered
    assert HEADER_TIMEOUT - 0.1 <= held < HEADER_TIMEOUT + 3


def test_the_deadline_runs_from_each_request_on_a_kept_alive_connection(server: Server) -> None:
    with connect(server) as connection:
        connection.sendall(REQUEST)
        first = read_response(connection)
        time.sleep(HEADER_TIMEOUT + 0.5)  # idle longer than the deadline, within keep-alive
        connection.sendall(REQUEST)
        second = read_response(connection)

    assert first.startswith(b"HTTP/1.1 200 ")
    assert second.startswith(b"HTTP/1.1 200 ")


def test_headers_over_the_limit_get_431(server: Server) -> None:
    with connect(server) as connection:
        connection.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
            + b"X-Padding: "
            + b"p" * MAX_HEADER_BYTES
            + b"\r\n\r\n"
        )
        answer = read_until_closed(connection)

    refused = problem(answer, 431)
    assert refused["type"] == "urn:claimreview:problem:request-header-fields-too-large"
    assert refused["limit"] == MAX_HEADER_BYTES


def test_headers_that_never_end_are_refused_at_the_limit_not_the_deadline(server: Server) -> None:
    with connect(server) as connection:
        started = time.monotonic()
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        for number in range(MAX_HEADER_BYTES // 100 + 1):  # no blank line: the headers go on
            connection.sendall(b"X-Line-%d: %s\r\n" % (number, b"x" * 90))
        answer = read_until_closed(connection)
        waited = time.monotonic() - started

    assert problem(answer, 431)["limit"] == MAX_HEADER_BYTES
    assert waited < HEADER_TIMEOUT


def test_a_body_is_not_counted_as_headers(server: Server) -> None:
    document = {"@context": "https://schema.org", "@type": "ClaimReview", "x": "y" * 40_000}
    body = json.dumps(document).encode()
    with connect(server) as connection:
        # Headers and a body ten times the header limit, in one write.
        connection.sendall(
            b"POST /v1/validate HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/ld+json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        answer = read_response(connection)
        connection.sendall(REQUEST)  # and the connection goes on
        after = read_response(connection)

    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert after.startswith(b"HTTP/1.1 200 ")


def test_a_request_that_is_not_http_gets_400_problem_json(server: Server) -> None:
    with connect(server) as connection:
        connection.sendall(b"HELLO THERE\x00\r\n\r\n")
        answer = read_until_closed(connection)

    assert problem(answer, 400)["type"] == "urn:claimreview:problem:bad-request"


def test_an_upgrade_request_is_answered_as_an_ordinary_request(server: Server) -> None:
    with connect(server) as connection:
        connection.sendall(
            b"GET /v1/no-such-thing HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        answer = read_response(connection)

    assert problem(answer, 404)["type"] == "urn:claimreview:problem:not-found"


def test_past_the_concurrency_cap_a_request_gets_503_problem_json(server: Server) -> None:
    with connect(server) as held:
        # In flight until its body is complete: the one request the process allows.
        held.sendall(
            b"POST /v1/validate HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/ld+json\r\nContent-Length: 2\r\n\r\n{"
        )
        time.sleep(0.5)  # let the server start on it
        refused = httpx.get(server.base + "/healthz", timeout=10)
        held.sendall(b"}")
        finished = read_response(held)
    after = httpx.get(server.base + "/healthz", timeout=10)

    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["connection"] == "close"
    assert refused.json()["type"] == "urn:claimreview:problem:service-unavailable"
    assert finished.startswith(b"HTTP/1.1 200 ")  # the held request was answered in full
    assert b'"code":"missing-context"' in finished  # (its findings: {} is no ClaimReview)
    assert after.status_code == 200


def test_the_cap_counts_requests_not_the_connections_kept_open(server: Server) -> None:
    """uvicorn's own cap counted open connections too: one idle client refused everyone."""
    with connect(server) as idle:
        idle.sendall(REQUEST)
        assert read_response(idle).startswith(b"HTTP/1.1 200 ")
        answered = httpx.get(server.base + "/healthz", timeout=10)

    assert answered.status_code == 200
