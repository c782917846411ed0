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
from sqlalchemy import CheckConstraint, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from app.db.engine import sqlalchemy_url
from app.db.migrate import alembic_config, include_object, upgrade
from app.db.tables import metadata
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


def test_migrations_build_the_schema_the_models_describe(empty_database: str) -> None:
    """No schema drift: a database migrated to head is what app/db/tables.py declares, so
    autogenerate would write no migration. Alembic compares tables, columns (types with their
    lengths, and on PostgreSQL time zones and integer sizes; nullability; server defaults),
    indexes, unique constraints and foreign keys with their ON DELETE; check constraints, which
    it skips, are compared here."""
    upgrade(empty_database)
    engine = create_engine(sqlalchemy_url(empty_database))
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_object": include_object,
                "compare_type": True,
                "compare_server_default": True,
            },
        )
        differences = compare_metadata(context, metadata)
        reflected = inspect(connection)
        checks_migrated = {
            (table.name, check["name"], check["sqltext"])
            for table in metadata.sorted_tables
            for check in reflected.get_check_constraints(table.name)
        }
    engine.dispose()
    checks_declared = {
        (table.name, constraint.name, str(constraint.sqltext))
        for table in metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }

    assert differences == []
    assert checks_migrated == checks_declared
    # Not two empty sets: the models declare the key's single owner as a check.
    assert ("api_key", "ck_api_key_one_owner") in {check[:2] for check in checks_declared}


def test_downgrade_removes_everything_and_upgrade_builds_it_again(empty_database: str) -> None:
    upgrade(empty_database)
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


def test_partners_migration_keeps_what_publishers_own(empty_database: str) -> None:
    """The partners migration copies ``api_key`` and ``webhook`` on SQLite: keys, webhooks and
    their deliveries made before it stay as they were; afterwards the database holds every key
    to one owner and every webhook to at most one; downgrading removes only what partners and
    the platform own."""
    # Found by file name: its revision id may change when it is linked after other migrations.
    [before] = [
        script
        for script in ScriptDirectory.from_config(alembic_config(empty_database)).walk_revisions()
        if script.path.endswith("_partners.py")
    ]
    assert isinstance(before.down_revision, str)
    upgrade(empty_database, before.down_revision)
    engine = create_engine(sqlalchemy_url(empty_database))
    now = "2026-01-01 00:00:00+00:00"
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO publisher (id, slug, name, url, same_as, domains, created_at, updated_at)"
            " VALUES (1, 'p', 'P', 'https://p.example/', '[]', '[]', :now, :now)",
            "INSERT INTO api_key (id, publisher_id, name, scopes, secret_hash, created_at)"
            " VALUES ('k1', 1, 'read', '[\"reviews:read\"]', 'h', :now)",
            "INSERT INTO webhook (id, publisher_id, url, secret, events, filters, status,"
            " created_at) VALUES ('w1', 1, 'https://r.example/', 's', '[]', '{}', 'active', :now)",
            "INSERT INTO outbox_event (id, review_id, publisher_id, type, version, created_at)"
            " VALUES (1, 'r1', 1, 'review.published', 1, :now)",
            "INSERT INTO webhook_delivery (webhook_id, event_id, status, attempts,"
            " next_attempt_at, created_at) VALUES ('w1', 1, 'pending', 0, :now, :now)",
        ):
            connection.execute(text(statement), {"now": now})

    upgrade(empty_database)
    with engine.begin() as connection:
        kept = [
            connection.execute(text("SELECT id, publisher_id, partner_id FROM api_key")).all(),
            connection.execute(text("SELECT id, publisher_id, partner_id FROM webhook")).all(),
            connection.execute(text("SELECT webhook_id, status FROM webhook_delivery")).all(),
        ]
        connection.execute(
            text(
                "INSERT INTO partner (id, slug, name, url, created_at, updated_at)"
                " VALUES (1, 'g', 'G', 'https://g.example/', :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO api_key (id, partner_id, name, scopes, secret_hash, created_at)"
                " VALUES ('k2', 1, 'partner', '[]', 'h', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO webhook (id, publisher_id, partner_id, url, secret, events, filters,"
                " status, created_at) VALUES ('w2', NULL, 1, 'u', 's', '[]', '{}', 'active', :now),"
                " ('w3', NULL, NULL, 'u', 's', '[]', '{}', 'active', :now)"
            ),
            {"now": now},
        )
    refused = []
    for owners in ("NULL, NULL", "1, 1"):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO api_key (id, publisher_id, partner_id, name, scopes, secret_hash,"
                    f" created_at) VALUES ('k3', {owners}, 'x', '[]', 'h', :now)"
                ),
                {"now": now},
            )
        refused.append(owners)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO webhook (id, publisher_id, partner_id, url, secret, events, filters,"
                " status, created_at) VALUES ('w4', 1, 1, 'u', 's', '[]', '{}', 'active', :now)"
            ),
            {"now": now},
        )
    command.downgrade(alembic_config(empty_database), before.down_revision)
    with engine.connect() as connection:
        left = [
            connection.execute(text("SELECT id FROM api_key")).all(),
            connection.execute(text("SELECT id FROM webhook")).all(),
            connection.execute(text("SELECT webhook_id FROM webhook_delivery")).all(),
        ]
    engine.dispose()

    assert kept == [[("k1", 1, None)], [("w1", 1, None)], [("w1", "pending")]]
    assert refused == ["NULL, NULL", "1, 1"]
    assert left == [[("k1",)], [("w1",)], [("w1",)]]
