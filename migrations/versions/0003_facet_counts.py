"""facet counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 00:50:00.000000

Counts of reviews for facets, kept by triggers on ``claim_review`` in the transaction that
writes the review: every write path (the API, the importer's batched INSERTs, bulk loads)
moves them, and a rolled-back write or savepoint takes its counts back with it. Filled here
from the reviews already stored.

- ``review_count``: reviews by (status, publisher, language, verdict); '' for no language.
- ``claimant_count``: reviews with a claimant by (status, publisher, verdict, language,
  claimant), and also every total over any of publisher, verdict and language — publisher 0,
  verdict '*' and language '*' stand for "any" — so that the top claimants for no filter, or
  for one publisher, language or verdict, are a few hundred rows to add, not every cell.

SQLite runs one trigger per changed row. PostgreSQL runs one per statement over its transition
tables, so a batch of imported reviews costs one grouped upsert per table, and the upsert takes
the counter rows in key order, so two writers cannot lock them crosswise.
"""

import itertools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    "review_count": ("status", "publisher_id", "language", "verdict"),
    "claimant_count": ("status", "publisher_id", "verdict", "language", "claimant_key"),
}
# The eight combinations of (publisher, verdict, language) kept (1) or summed over (0).
ROLLUPS = " UNION ALL ".join(
    f"SELECT {publisher} AS p, {verdict} AS v, {language} AS l"
    for publisher, verdict, language in itertools.product((0, 1), repeat=3)
)


def _cell(table: str, row: str) -> list[str]:
    """The key of the counter row(s) a claim_review row ``row`` counts in (``g`` being one of
    ``ROLLUPS`` for claimant_count)."""
    language = f"coalesce({row}.language, '')"
    if table == "review_count":
        return [f"{row}.status", f"{row}.publisher_id", language, f"{row}.verdict"]
    return [
        f"{row}.status",
        f"CASE WHEN g.p = 1 THEN {row}.publisher_id ELSE 0 END",
        f"CASE WHEN g.v = 1 THEN {row}.verdict ELSE '*' END",
        f"CASE WHEN g.l = 1 THEN {language} ELSE '*' END",
        f"{row}.claimant_key",
    ]


def _from(table: str, rows: str) -> str:
    return f"{rows} CROSS JOIN ({ROLLUPS}) g" if table == "claimant_count" else rows


def _counted(table: str, row: str) -> str:
    """The condition for a row to be counted in ``table``: a claimant, for claimant_count."""
    return f"{row}.claimant_key IS NOT NULL" if table == "claimant_count" else "true"


def _upsert(table: str) -> tuple[str, str]:
    """The head of an upsert into ``table`` and its ON CONFLICT clause, up to ``SET``."""
    columns = ", ".join(COLUMNS[table])
    return f"INSERT INTO {table} ({columns}, n)", f"ON CONFLICT ({columns}) DO UPDATE"


def _sqlite_upsert(table: str, row: str, delta: int) -> str:
    insert, conflict = _upsert(table)
    source = f" FROM ({ROLLUPS}) g" if table == "claimant_count" else ""
    return (
        f"{insert} SELECT {', '.join(_cell(table, row))}, {delta}{source}"
        f" WHERE {_counted(table, row)} {conflict} SET n = {table}.n + excluded.n;"
    )


def _sqlite_triggers() -> list[str]:
    columns = COLUMNS["claimant_count"]
    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in columns)
    insert = "".join(_sqlite_upsert(table, "new", 1) for table in COLUMNS)
    delete = "".join(_sqlite_upsert(table, "old", -1) for table in COLUMNS)
    return [
        f"CREATE TRIGGER claim_review_count_insert AFTER INSERT ON claim_review BEGIN {insert} END",
        f"CREATE TRIGGER claim_review_count_delete AFTER DELETE ON claim_review BEGIN {delete} END",
        f"CREATE TRIGGER claim_review_count_update AFTER UPDATE OF {', '.join(columns)}"
        f" ON claim_review WHEN {changed} BEGIN {delete}{insert} END",
    ]


def _postgres_upsert(table: str) -> str:
    """Add the net change of the rows ``changed`` (claim_review columns and ``delta``) to
    ``table``, counter rows in key order."""
    insert, conflict = _upsert(table)
    cell = ", ".join(_cell(table, "r"))
    return (
        f"{insert} SELECT {cell}, sum(r.delta) FROM {_from(table, 'changed r')}"
        f" WHERE {_counted(table, 'r')} GROUP BY {cell} HAVING sum(r.delta) <> 0"
        f" ORDER BY {cell} {conflict} SET n = {table}.n + excluded.n;"
    )


def _postgres_function() -> str:
    """One function for the three statement triggers: ``changed`` is every old row at -1 and
    every new row at +1, so an UPDATE that moves no review to another cell changes nothing."""
    columns = ", ".join(COLUMNS["claimant_count"])
    old = f"SELECT {columns}, -1 AS delta FROM old_rows"
    new = f"SELECT {columns}, 1 AS delta FROM new_rows"
    changed = {"INSERT": new, "DELETE": old, "UPDATE": f"{old} UNION ALL {new}"}
    branches = "".join(
        f"    {'IF' if index == 0 else 'ELSIF'} TG_OP = '{operation}' THEN\n"
        + "".join(
            f"      WITH changed AS ({rows}) {_postgres_upsert(table)}\n" for table in COLUMNS
        )
        for index, (operation, rows) in enumerate(changed.items())
    )
    return (
        "CREATE FUNCTION claim_review_count() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"{branches}    END IF;\n    RETURN NULL;\nEND\n$$"
    )


def _postgres_triggers() -> list[str]:
    tables = {
        "insert": "NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    }
    return [
        _postgres_function(),
        *(
            f"CREATE TRIGGER claim_review_count_{operation} AFTER {operation.upper()}"
            f" ON claim_review REFERENCING {transition} FOR EACH STATEMENT"
            " EXECUTE FUNCTION claim_review_count()"
            for operation, transition in tables.items()
        ),
    ]


def _fill(table: str) -> str:
    cell = ", ".join(_cell(table, "r"))
    return (
        f"INSERT INTO {table} ({', '.join(COLUMNS[table])}, n)"
        f" SELECT {cell}, count(*) FROM {_from(table, 'claim_review r')}"
        f" WHERE {_counted(table, 'r')} GROUP BY {cell}"
    )


def _create_table(name: str) -> None:
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "status": sa.String(length=16),
        "publisher_id": sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        "language": sa.String(length=35),
        "verdict": sa.String(length=32),
        "claimant_key": sa.String(length=500),
    }
    op.create_table(
        name,
        *(sa.Column(column, types[column], nullable=False) for column in COLUMNS[name]),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*COLUMNS[name], name=op.f(f"pk_{name}")),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    for name in COLUMNS:
        _create_table(name)
        op.execute(_fill(name))
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_triggers() if sqlite else _postgres_triggers():
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for trigger in ("insert", "delete", "update"):
        op.execute(
            f"DROP TRIGGER claim_review_count_{trigger}" + ("" if sqlite else " ON claim_review")
        )
    if not sqlite:
        op.execute("DROP FUNCTION claim_review_count()")
    for name in COLUMNS:
        op.drop_table(name)
