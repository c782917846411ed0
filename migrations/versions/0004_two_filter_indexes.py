"""two-filter indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:35:00.000000

The publisher and verdict listing indexes also carry the column a second filter most often
tests: a list by publisher and verdict, or by verdict and language, walks one index newest
first and checks the second filter on the index entry, reading only the rows it returns
instead of every row it passes (rare combinations passed tens of thousands).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTING = ("status", "published_at", "pk")
INDEXES = {
    "ix_claim_review_publisher_published": ("publisher_id", *LISTING),
    "ix_claim_review_verdict_published": ("verdict", *LISTING),
}
SECOND_FILTER = {
    "ix_claim_review_publisher_published": "verdict",
    "ix_claim_review_verdict_published": "language",
}


def _replace(with_second_filter: bool) -> None:
    with op.batch_alter_table("claim_review", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            extra = (SECOND_FILTER[name],) if with_second_filter else ()
            batch_op.create_index(name, [*columns, *extra], unique=False)
    bind = op.get_bind()
    analysed = (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    )
    if analysed:
        # The planner weighs indexes by their statistics; new ones have none until analysed.
        for name in INDEXES:
            op.execute(f"ANALYZE {name}")


def upgrade() -> None:
    _replace(with_second_filter=True)


def downgrade() -> None:
    _replace(with_second_filter=False)
