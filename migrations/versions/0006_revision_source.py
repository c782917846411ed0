"""revision source

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00

Markup from outside (JSON-LD and HTML bodies, imports, Google pages) is repaired on the way in:
dates read, URLs resolved, numbers parsed. The stored document is the repaired reading, so
without the original an editor could no longer tell what the markup said, nor check a repair.
Each revision written from markup keeps it in ``source``: the node as received, the page URL
it came from, the media type, and where it sat in the input (``app.core.document.markup_source``).
Native JSON is stored as written and keeps none (NULL), as do the revisions written before this.

A nullable column without a default: adding it rewrites no row on either engine.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("review_revision") as batch_op:
        batch_op.add_column(sa.Column("source", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_revision") as batch_op:
        batch_op.drop_column("source")
