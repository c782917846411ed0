"""publisher time zone

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 05:30:00

Fact-checkers' markup often gives a publication time without a zone ("2020-06-23 20:02", the
way Drupal and many WordPress themes print it). The time is the newsroom's local time, so the
importer reads it in the publisher's ``time_zone`` (an IANA name such as "Europe/Paris") when
the publisher has one, and in UTC otherwise.

A nullable column without a default: adding it rewrites no row on either engine.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("publisher") as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("publisher") as batch_op:
        batch_op.drop_column("time_zone")
