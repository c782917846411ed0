"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 19:28:07.987649
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("principal", "key", name=op.f("uq_idempotency_record_principal")),
    )
    op.create_table(
        "outbox_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("review_id", sa.String(length=32), nullable=False),
        sa.Column(
            "publisher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_event_review_id"), ["review_id"], unique=False)

    op.create_table(
        "publisher",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("logo", sa.String(length=2048), nullable=True),
        sa.Column("same_as", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column("rating_scale", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publisher")),
        sa.UniqueConstraint("slug", name=op.f("uq_publisher_slug")),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "publisher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publisher.id"],
            name=op.f("fk_api_key_publisher_id_publisher"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_publisher_id"), ["publisher_id"], unique=False)

    op.create_table(
        "claim_review",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "publisher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("article_url", sa.String(length=2048), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("verdict_dictionary_version", sa.String(length=32), nullable=False),
        sa.Column("date_published", sa.String(length=40), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label_key", sa.String(length=500), nullable=True),
        sa.Column("claimant_name", sa.String(length=500), nullable=True),
        sa.Column("claimant_key", sa.String(length=500), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("jsonld", sa.LargeBinary(), nullable=False),
        sa.Column("native", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publisher.id"],
            name=op.f("fk_claim_review_publisher_id_publisher"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_claim_review")),
        sa.UniqueConstraint("id", name=op.f("uq_claim_review_id")),
        sa.UniqueConstraint(
            "publisher_id", "external_id", name=op.f("uq_claim_review_publisher_id")
        ),
    )
    with op.batch_alter_table("claim_review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_claim_review_article_url"), ["article_url"], unique=False
        )
        batch_op.create_index(
            "ix_claim_review_claimant_published",
            ["claimant_key", "status", "published_at", "pk"],
            unique=False,
        )
        batch_op.create_index(
            "ix_claim_review_label_published",
            ["label_key", "status", "published_at", "pk"],
            unique=False,
        )
        batch_op.create_index(
            "ix_claim_review_language_published",
            ["language", "status", "published_at", "pk"],
            unique=False,
        )
        batch_op.create_index(
            "ix_claim_review_publisher_published",
            ["publisher_id", "status", "published_at", "pk"],
            unique=False,
        )
        batch_op.create_index(
            "ix_claim_review_status_published", ["status", "published_at", "pk"], unique=False
        )
        batch_op.create_index(
            "ix_claim_review_status_updated", ["status", "updated_at"], unique=False
        )
        batch_op.create_index(
            "ix_claim_review_verdict_published",
            ["verdict", "status", "published_at", "pk"],
            unique=False,
        )

    op.create_table(
        "review_revision",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("review_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("jsonld", sa.LargeBinary(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["claim_review.id"],
            name=op.f("fk_review_revision_review_id_claim_review"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_revision")),
        sa.UniqueConstraint("review_id", "version", name=op.f("uq_review_revision_review_id")),
    )
    op.create_table(
        "review_tag",
        sa.Column(
            "review_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag_key", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_pk"],
            ["claim_review.pk"],
            name=op.f("fk_review_tag_review_pk_claim_review"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("review_pk", "tag_key", name=op.f("pk_review_tag")),
    )
    with op.batch_alter_table("review_tag", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_tag_tag_key"), ["tag_key", "review_pk"], unique=False
        )
    _create_full_text_index()


def downgrade() -> None:
    _drop_full_text_index()
    with op.batch_alter_table("review_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_tag_tag_key"))

    op.drop_table("review_tag")
    op.drop_table("review_revision")
    with op.batch_alter_table("claim_review", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_review_verdict_published")
        batch_op.drop_index("ix_claim_review_status_updated")
        batch_op.drop_index("ix_claim_review_status_published")
        batch_op.drop_index("ix_claim_review_publisher_published")
        batch_op.drop_index("ix_claim_review_language_published")
        batch_op.drop_index("ix_claim_review_label_published")
        batch_op.drop_index("ix_claim_review_claimant_published")
        batch_op.drop_index(batch_op.f("ix_claim_review_article_url"))

    op.drop_table("claim_review")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_publisher_id"))

    op.drop_table("api_key")
    op.drop_table("publisher")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_review_id"))

    op.drop_table("outbox_event")
    op.drop_table("idempotency_record")


# Full-text search over claim_review.search_text (text folded by app.core.textfold before storing):
# SQLite keeps an FTS5 index in step through triggers, PostgreSQL a generated tsvector with a
# GIN index; either way the index changes in the same transaction as the review.
SQLITE_FULL_TEXT = (
    """CREATE VIRTUAL TABLE review_fts USING fts5(
        search_text, content='claim_review', content_rowid='pk',
        tokenize="unicode61 remove_diacritics 2 categories 'L* N* Co M*'")""",
    """CREATE TRIGGER claim_review_fts_insert AFTER INSERT ON claim_review BEGIN
        INSERT INTO review_fts(rowid, search_text) VALUES (new.pk, new.search_text);
    END""",
    """CREATE TRIGGER claim_review_fts_delete AFTER DELETE ON claim_review BEGIN
        INSERT INTO review_fts(review_fts, rowid, search_text)
        VALUES ('delete', old.pk, old.search_text);
    END""",
    """CREATE TRIGGER claim_review_fts_update AFTER UPDATE OF search_text ON claim_review BEGIN
        INSERT INTO review_fts(review_fts, rowid, search_text)
        VALUES ('delete', old.pk, old.search_text);
        INSERT INTO review_fts(rowid, search_text) VALUES (new.pk, new.search_text);
    END""",
)
POSTGRES_FULL_TEXT = (
    """ALTER TABLE claim_review ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED""",
    "CREATE INDEX ix_claim_review_search_vector ON claim_review USING gin (search_vector)",
)


def _create_full_text_index() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_FULL_TEXT if sqlite else POSTGRES_FULL_TEXT:
        op.execute(statement)


def _drop_full_text_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER claim_review_fts_{trigger}")
        op.execute("DROP TABLE review_fts")
    else:
        op.execute("DROP INDEX ix_claim_review_search_vector")
        op.execute("ALTER TABLE claim_review DROP COLUMN search_vector")
