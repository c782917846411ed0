"""Loop-side reads on PostgreSQL: light queries asked for together share a round trip."""

import asyncio
from typing import Any

import psycopg
import pytest

from app.stored_reads import open_reads
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="coalescing is PostgreSQL's")


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
