"""served bytes inline (PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 12:00:00

A review's row holds its document, its JSON-LD, its native JSON and its search text: about
3.5 KB. PostgreSQL "TOASTs" a row past 2 KB: it compresses its largest values, then moves
them into the TOAST table, largest first, until the row is under 2 KB again. So the two values
the reads serve, ``native`` and ``jsonld``, lived out of line: a list page fetched each of
its twenty documents through the TOAST index (445 buffer reads against 24 for the page's
keys alone), and a review read by id fetched both of its own. A page cost the backend 170 µs
of CPU; with the bytes inline, it costs 90 µs. A ``toast_tuple_target`` of 8160 bytes, the
most a page allows, keeps rows up to that size whole and uncompressed. Only bigger rows are
compressed or moved.

The setting applies to rows written after it. Rows already stored move inline when they are
next written, or all at once with ``VACUUM FULL claim_review``. That rewrites the table and
locks it while it runs, so it is left to the operator (README, "Deploying on PostgreSQL").
SQLite has no TOAST: a row that outgrows its page continues in overflow pages, and a typical
review's fits in one 4 KB page.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE claim_review SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE claim_review RESET (toast_tuple_target)")
