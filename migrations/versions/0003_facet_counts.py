"""facet counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 00:50:00.000000

Counts of reviews by (status, publisher, language, verdict) and by the same plus claimant, kept
by triggers on ``claim_review`` in the transaction that writes the review — every write path
(the API, the importer's batched INSERTs, bulk loads) moves them, and a rolled-back write or
savepoint takes its counts back with it. Filled here from the reviews already stored.

SQLite runs one trigger per changed row. PostgreSQL runs one per statement over its transition
tables, so a batch of a thousand imported reviews costs one grouped upsert per table, and the
upsert takes the counter rows in key order, so two writers cannot lock them crosswise.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The cell of each table, as expressions over a claim_review row aliased ``{row}``.
REVIEW_CELL = ("status", "publisher_id", "language", "verdict")
CLAIMANT_CELL = (*REVIEW_CELL, "claimant_key")
TABLES = {"review_count": REVIEW_CELL, "claimant_count": CLAIMANT_CELL}


def _values(cell: tuple[str, ...], row: str) -> str:
    # A review without a language counts under '' (a key column cannot hold NULL).
    return ", ".join(
        f"coalesce({row}.{column}, '')" if column == "language" else f"{row}.{column}"
        for column in cell
    )


def _counted(table: str, row: str) -> str:
    """The condition for a row to be counted in ``table``: a claimant, for claimant_count."""
    return f"{row}.claimant_key IS NOT NULL" if table == "claimant_count" else "true"


def _sqlite_upsert(table: str, row: str, delta: int) -> str:
    cell = TABLES[table]
    return (
        f"INSERT INTO {table} ({', '.join(cell)}, n)"
        f" SELECT {_values(cell, row)}, {delta} WHERE {_counted(table, row)}"
        f" ON CONFLICT ({', '.join(cell)}) DO UPDATE SET n = n + excluded.n;"
    )


def _sqlite_triggers() -> list[str]:
    counted_columns = ", ".join(CLAIMANT_CELL)
    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in CLAIMANT_CELL)
    insert = "".join(_sqlite_upsert(table, "new", 1) for table in TABLES)
    delete = "".join(_sqlite_upsert(table, "old", -1) for table in TABLES)
    return [
        f"CREATE TRIGGER claim_review_count_insert AFTER INSERT ON claim_review BEGIN {insert} END",
        f"CREATE TRIGGER claim_review_count_delete AFTER DELETE ON claim_review BEGIN {delete} END",
        f"CREATE TRIGGER claim_review_count_update AFTER UPDATE OF {counted_columns}"
        f" ON claim_review WHEN {changed} BEGIN {delete}{insert} END",
    ]


def _postgres_upsert(table: str) -> str:
    """Add the net change of the rows ``changed r`` (a cell's columns and ``delta``) to
    ``table``, cells in key order."""
    cell = TABLES[table]
    values = _values(cell, "r")
    return (
        f"INSERT INTO {table} AS c ({', '.join(cell)}, n)"
        f" SELECT {values}, sum(r.delta) FROM changed r WHERE {_counted(table, 'r')}"
        f" GROUP BY {values} HAVING sum(r.delta) <> 0 ORDER BY {values}"
        f" ON CONFLICT ({', '.join(cell)}) DO UPDATE SET n = c.n + excluded.n;"
    )


def _postgres_function() -> str:
    """One function for the three statement triggers: ``changed`` is every old row at -1 and
    every new row at +1, so an UPDATE that moves no review to another cell changes nothing."""
    columns = ", ".join(CLAIMANT_CELL)
    old, new = f"SELECT {columns}, -1 AS delta FROM old_rows", f"SELECT {columns}, 1 FROM new_rows"
    changed = {
        "INSERT": new.replace("1 FROM", "1 AS delta FROM"),
        "DELETE": old,
        "UPDATE": f"{old} UNION ALL {new}",
    }
    branches = "".join(
        f"    {'IF' if index == 0 else 'ELSIF'} TG_OP = '{operation}' THEN\n"
        + "".join(f"      WITH changed AS ({rows}) {_postgres_upsert(table)}\n" for table in TABLES)
        for index, (operation, rows) in enumerate(changed.items())
    )
    return (
        "CREATE FUNCTION claim_review_count() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"{branches}    END IF;\n    RETURN NULL;\nEND\n$$"
    )


def _postgres_triggers() -> list[str]:
    return [
        _postgres_function(),
        "CREATE TRIGGER claim_review_count_insert AFTER INSERT ON claim_review"
        " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION claim_review_count()",
        "CREATE TRIGGER claim_review_count_delete AFTER DELETE ON claim_review"
        " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION claim_review_count()",
        "CREATE TRIGGER claim_review_count_update AFTER UPDATE ON claim_review"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION claim_review_count()",
    ]


def _fill(table: str) -> str:
    cell = TABLES[table]
    return (
        f"INSERT INTO {table} ({', '.join(cell)}, n)"
        f" SELECT {_values(cell, 'r')}, count(*) FROM claim_review r"
        f" WHERE {_counted(table, 'r')} GROUP BY {_values(cell, 'r')}"
    )


def _create_table(name: str, cell: tuple[str, ...]) -> None:
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "status": sa.String(length=16),
        "publisher_id": sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        "language": sa.String(length=35),
        "verdict": sa.String(length=32),
        "claimant_key": sa.String(length=500),
    }
    op.create_table(
        name,
        *(sa.Column(column, types[column], nullable=False) for column in cell),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*cell, name=op.f(f"pk_{name}")),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    for name, cell in TABLES.items():
        _create_table(name, cell)
        op.execute(_fill(name))
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_triggers() if sqlite else _postgres_triggers():
        op.execute(statement)


def downgrade() -> None:
    for trigger in ("insert", "delete", "update"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER claim_review_count_{trigger}")
        else:
            op.execute(f"DROP TRIGGER claim_review_count_{trigger} ON claim_review")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION claim_review_count()")
    for name in TABLES:
        op.drop_table(name)
