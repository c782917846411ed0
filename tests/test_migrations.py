"""Alembic migrations: they build the schema the models describe, and they undo cleanly."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.db import sqlalchemy_url
from app.migrate import alembic_config, include_object, upgrade
from app.models import Base
from tests.conftest import POSTGRES_URL

CLAIMREVIEW = str(Path(sys.executable).parent / "claimreview")


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A database of its own: migrating down must not touch the suite's shared one."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"cr_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(sqlalchemy_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(sqlalchemy_url(url))
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def test_upgrade_matches_the_models_and_downgrade_removes_everything(empty_database: str) -> None:
    upgrade(empty_database)
    engine = create_engine(sqlalchemy_url(empty_database))
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()

    assert differences == []
    command.downgrade(alembic_config(empty_database), "base")
    assert _tables(empty_database) <= {"alembic_version"}
    upgrade(empty_database)
    assert {"claim_review", "outbox_event", "webhook_delivery"} <= _tables(empty_database)


def test_hosts_starting_together_migrate_once(empty_database: str) -> None:
    """Each `claimreview serve` migrates before serving: three at once on an empty database
    take turns instead of two of them failing on tables the first one just created."""
    env = {**os.environ, "CLAIMREVIEW_DATABASE_URL": empty_database}
    starts = [
        subprocess.Popen(
            [CLAIMREVIEW, "db", "upgrade"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    outcomes = [(start.wait(timeout=120), start.communicate()[1].decode()) for start in starts]

    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    engine = create_engine(sqlalchemy_url(empty_database))
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert versions == [
        (ScriptDirectory.from_config(alembic_config(empty_database)).get_current_head(),)
    ]
