"""Alembic environment: runs migrations on the connection or URL that app.migrate passes in."""

from alembic import context
from sqlalchemy import Connection, create_engine

from app.db import sqlalchemy_url
from app.models import Base

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(sqlalchemy_url(config.get_main_option("sqlalchemy.url") or ""))
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


def _include(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    """Leave the full-text machinery, which migration 0001 manages by hand, out of autogenerate."""
    if kind == "table" and (name or "").startswith("review_fts"):
        return False
    return not (kind == "column" and name == "search_vector")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=_include,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
