"""Scale-out on PostgreSQL: three ``claimreview serve`` processes on one database stand for three
app hosts behind a load balancer, and every scenario drives them concurrently, request n going
to host n % 3. What one host commits, the others honour: idempotency keys, If-Match, the change
feed's order and cursors, webhook deliveries (a dispatcher runs on every host), and no write is
lost or doubled under load.

The hosts start once for the module (starting three processes is the slow part); each test
works under a publisher of its own, so the tests do not see each other's reviews.
"""

import asyncio
import secrets
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, text

from app.db.engine import sqlalchemy_url
from tests.conftest import ADMIN, BASE_URL, POSTGRES_URL, bearer, seed_review, truncate
from tests.served import Server, environment, eventually, launch
from tests.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="scale-out runs several hosts on one PostgreSQL database; SQLite is a file on one "
    "host (set CLAIMREVIEW_TEST_DATABASE_URL to run it)",
)

HOSTS = 3
IN_FLIGHT = 24  # requests the test keeps open at once, over all hosts
T = TypeVar("T")
Request = tuple[str, str, dict[str, Any]]  # method, path, httpx options


@dataclass(frozen=True)
class Cluster:
    bases: list[str]
    database_url: str

    def base(self, n: int) -> str:
        return self.bases[n % len(self.bases)]

    def count(self, sql: str, **params: Any) -> int:
        engine = create_engine(sqlalchemy_url(self.database_url))
        with engine.connect() as connection:
            found: int = connection.execute(text(sql), params).scalar_one()
        engine.dispose()
        return found


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def cluster(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    truncate(postgres_url)
    env = environment(
        postgres_url,
        SECRET_KEY=secrets.token_hex(16),  # one secret for every host, as docs/postgresql.md asks
        WEBHOOK_ALLOW_PRIVATE="true",
        DISPATCHER_INTERVAL_SECONDS="0.05",
        ACCESS_LOG="false",
        LOG_LEVEL="warning",
        DB_POOL_SIZE="4",  # three hosts share the test cluster's connections with other runs
        READ_POOL_SIZE="2",
        KEEPALIVE_TIMEOUT_SECONDS="60",
    )
    logs = tmp_path_factory.mktemp("hosts")
    servers: list[Server] = []
    try:
        servers.extend(launch(env, logs / f"host-{n}.log") for n in range(HOSTS))
        for server in servers:
            eventually(server.ready, timeout=60)
        yield Cluster([server.base for server in servers], postgres_url)
    finally:
        for server in servers:
            server.stop()


@dataclass(frozen=True)
class Writer:
    slug: str
    publisher_id: int
    headers: dict[str, str]


@pytest.fixture
def writer(cluster: Cluster) -> Writer:
    """A publisher of this test's own, and a write key of it (made on host 0)."""
    slug = f"scale-{secrets.token_hex(4)}"
    body = {"slug": slug, "name": f"Scale {slug}", "url": "https://www.polygraph.info/"}
    with httpx.Client(base_url=cluster.base(0), timeout=30) as http:
        created = http.post("/v1/publishers", json=body, headers=ADMIN)
        assert created.status_code == 201, created.text
        keyed = http.post(
            f"/v1/publishers/{slug}/keys",
            json={"name": "cms", "scopes": ["reviews:write"]},
            headers=ADMIN,
        )
        assert keyed.status_code == 201, keyed.text
    publisher_id = cluster.count("SELECT id FROM publisher WHERE slug = :slug", slug=slug)
    return Writer(slug, publisher_id, bearer(keyed.json()["key"]))


def article(writer: Writer, n: int) -> dict[str, Any]:
    return seed_review(external_id=None, url=f"https://www.polygraph.info/a/{writer.slug}/{n}.html")


def run(*work: Awaitable[T]) -> list[T]:
    async def together() -> list[T]:
        return list(await asyncio.gather(*work))

    return asyncio.run(together())


def spread(cluster: Cluster, requests: Sequence[Request]) -> list[httpx.Response]:
    """Send request n to host n % 3, ``IN_FLIGHT`` at a time; the responses in order."""
    return asyncio.run(_spread(cluster, requests))


async def _spread(cluster: Cluster, requests: Sequence[Request]) -> list[httpx.Response]:
    gate = asyncio.Semaphore(IN_FLIGHT)
    # Room for every request in flight on every host: a full pool makes room by closing an idle
    # connection of another host, and httpcore 1.0 can close one it has just handed to a waiting
    # request, under that request (encode/httpcore#1110: a ReadError here, ClientDisconnect in
    # the host's log). Idle connections expire (5 s) well before the hosts close them (60 s).
    limits = httpx.Limits(max_connections=IN_FLIGHT * HOSTS, keepalive_expiry=5)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def one(n: int, method: str, path: str, options: dict[str, Any]) -> httpx.Response:
            async with gate:
                return await http.request(method, cluster.base(n) + path, **options)

        return list(await asyncio.gather(*(one(n, *request) for n, request in enumerate(requests))))


def creates(writer: Writer, numbers: range) -> list[Request]:
    return [
        ("POST", "/v1/claim-reviews", {"json": article(writer, n), "headers": writer.headers})
        for n in numbers
    ]


def reviews_of(cluster: Cluster, writer: Writer) -> int:
    return cluster.count(
        "SELECT count(*) FROM claim_review WHERE publisher_id = :id", id=writer.publisher_id
    )


def test_one_idempotency_key_sent_to_every_host_creates_one_review(
    cluster: Cluster, writer: Writer
) -> None:
    headers = {**writer.headers, "Idempotency-Key": f"retry-{secrets.token_hex(8)}"}
    body = article(writer, 1)
    answers = spread(
        cluster, [("POST", "/v1/claim-reviews", {"json": body, "headers": headers})] * 12
    )

    assert [answer.status_code for answer in answers] == [201] * 12
    assert len({answer.content for answer in answers}) == 1
    assert len({(answer.headers["location"], answer.headers["etag"]) for answer in answers}) == 1
    first = [answer for answer in answers if "idempotent-replayed" not in answer.headers]
    assert len(first) == 1  # the others are replays of the one that committed
    assert reviews_of(cluster, writer) == 1


def test_one_external_id_put_on_every_host_at_once_is_one_review(
    cluster: Cluster, writer: Writer
) -> None:
    body = article(writer, 1)
    put = (
        "PUT",
        "/v1/claim-reviews/by-external-id/cms-1",
        {"json": body, "headers": writer.headers},
    )

    answers = spread(cluster, [put] * 9)

    assert sorted(answer.status_code for answer in answers) == [200] * 8 + [201]
    assert {answer.json()["id"] for answer in answers} == {answers[0].json()["id"]}
    assert {answer.json()["version"] for answer in answers} == {1}  # the same content again
    assert reviews_of(cluster, writer) == 1


def test_if_match_lets_one_racing_edit_win_and_loses_no_update(
    cluster: Cluster, writer: Writer
) -> None:
    [created] = spread(cluster, creates(writer, range(1)))
    path = urlsplit(created.headers["location"]).path
    stale = {**writer.headers, "If-Match": created.headers["etag"]}

    answers = spread(
        cluster,
        [("PATCH", path, {"json": {"headline": f"Edit {n}"}, "headers": stale}) for n in range(9)],
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [412] * 8
    [won] = [answer for answer in answers if answer.status_code == 200]
    lost = [answer for answer in answers if answer.status_code == 412]
    assert all(a.headers["content-type"] == "application/problem+json" for a in lost)
    current = httpx.get(cluster.base(2) + path, headers=writer.headers).json()
    assert current["headline"] == won.json()["headline"]
    assert current["version"] == 2

    # Six editors each add their tag by read, modify, write with If-Match, retrying on 412 —
    # through different hosts for the read and the write. Every tag must survive.
    tags = [f"editor-{n}" for n in range(6)]
    run(*(_add_tag(cluster, n, path, writer, tag) for n, tag in enumerate(tags)))

    final = httpx.get(cluster.base(0) + path, headers=writer.headers).json()
    assert set(tags) <= set(final["tags"])
    assert final["version"] == 2 + len(tags)
    revisions = cluster.count(
        "SELECT count(*) FROM review_revision WHERE review_id = :id", id=final["id"]
    )
    assert revisions == final["version"]


async def _add_tag(cluster: Cluster, n: int, path: str, writer: Writer, tag: str) -> None:
    async with httpx.AsyncClient(timeout=60, headers=writer.headers) as http:
        for attempt in range(100):
            read = await http.get(cluster.base(n + attempt) + path)
            patch = {"tags": [*read.json()["tags"], tag]}
            headers = {"If-Match": read.headers["etag"]}
            written = await http.patch(
                cluster.base(n + attempt + 1) + path, json=patch, headers=headers
            )
            if written.status_code == 200:
                return
            assert written.status_code == 412, written.text
        raise AssertionError(f"{tag} never got through")


def test_the_feed_read_across_hosts_during_writes_has_every_review_once(
    cluster: Cluster, writer: Writer
) -> None:
    count = 150
    answers, seen = run(
        _spread(cluster, creates(writer, range(count))),
        _follow_feed(cluster, writer, expected=count),
    )

    assert [answer.status_code for answer in answers] == [201] * count
    created = {f"{BASE_URL}/v1/claim-reviews/{answer.json()['id']}" for answer in answers}
    assert len(seen) == count  # nothing twice ...
    assert set(seen) == created  # ... nothing missed, nothing else


async def _follow_feed(cluster: Cluster, writer: Writer, *, expected: int) -> list[str]:
    """Page the publisher's feed while the writes go on, each page from the next host, each
    `since` taken from the previous page's `next` link (cursors are signed with the shared key);
    until every expected review was seen and a page after that came back empty."""
    seen: list[str] = []
    params = {"publisher": writer.slug, "limit": "40"}
    async with httpx.AsyncClient(timeout=60) as http:
        for n in range(10_000):
            page = await http.get(cluster.base(n) + "/v1/feed", params=params)
            assert page.status_code == 200, page.text
            items = orjson.loads(page.content)["dataFeedElement"]
            seen.extend(item["item"]["@id"] for item in items)
            if not items and len(seen) >= expected:
                return seen
            params = _next(page)
            if not items:
                await asyncio.sleep(0.05)
    raise AssertionError(f"the feed showed {len(seen)} of {expected} reviews")


def _next(page: httpx.Response) -> dict[str, str]:
    link = page.headers["link"]
    query = parse_qs(urlsplit(link[link.index("<") + 1 : link.index(">")]).query)
    return {name: values[0] for name, values in query.items()}


def test_three_dispatchers_deliver_each_event_once_per_subscription(
    cluster: Cluster, writer: Writer, receiver: Receiver
) -> None:
    paths = [f"/{writer.slug}/a", f"/{writer.slug}/b"]
    hooks = []
    with httpx.Client(timeout=30, headers=writer.headers) as http:
        for n, path in enumerate(paths):
            subscribed = http.post(
                cluster.base(n) + "/v1/webhooks",
                json={
                    "url": receiver.url(path),
                    "secret": "whsec-scale-out-0123456789",
                    "filters": {"publisher": writer.slug},
                },
            )
            assert subscribed.status_code == 201, subscribed.text
            hooks.append(subscribed.json()["id"])
    count = 60

    answers = spread(cluster, creates(writer, range(count)))

    assert [answer.status_code for answer in answers] == [201] * count
    with httpx.Client(timeout=30, headers=writer.headers) as http:
        for n, hook in enumerate(hooks):

            def settled(hook: str = hook, n: int = n) -> bool:
                items = http.get(
                    cluster.base(n) + f"/v1/webhooks/{hook}/deliveries", params={"limit": 100}
                ).json()["items"]
                return len(items) == count and all(i["status"] == "delivered" for i in items)

            eventually(settled, timeout=60)
    for path in paths:
        sent = [request.headers["x-claimreview-delivery"] for request in receiver.received(path)]
        assert len(sent) == count
        assert len(set(sent)) == count


@pytest.mark.timeout(300)  # a minute on a busy two-core machine
def test_a_thousand_concurrent_creates_over_three_hosts_make_a_thousand_reviews(
    cluster: Cluster, writer: Writer
) -> None:
    count = 1000

    answers = spread(cluster, creates(writer, range(count)))

    assert [answer.status_code for answer in answers] == [201] * count
    assert len({answer.json()["id"] for answer in answers}) == count
    facets = httpx.get(cluster.base(1) + "/v1/facets", params={"publisher": writer.slug})
    assert facets.json()["total"] == count
    assert reviews_of(cluster, writer) == count
    for table in ("review_revision", "outbox_event"):
        joined = cluster.count(
            f"SELECT count(*) FROM {table} JOIN claim_review ON claim_review.id = review_id "
            "WHERE claim_review.publisher_id = :id",
            id=writer.publisher_id,
        )
        assert joined == count, table
