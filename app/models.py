"""Database tables (SQLAlchemy 2 declarative). Migrations in ``migrations/`` mirror this file.

A review keeps its native document (what the CMS wrote, normalised) and the JSON-LD rendered
from it at write time; reads serve those stored bytes. Columns beside them exist for lookups
and filters only and are always derived from the document in the same write.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Publisher(Base):
    __tablename__ = "publisher"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(2048))
    logo: Mapped[str | None] = mapped_column(String(2048))
    same_as: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(35))
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    rating_scale: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publisher.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index(None, "publisher_id"),)


class ClaimReview(Base):
    __tablename__ = "claim_review"

    # The integer key orders reviews, anchors keyset cursors and is the SQLite full-text rowid;
    # ``id`` is the public, unguessable token.
    pk: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publisher.id", ondelete="RESTRICT"))
    publisher: Mapped[Publisher] = relationship()
    external_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    # The article URL without its #anchor: several reviews of one article share it.
    article_url: Mapped[str] = mapped_column(String(2048))
    language: Mapped[str | None] = mapped_column(String(35))
    verdict: Mapped[str] = mapped_column(String(32))
    verdict_dictionary_version: Mapped[str] = mapped_column(String(32))
    date_published: Mapped[str | None] = mapped_column(String(40))
    # date_published as a moment (midnight UTC for a date), else the creation time: sorts,
    # filters and anchors the default "newest first" order.
    published_at: Mapped[datetime]
    # Folded (case, accents, punctuation) for filters that ignore spelling details.
    label_key: Mapped[str | None] = mapped_column(String(500))
    claimant_name: Mapped[str | None] = mapped_column(String(500))
    claimant_key: Mapped[str | None] = mapped_column(String(500))
    # Folded claim, headline, claimant and tags: what full-text search matches (migration 0001
    # indexes it with FTS5 on SQLite and a generated tsvector + GIN on PostgreSQL).
    search_text: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    jsonld: Mapped[bytes] = mapped_column(LargeBinary)
    native: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    retracted_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("publisher_id", "external_id"),
        Index(None, "article_url"),
        Index("ix_claim_review_status_published", "status", "published_at", "pk"),
        Index(
            "ix_claim_review_publisher_published", "publisher_id", "status", "published_at", "pk"
        ),
        Index("ix_claim_review_verdict_published", "verdict", "status", "published_at", "pk"),
        Index("ix_claim_review_language_published", "language", "status", "published_at", "pk"),
        Index("ix_claim_review_label_published", "label_key", "status", "published_at", "pk"),
        Index("ix_claim_review_claimant_published", "claimant_key", "status", "published_at", "pk"),
        Index("ix_claim_review_status_updated", "status", "updated_at"),
    )


class ReviewTag(Base):
    """Folded tags, one row each, so ``tag=`` filters by index."""

    __tablename__ = "review_tag"

    review_pk: Mapped[int] = mapped_column(
        ForeignKey("claim_review.pk", ondelete="CASCADE"), primary_key=True
    )
    tag_key: Mapped[str] = mapped_column(String(500), primary_key=True)

    __table_args__ = (Index(None, "tag_key", "review_pk"),)


class ReviewRevision(Base):
    """Immutable history: one row per version of a review, a full snapshot of what was stored."""

    __tablename__ = "review_revision"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("claim_review.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    jsonld: Mapped[bytes] = mapped_column(LargeBinary)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("review_id", "version"),)


class OutboxEvent(Base):
    """Change events written in the same transaction as the change (§3 transactional outbox)."""

    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(String(32))
    publisher_id: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]

    __table_args__ = (Index(None, "review_id"),)


class IdempotencyRecord(Base):
    """The first response to a request sent with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("principal", "key"),)
