"""media reviews and images

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:30:00

Issue 18: fact-checks of pictures and clips, and search by image.

- ``claim_review.kind``: "claim" (a ClaimReview) or "media" (a MediaReview). Existing rows are
  ClaimReviews: the server default fills them in (a constant default rewrites no row on
  PostgreSQL 11+). Indexed with status and publication time for ``kind=`` listings.
- ``image``: each image URL any review names, once, with its fetch state (an outbox the image
  worker drains) and, once fetched, its 64-bit pHash and dHash as signed bigints and the four
  16-bit bands of the pHash, each indexed (multi-index hashing; bench/image_index_bench.py).
- ``review_image``: which review names which image, and where.

Downgrading drops the image tables and the column; MediaReviews stored by then stay rows whose
documents the older code cannot read, so downgrade only a database that holds none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENT = sa.DateTime(timezone=True)
BANDS = ("band0", "band1", "band2", "band3")


def upgrade() -> None:
    # Plain ALTER TABLE on both engines (SQLite 3.35+ drops a column in place): a batch copy
    # of claim_review on SQLite would lose its triggers and the indexes of migration 0004.
    op.add_column(
        "claim_review", sa.Column("kind", sa.String(16), nullable=False, server_default="claim")
    )
    op.create_index(
        "ix_claim_review_kind_published", "claim_review", ["kind", "status", "published_at", "pk"]
    )
    op.create_table(
        "image",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("url_key", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", MOMENT, nullable=False),
        sa.Column("locked_until", MOMENT, nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("phash", sa.BigInteger(), nullable=True),
        sa.Column("dhash", sa.BigInteger(), nullable=True),
        sa.Column("hash_version", sa.String(32), nullable=True),
        *(sa.Column(band, sa.Integer(), nullable=True) for band in BANDS),
        sa.Column("fetched_at", MOMENT, nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image")),
        sa.UniqueConstraint("url_key", name=op.f("uq_image_url_key")),
    )
    op.create_index("ix_image_due", "image", ["status", "next_attempt_at"])
    for band in BANDS:
        op.create_index(op.f(f"ix_image_{band}"), "image", [band])
    op.create_table(
        "review_image",
        sa.Column("review_pk", BIG_ID, nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("image_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["review_pk"],
            ["claim_review.pk"],
            name=op.f("fk_review_image_review_pk_claim_review"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["image.id"],
            name=op.f("fk_review_image_image_id_image"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("review_pk", "place", name=op.f("pk_review_image")),
    )
    op.create_index(op.f("ix_review_image_image_id"), "review_image", ["image_id"])


def downgrade() -> None:
    op.drop_table("review_image")
    op.drop_table("image")
    op.drop_index("ix_claim_review_kind_published", table_name="claim_review")
    op.drop_column("claim_review", "kind")
