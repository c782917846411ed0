"""partners

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:00:00

Syndication partners read published reviews and subscribe to webhooks but publish nothing, so
until now they were handed a publisher's read key. This adds the ``partner`` table and lets
keys and webhooks belong to one:

- an API key belongs to exactly one publisher or one partner (check ``one_owner``);
- a webhook belongs to a publisher, a partner, or neither: the platform's own, made by the
  admin (check ``one_owner`` refuses both at once).

Existing keys and webhooks keep their publisher, so they work as before. On SQLite the two
tables are copied to change their columns; migrations run on a connection without
``PRAGMA foreign_keys`` (migrations/env.py), so dropping the old ``webhook`` during the copy
does not cascade to its deliveries. Downgrading deletes what only this revision can hold:
partners' keys and webhooks and the platform's webhooks (with their deliveries).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "partner",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner")),
        sa.UniqueConstraint("slug", name=op.f("uq_partner_slug")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.alter_column("publisher_id", existing_type=BIG_ID, nullable=True)
        batch_op.add_column(sa.Column("partner_id", BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_api_key_partner_id_partner"),
            "partner",
            ["partner_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_api_key_partner_id"), ["partner_id"], unique=False)
        batch_op.create_check_constraint(
            op.f("ck_api_key_one_owner"), "(publisher_id IS NULL) <> (partner_id IS NULL)"
        )
    with op.batch_alter_table("webhook", schema=None) as batch_op:
        batch_op.alter_column("publisher_id", existing_type=BIG_ID, nullable=True)
        batch_op.add_column(sa.Column("partner_id", BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_webhook_partner_id_partner"),
            "partner",
            ["partner_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_webhook_partner_id"), ["partner_id"], unique=False)
        batch_op.create_check_constraint(
            op.f("ck_webhook_one_owner"), "publisher_id IS NULL OR partner_id IS NULL"
        )


def downgrade() -> None:
    op.execute("DELETE FROM api_key WHERE publisher_id IS NULL")
    # Foreign keys may be off (SQLite): deliveries go first, by hand.
    op.execute(
        "DELETE FROM webhook_delivery WHERE webhook_id IN "
        "(SELECT id FROM webhook WHERE publisher_id IS NULL)"
    )
    op.execute("DELETE FROM webhook WHERE publisher_id IS NULL")
    with op.batch_alter_table("webhook", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_webhook_one_owner"), type_="check")
        batch_op.drop_index(batch_op.f("ix_webhook_partner_id"))
        batch_op.drop_constraint(op.f("fk_webhook_partner_id_partner"), type_="foreignkey")
        batch_op.drop_column("partner_id")
        batch_op.alter_column("publisher_id", existing_type=BIG_ID, nullable=False)
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_api_key_one_owner"), type_="check")
        batch_op.drop_index(batch_op.f("ix_api_key_partner_id"))
        batch_op.drop_constraint(op.f("fk_api_key_partner_id_partner"), type_="foreignkey")
        batch_op.drop_column("partner_id")
        batch_op.alter_column("publisher_id", existing_type=BIG_ID, nullable=False)
    op.drop_table("partner")
