"""facet counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 04:10:00

Counts of reviews per bucket for ``GET /v1/facets``: triggers on ``claim_review`` append
+1/-1 rows to ``facet_delta`` in the review's own transaction, and ``app.db.facet_counts.fold``
moves them into ``review_count`` and ``claimant_count``. The upgrade fills the totals from the
reviews already stored (one pass over the table).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BUCKET = ("status", "publisher_id", "language", "verdict")


def _bucket_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("publisher_id", BigId, nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "facet_delta",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        *_bucket_columns(),
        sa.Column("claimant_key", sa.String(length=500), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facet_delta")),
    )
    op.create_table(
        "review_count",
        *_bucket_columns(),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*BUCKET, name=op.f("pk_review_count")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "claimant_count",
        *_bucket_columns(),
        sa.Column("claimant_key", sa.String(length=500), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "status",
            "claimant_key",
            "publisher_id",
            "language",
            "verdict",
            name=op.f("pk_claimant_count"),
        ),
        sqlite_with_rowid=False,
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_TRIGGERS if sqlite else POSTGRES_TRIGGERS:
        op.execute(statement)
    op.execute(
        "INSERT INTO review_count (status, publisher_id, language, verdict, n)"
        f" SELECT status, publisher_id, {LANGUAGE.format(row='claim_review')}, verdict, COUNT(*)"
        " FROM claim_review GROUP BY 1, 2, 3, 4"
    )
    op.execute(
        "INSERT INTO claimant_count (status, claimant_key, publisher_id, language, verdict, n)"
        f" SELECT status, claimant_key, publisher_id, {LANGUAGE.format(row='claim_review')},"
        " verdict, COUNT(*) FROM claim_review WHERE claimant_key IS NOT NULL"
        " GROUP BY 1, 2, 3, 4, 5"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER claim_review_counts_{trigger}")
    else:
        op.execute("DROP TRIGGER claim_review_counts_change ON claim_review")
        op.execute("DROP TRIGGER claim_review_counts_update ON claim_review")
        op.execute("DROP FUNCTION claim_review_counts()")
    op.drop_table("claimant_count")
    op.drop_table("review_count")
    op.drop_table("facet_delta")


# A review without a language or claimant counts under '' (the totals' keys are NOT NULL).
LANGUAGE = "COALESCE({row}.language, '')"
DELTA = (
    "INSERT INTO facet_delta (status, publisher_id, language, verdict, claimant_key, n)"
    " VALUES ({row}.status, {row}.publisher_id, COALESCE({row}.language, ''), {row}.verdict,"
    " COALESCE({row}.claimant_key, ''), {n})"
)
COUNTED = "status, publisher_id, language, verdict, claimant_key"
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER claim_review_counts_insert AFTER INSERT ON claim_review BEGIN
        {DELTA.format(row="new", n=1)};
    END""",
    f"""CREATE TRIGGER claim_review_counts_delete AFTER DELETE ON claim_review BEGIN
        {DELTA.format(row="old", n=-1)};
    END""",
    f"""CREATE TRIGGER claim_review_counts_update AFTER UPDATE OF {COUNTED} ON claim_review
    WHEN {" OR ".join(f"old.{column} IS NOT new.{column}" for column in COUNTED.split(", "))}
    BEGIN
        {DELTA.format(row="old", n=-1)};
        {DELTA.format(row="new", n=1)};
    END""",
)
POSTGRES_TRIGGERS = (
    f"""CREATE FUNCTION claim_review_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            {DELTA.format(row="OLD", n=-1)};
        END IF;
        IF TG_OP <> 'DELETE' THEN
            {DELTA.format(row="NEW", n=1)};
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER claim_review_counts_change AFTER INSERT OR DELETE ON claim_review
    FOR EACH ROW EXECUTE FUNCTION claim_review_counts()""",
    f"""CREATE TRIGGER claim_review_counts_update AFTER UPDATE OF {COUNTED} ON claim_review
    FOR EACH ROW WHEN (({", ".join(f"OLD.{c}" for c in COUNTED.split(", "))})
        IS DISTINCT FROM ({", ".join(f"NEW.{c}" for c in COUNTED.split(", "))}))
    EXECUTE FUNCTION claim_review_counts()""",
)
