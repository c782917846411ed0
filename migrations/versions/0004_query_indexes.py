"""query indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 04:30:00

Two-filter lists without ``q`` read an index in date order until a page is full; when the two
filters rarely meet, that walked a whole publisher's or language's reviews (seconds on a
million). Indexes on the pairs that come together most (publisher + verdict, language +
verdict) end that. The language indexes are on the primary subtag (``app.db.query.LANGUAGE_BASE``),
so that ``language=pt`` (pt, pt-BR, pt-PT...) is one range of the index.

SQLite only: a search looks every full-text match up to apply the filters and sort by date.
In the table that is a row with kilobytes of documents, and a one-word search on a million
reviews touched some 16,000 of them; a narrow index of what the filters and the sort need,
in ``pk`` order, holds those in a few pages (p95 470 → 34 ms on a fresh server).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLISHER_VERDICT = ["publisher_id", "verdict", "status", "published_at", "pk"]
# As app.db.query.LANGUAGE_BASE writes it in queries (tests/db/test_query_plans.py checks they
# agree).
LANGUAGE_BASE = {
    "sqlite": "substr(language, 1, instr(language || '-', '-') - 1)",
    "postgresql": "split_part(language, '-', 1)",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    base = f"({LANGUAGE_BASE[dialect]})"
    with op.batch_alter_table("claim_review") as batch_op:
        batch_op.drop_index("ix_claim_review_language_published")
        batch_op.create_index("ix_claim_review_publisher_verdict_published", PUBLISHER_VERDICT)
    op.execute(
        "CREATE INDEX ix_claim_review_language_published"
        f" ON claim_review ({base}, status, published_at, pk)"
    )
    op.execute(
        "CREATE INDEX ix_claim_review_language_verdict_published"
        f" ON claim_review ({base}, verdict, status, published_at, pk)"
    )
    if dialect == "sqlite":
        op.execute(
            "CREATE INDEX ix_claim_review_search_filters"
            " ON claim_review (pk, status, publisher_id, published_at, verdict, language)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX ix_claim_review_search_filters")
    op.execute("DROP INDEX ix_claim_review_language_verdict_published")
    op.execute("DROP INDEX ix_claim_review_language_published")
    with op.batch_alter_table("claim_review") as batch_op:
        batch_op.drop_index("ix_claim_review_publisher_verdict_published")
        batch_op.create_index(
            "ix_claim_review_language_published", ["language", "status", "published_at", "pk"]
        )
