"""Alembic environment: runs migrations on the connection or URL that app.db.migrate passes in."""

from alembic import context
from sqlalchemy import Connection, create_engine

from app.db.engine import sqlalchemy_url
from app.db.migrate import include_object
from app.db.tables import metadata

config = context.config
# Any constant shared by every host: the PostgreSQL advisory lock migrations run under.
MIGRATION_LOCK = 0x636C61696D726576


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(sqlalchemy_url(config.get_main_option("sqlalchemy.url") or ""))
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        # Processes that start together (each `claimreview serve` migrates first) take turns:
        # the first migrates, the others wait here, then find the schema current. Alembic
        # reads the current revision after this, and the lock lasts until the commit.
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        else:
            # SQLite's write lock, taken up front; pysqlite would otherwise run DDL outside any
            # transaction.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        context.run_migrations()


run_migrations()
