"""Loop-side reads on PostgreSQL: light queries asked for together share a round trip, and the
bytes they serve are stored in the review's own row."""

import asyncio
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.db.reads import open_reads
from tests.conftest import POSTGRES_URL, create_review

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="coalescing and TOAST are PostgreSQL's")


def fetch_together(database_url: str, *queries: tuple[str, list[Any]]) -> list[Any]:
    async def run() -> list[Any]:
        reads = await open_reads(database_url, is_sqlite=False, pool_size=2, cache_bytes=1 << 20)
        try:
            return await asyncio.gather(
                *(reads.fetch(sql, params) for sql, params in queries), return_exceptions=True
            )
        finally:
            await reads.close()

    return asyncio.run(run())


def test_light_reads_asked_together_each_get_their_rows(database_url: str) -> None:
    answers = fetch_together(
        database_url,
        *(("SELECT %s::int, %s::text", [n % 3, "x"]) for n in range(9)),
        ("SELECT generate_series(1, %s)", [3]),
    )

    assert answers == [[(n % 3, "x")] for n in range(9)] + [[(1,), (2,), (3,)]]
    assert answers[0] is not answers[3]  # identical queries: one run, a copy of it each


def test_a_failed_light_read_fails_alone(database_url: str) -> None:
    good, bad, other = fetch_together(
        database_url, ("SELECT 1", []), ("SELECT 1 / %s", [0]), ("SELECT 2", [])
    )

    assert good == [(1,)]
    assert isinstance(bad, psycopg.errors.DivisionByZero)
    assert other == [(2,)]


def test_a_review_is_stored_whole_in_its_row(
    client: TestClient, writer: dict[str, str], database_url: str
) -> None:
    """Migration 0005: the seed review's row is over the 2 KB at which PostgreSQL moves values
    out of line, yet its JSON-LD and native bytes stay in the row, uncompressed, so serving
    them reads no TOAST index."""
    create_review(client, writer)
    with psycopg.connect(database_url) as connection:
        row_size, jsonld, native = connection.execute(
            "SELECT pg_column_size(r.*), pg_column_size(jsonld) - octet_length(jsonld),"
            " pg_column_size(native) - octet_length(native) FROM claim_review r"
        ).fetchone() or (0, 0, 0)
        toast = connection.execute(
            "SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = 'claim_review'"
        ).fetchone()
        assert toast is not None
        (moved,) = connection.execute(f"SELECT count(*) FROM {toast[0]}").fetchone() or (None,)

    assert row_size > 2032
    assert moved == 0
    assert jsonld > 0 and native > 0  # a varlena header on the whole bytes: not compressed
