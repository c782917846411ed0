"""Engine and sessions for writes and ordinary reads (sync SQLAlchemy, run in the thread pool).

The hot public reads do not come through here: see ``reads.py``.

SQLite: WAL (readers never wait for the writer), foreign keys on, a busy timeout, and
``BEGIN IMMEDIATE`` so a transaction that reads and then writes takes the write lock up front —
pysqlite's deferred default can fail with "database is locked" on the upgrade, which the busy
timeout does not cover. Every SQLite connection, here and in ``reads.py``, also gets the
function ``hamming`` (``add_sqlite_functions``): search by image (app/db/image_search.py)
computes Hamming distances in SQL, which SQLite has no built-in for.
"""

import sqlite3
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.core.perceptual import distance

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA synchronous=NORMAL",
)


def sqlalchemy_url(database_url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


def make_engine(settings: Settings) -> Engine:
    """``hide_parameters``: SQL parameters carry webhook secrets and key hashes; they must not
    reach the SQL log or an exception message that gets logged."""
    url = sqlalchemy_url(settings.database_url)
    if settings.is_sqlite:
        # One connection: every transaction takes SQLite's write lock up front (BEGIN IMMEDIATE
        # below), so a second connection would only wait in SQLite's busy handler, which sleeps
        # in steps of up to 100 ms while the lock sits free. Threads queue on the pool instead,
        # in order, and are woken the moment the connection comes back.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            hide_parameters=True,
        )
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()
    add_sqlite_functions(dbapi_connection)


def add_sqlite_functions(connection: sqlite3.Connection) -> None:
    """What the service's SQL needs beyond SQLite's built-ins. Declared deterministic (the same
    arguments always give the same answer), which lets SQLite's planner treat it as such."""
    connection.create_function("hamming", 2, _hamming, deterministic=True)


def _hamming(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else distance(a, b)


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on any error."""
    with request.app.state.sessionmaker() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# scope="function": commit before the response is sent, so a client never sees success for a
# transaction that then fails to commit.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
