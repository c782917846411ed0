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
    CheckConstraint,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
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


class SecretText(str):
    """A secret read from the database. Its ``repr`` is what SQLAlchemy's DEBUG log prints for
    every result row, so it hides the value; the string itself is unchanged."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<secret>'"


class Secret(TypeDecorator[str]):
    """A string column whose values are read back as ``SecretText``."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else SecretText(value)


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
    time_zone: Mapped[str | None] = mapped_column(String(64))
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    rating_scale: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Partner(Base):
    """A syndication partner (aggregator, researcher, platform): it reads published reviews and
    subscribes to webhooks, and publishes nothing (migration 0008)."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApiKey(Base):
    """A key belongs to exactly one publisher or one partner."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("publisher.id", ondelete="CASCADE"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        Index(None, "publisher_id"),
        Index(None, "partner_id"),
        CheckConstraint("(publisher_id IS NULL) <> (partner_id IS NULL)", name="one_owner"),
    )


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
        # Two filters that often come together (and the language indexes of migration 0004).
        Index(
            "ix_claim_review_publisher_verdict_published",
            "publisher_id",
            "verdict",
            "status",
            "published_at",
            "pk",
        ),
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


class Bucket:
    """What the facet totals count reviews by, and how many (or, in a delta, +1 or -1)."""

    status: Mapped[str] = mapped_column(String(16))
    publisher_id: Mapped[int] = mapped_column(BigId)
    language: Mapped[str] = mapped_column(String(35))
    verdict: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(Integer)


class FacetDelta(Bucket, Base):
    """A change to the numbers of reviews per (status, publisher, language, verdict, claimant):
    +1 for the bucket a review enters, -1 for the one it leaves. Written by triggers on
    ``claim_review`` (migration 0003) in the review's own transaction; ``facet_counts.fold``
    moves them into the two totals below.

    Writers only ever append here. Counting into one row per bucket directly would make every
    writer of a bucket wait for the previous one's commit on PostgreSQL (the row lock), and a
    slow transaction would hold up every other write of its publisher.
    """

    __tablename__ = "facet_delta"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # '' for no claimant, as for no language: the totals' primary keys cannot hold NULL.
    claimant_key: Mapped[str] = mapped_column(String(500))


class ReviewCount(Bucket, Base):
    """Reviews per (status, publisher, language, verdict): the total and three of the facets
    of ``GET /v1/facets`` read a few hundred rows here instead of counting a million reviews."""

    __tablename__ = "review_count"
    __table_args__ = (
        PrimaryKeyConstraint("status", "publisher_id", "language", "verdict"),
        {"sqlite_with_rowid": False},
    )


class ClaimantCount(Bucket, Base):
    """Reviews per claimant and the other dimensions, for the claimant facet. The key starts
    with (status, claimant_key) so the unfiltered facet is one ordered scan of the key."""

    __tablename__ = "claimant_count"

    claimant_key: Mapped[str] = mapped_column(String(500))

    __table_args__ = (
        PrimaryKeyConstraint("status", "claimant_key", "publisher_id", "language", "verdict"),
        {"sqlite_with_rowid": False},
    )


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
    # The markup this version was read from, as it arrived (``reviews.markup_source``): the
    # normaliser repairs what it reads, and an editor must still see what the markup said.
    # NULL for native JSON, which is stored as written.
    source: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("review_id", "version"),)


class OutboxEvent(Base):
    """Change events written in the same transaction as the change (a transactional outbox):
    the change feed reads them in order and the webhook dispatcher fans them out."""

    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # PostgreSQL: the writing transaction's id. Ids are handed out before commit, so commit
    # order differs from id order; the feed orders by (txid, id) and only reads transactions
    # older than every running one (query.feed_events). SQLite commits one writer at a time: NULL.
    txid: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())
    review_id: Mapped[str] = mapped_column(String(32))
    publisher_id: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    # Set once the webhook dispatcher has created this event's deliveries.
    dispatched_at: Mapped[datetime | None]

    __table_args__ = (
        Index(None, "review_id"),
        Index("ix_outbox_event_order", "txid", "id"),
        Index("ix_outbox_event_dispatched_at", "dispatched_at", "id"),
    )


class Webhook(Base):
    """A subscription: events of some types, optionally filtered, POSTed signed. Owned by a
    publisher, a partner, or (neither) the platform; the owner only decides who may see and
    change it, never what it receives."""

    __tablename__ = "webhook"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("publisher.id", ondelete="CASCADE"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    # Kept as given: it keys the HMAC every delivery is signed with. Never returned by the API.
    secret: Mapped[str] = mapped_column(Secret(500))
    events: Mapped[list[str]] = mapped_column(JSON)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # active | failing
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        Index(None, "publisher_id"),
        Index(None, "partner_id"),
        CheckConstraint("publisher_id IS NULL OR partner_id IS NULL", name="one_owner"),
    )


class WebhookDelivery(Base):
    """One event for one subscription: attempted until delivered or out of retries."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_event.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    # A dispatcher that claims a delivery owns it until then; a crash lets another take over.
    locked_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    last_response: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )


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
