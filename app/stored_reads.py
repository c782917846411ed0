"""Loop-side reads: the hot public paths (a review by id, list pages, facets).

These reads do not use the SQLAlchemy session: a thread-pool hop plus ORM loading costs more
than the whole lookup, and sharing the write pool with the event loop can deadlock (STYLE.md).
So each process keeps its own read connection(s), used only from the event loop:

- SQLite: one connection in WAL mode (readers never wait for the writer); a primary-key lookup
  takes microseconds, less than handing it to a thread would.
- PostgreSQL: psycopg's async pool with server-side prepared statements.

Both return the stored bytes untouched; nothing is rendered here.
"""

import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from app.query import Dialect

_SELECT = (
    "SELECT id, publisher_id, status, version, updated_at, retracted_at, jsonld, native"
    " FROM claim_review WHERE id = {param}"
)
SQLITE_SELECT = _SELECT.format(param="?")
POSTGRES_SELECT = _SELECT.format(param="%s")


@dataclass(slots=True)
class StoredReview:
    id: str
    publisher_id: int
    status: str
    version: int
    updated_at: datetime
    retracted_at: datetime | None
    jsonld: bytes
    native: bytes


class StoredReads(Protocol):
    dialect: Dialect

    async def review(self, review_id: str) -> StoredReview | None: ...

    async def fetch(self, sql: str, params: list[Any], *, heavy: bool = False) -> list[Any]: ...

    def stream(self, sql: str, params: list[Any], *, batch: int) -> AsyncIterator[list[Any]]: ...

    async def close(self) -> None: ...


def _timestamp(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stored(row: Any) -> StoredReview:
    return StoredReview(
        id=row[0],
        publisher_id=row[1],
        status=row[2],
        version=row[3],
        updated_at=_timestamp(row[4]),
        retracted_at=_timestamp(row[5]) if row[5] is not None else None,
        jsonld=bytes(row[6]),
        native=bytes(row[7]),
    )


class SqliteReads:
    """Light reads run inline on the loop's own connection; heavy ones (full-text search,
    facets) in worker threads, each with its own connection, so the loop keeps serving."""

    dialect: Dialect = "sqlite"

    def __init__(self, database_url: str) -> None:
        self._path = make_url(database_url).database or ""
        self._connections: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._connection = self._connect()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA query_only=ON")
        connection.execute("PRAGMA busy_timeout=5000")
        self._connections.append(connection)
        return connection

    async def review(self, review_id: str) -> StoredReview | None:
        row = self._connection.execute(SQLITE_SELECT, (review_id,)).fetchone()
        return _stored(row) if row else None

    async def fetch(self, sql: str, params: list[Any], *, heavy: bool = False) -> list[Any]:
        if not heavy:
            return self._connection.execute(sql, params).fetchall()
        return await run_in_threadpool(self._fetch_in_thread, sql, params)

    async def stream(self, sql: str, params: list[Any], *, batch: int) -> AsyncIterator[list[Any]]:
        """Rows in batches from a connection of the export's own, one thread hop per batch."""
        connection = await run_in_threadpool(self._open_private)
        try:
            cursor = await run_in_threadpool(connection.execute, sql, params)
            while rows := await run_in_threadpool(cursor.fetchmany, batch):
                yield rows
        finally:
            connection.close()

    def _open_private(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA query_only=ON")
        return connection

    def _fetch_in_thread(self, sql: str, params: list[Any]) -> list[Any]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection.execute(sql, params).fetchall()

    async def close(self) -> None:
        for connection in self._connections:
            connection.close()


class PostgresReads:
    dialect: Dialect = "postgresql"

    def __init__(self, database_url: str, *, size: int) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._pool = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=size,
            open=False,
            # Autocommit: a lone SELECT needs no BEGIN/COMMIT round trips.
            kwargs={"autocommit": True},
        )

    async def open(self) -> None:
        await self._pool.open(wait=True)

    async def review(self, review_id: str) -> StoredReview | None:
        async with self._pool.connection() as connection:
            cursor = await connection.execute(POSTGRES_SELECT, (review_id,), prepare=True)
            row = await cursor.fetchone()
        return _stored(row) if row else None

    async def fetch(self, sql: str, params: list[Any], *, heavy: bool = False) -> list[Any]:
        async with self._pool.connection() as connection:
            cursor = await connection.execute(sql, params)
            return await cursor.fetchall()

    async def stream(self, sql: str, params: list[Any], *, batch: int) -> AsyncIterator[list[Any]]:
        """Rows in batches from a server-side cursor on a connection outside the pool, so a
        long export never holds a connection the hot path needs."""
        async with await psycopg.AsyncConnection.connect(self._conninfo) as connection:
            async with connection.transaction(), connection.cursor(name="export") as cursor:
                await cursor.execute(sql, params)
                while rows := await cursor.fetchmany(batch):
                    yield rows

    def pool_stats(self) -> dict[str, int]:
        """psycopg's own measures of the pool (``pool_max``, ``pool_size``, ...), for metrics."""
        return self._pool.get_stats()

    async def close(self) -> None:
        await self._pool.close()


async def open_reads(database_url: str, *, is_sqlite: bool, pool_size: int) -> StoredReads:
    if is_sqlite:
        return SqliteReads(database_url)
    reads = PostgresReads(database_url, size=pool_size)
    await reads.open()
    return reads
