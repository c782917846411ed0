"""Database tables and the API models of the administered resources, as SQLModel classes.
Migrations in ``migrations/`` mirror the tables (tests/db/test_migrations.py holds them to it).

A review keeps its native document (what the CMS wrote, normalised) and the JSON-LD rendered
from it at write time; reads serve those stored bytes. Columns beside them exist for lookups
and filters only and are always derived from the document in the same write. Reviews are
tables only: the API shows the review document (``document.ReviewPublic``), not the row.

Publishers, partners and API keys are SQLModel families. ``XBase`` declares once the columns
that the table and the answer share, in the order the answer lists them; ``X(XBase,
table=True)`` adds the columns the API never shows; ``XPublic(XBase)`` is the answer, read from
a row with ``XPublic.model_validate(row)`` and given what other rows hold through ``update``.
``XCreate`` and ``XUpdate`` are what a client sends, declared on their own with the checks and
normalisation a request passes: a stored row is shown as it is, never checked again.
A webhook's answer names its owner between its id and its URL, and a delivery's names its
event among its own columns (orders the API had before these models and keeps byte for byte),
so ``WebhookPublic`` and ``WebhookDeliveryPublic`` cannot extend a base of the table's columns
and declare their fields themselves.
"""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    FetchedValue,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlmodel import Field, Relationship, SQLModel

from app.core import perceptual, verdicts
from app.core.document import (
    Host,
    LanguageTag,
    NoNul,
    PartnerScope,
    ShortText,
    Slug,
    Text200,
    TimeZone,
    Url,
    format_timestamp,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Every table's MetaData (SQLModel's), named for import from here: importing this module is
# what declares the tables. The naming convention is set before any table is declared.
metadata = SQLModel.metadata
metadata.naming_convention = NAMING_CONVENTION

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Every moment is stored with its offset (PostgreSQL timestamptz).
Moment = DateTime(timezone=True)

# A stored moment as the API shows it: RFC 3339 in UTC.
Timestamp = Annotated[
    datetime, PlainSerializer(format_timestamp), WithJsonSchema({"type": "string"})
]


def _serial() -> Any:
    """An auto-incremented 64-bit primary key, handed out by the database."""
    return Field(
        default=None, primary_key=True, sa_type=BigId, sa_column_kwargs={"autoincrement": True}
    )


def _reference(target: str, *, ondelete: Literal["CASCADE", "RESTRICT"]) -> Any:
    """A column referring to a 64-bit key, typed like it (SQLModel would type it ``Integer``)."""
    return Field(foreign_key=target, ondelete=ondelete, sa_type=BigId)


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


class Row(SQLModel):
    """The base of every table: a row equals only itself and can be hashed, as with SQLAlchemy's
    own declarative classes (a pydantic model compares field values and cannot be hashed; the
    importer keys dicts by publisher row)."""

    __table__: ClassVar[Table]  # for type checkers: SQLAlchemy sets it on every table class

    __eq__ = object.__eq__
    __hash__ = object.__hash__


class _Request(SQLModel):
    """What a client sends: unknown fields refused, text stripped."""

    model_config = {"extra": "forbid", "str_strip_whitespace": True}


# Publishers


class PublisherBase(SQLModel):
    slug: str = Field(sa_type=String(64), unique=True)
    name: str = Field(sa_type=String(500))
    url: str = Field(sa_type=String(2048))
    logo: str | None = Field(default=None, sa_type=String(2048))
    same_as: list[str] = Field(sa_type=JSON, sa_column_kwargs={"default": list})
    language: str | None = Field(default=None, sa_type=String(35))
    time_zone: str | None = Field(default=None, sa_type=String(64))
    domains: list[str] = Field(sa_type=JSON, sa_column_kwargs={"default": list})
    created_at: Timestamp = Field(sa_type=Moment)
    updated_at: Timestamp = Field(sa_type=Moment)


class Publisher(PublisherBase, Row, table=True):
    id: int = _serial()
    rating_scale: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class PublisherCreate(_Request):
    """A fact-checking organisation (tenant)."""

    slug: Slug
    name: ShortText
    url: Url
    logo: Url | None = None
    same_as: list[Url] = Field(default_factory=list, max_length=20)
    language: LanguageTag | None = None
    time_zone: TimeZone | None = None
    domains: list[Host] = Field(
        default_factory=list, max_length=20, description="Default: the host of url without www."
    )


class PublisherUpdate(_Request):
    name: ShortText | None = None
    url: Url | None = None
    logo: Url | None = None
    same_as: list[Url] | None = Field(default=None, max_length=20)
    language: LanguageTag | None = None
    time_zone: TimeZone | None = None
    domains: list[Host] | None = Field(default=None, max_length=20)


class PublisherPublic(PublisherBase):
    pass


# Partners


class PartnerBase(SQLModel):
    slug: str = Field(sa_type=String(64), unique=True)
    name: str = Field(sa_type=String(500))
    url: str = Field(sa_type=String(2048))
    created_at: Timestamp = Field(sa_type=Moment)
    updated_at: Timestamp = Field(sa_type=Moment)


class Partner(PartnerBase, Row, table=True):
    """A syndication partner (aggregator, researcher, platform): it reads published reviews and
    subscribes to webhooks, and publishes nothing (migration 0008)."""

    id: int = _serial()


class PartnerCreate(_Request):
    """A syndication partner: reads published reviews and subscribes to webhooks."""

    slug: Slug
    name: ShortText
    url: Url


class PartnerPublic(PartnerBase):
    pass


# API keys


class ApiKeyBase(SQLModel):
    """What the answers show of any key, a publisher's or a partner's: never its secret."""

    id: str = Field(sa_type=String(32), primary_key=True)
    name: str = Field(sa_type=String(200))
    scopes: list[str] = Field(sa_type=JSON)
    created_at: Timestamp = Field(sa_type=Moment)
    revoked_at: Timestamp | None = Field(default=None, sa_type=Moment)


class ApiKey(ApiKeyBase, Row, table=True):
    """A key belongs to exactly one publisher or one partner."""

    __tablename__ = "api_key"
    __table_args__ = (
        Index(None, "publisher_id"),
        Index(None, "partner_id"),
        CheckConstraint("(publisher_id IS NULL) <> (partner_id IS NULL)", name="one_owner"),
    )

    publisher_id: int | None = _reference("publisher.id", ondelete="CASCADE")
    partner_id: int | None = _reference("partner.id", ondelete="CASCADE")
    secret_hash: str = Field(sa_type=String(64), repr=False)


class ApiKeyCreate(_Request):
    # The column is 200 characters: a longer name was a database error (500) on PostgreSQL.
    name: Text200
    scopes: list[Literal["reviews:read", "reviews:write", "webhooks:manage", "admin"]] = Field(
        min_length=1
    )


class PartnerKeyCreate(_Request):
    name: Text200
    scopes: list[PartnerScope] = Field(min_length=1)


class ApiKeyPublic(ApiKeyBase):
    publisher: str


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The secret: shown only in this response.")


class PartnerKeyPublic(ApiKeyBase):
    partner: str


class PartnerKeyCreated(PartnerKeyPublic):
    key: str = Field(description="The secret: shown only in this response.")


# Reviews


class ClaimReview(Row, table=True):
    __tablename__ = "claim_review"
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
        Index("ix_claim_review_kind_published", "kind", "status", "published_at", "pk"),
    )

    # The integer key orders reviews, anchors keyset cursors and is the SQLite full-text rowid;
    # ``id`` is the public, unguessable token.
    pk: int = _serial()
    id: str = Field(sa_type=String(32), unique=True)
    publisher_id: int = _reference("publisher.id", ondelete="RESTRICT")
    publisher: Publisher = Relationship()
    external_id: str | None = Field(default=None, sa_type=String(200))
    # "claim" (a ClaimReview) or "media" (a MediaReview): filters and facets tell them apart.
    kind: str = Field(
        default="claim", sa_type=String(16), sa_column_kwargs={"server_default": "claim"}
    )
    status: str = Field(sa_type=String(16))
    url: str = Field(sa_type=String(2048))
    # The article URL without its #anchor: several reviews of one article share it.
    article_url: str = Field(sa_type=String(2048))
    language: str | None = Field(default=None, sa_type=String(35))
    verdict: str = Field(sa_type=String(32))
    verdict_dictionary_version: str = Field(sa_type=String(32))
    date_published: str | None = Field(default=None, sa_type=String(40))
    # date_published as a moment (midnight UTC for a date), else the creation time: sorts,
    # filters and anchors the default "newest first" order.
    published_at: datetime = Field(sa_type=Moment)
    # Folded (case, accents, punctuation) for filters that ignore spelling details.
    label_key: str | None = Field(default=None, sa_type=String(500))
    claimant_name: str | None = Field(default=None, sa_type=String(500))
    claimant_key: str | None = Field(default=None, sa_type=String(500))
    # Folded claim, headline, claimant and tags: what full-text search matches (migration 0001
    # indexes it with FTS5 on SQLite and a generated tsvector + GIN on PostgreSQL).
    search_text: str = Field(sa_type=Text)
    document: dict[str, Any] = Field(sa_type=JSON)
    findings: list[dict[str, Any]] = Field(sa_type=JSON, sa_column_kwargs={"default": list})
    jsonld: bytes
    native: bytes
    version: int
    created_at: datetime = Field(sa_type=Moment)
    updated_at: datetime = Field(sa_type=Moment)
    retracted_at: datetime | None = Field(default=None, sa_type=Moment)


class ReviewTag(Row, table=True):
    """Folded tags, one row each, so ``tag=`` filters by index."""

    __tablename__ = "review_tag"
    __table_args__ = (Index(None, "tag_key", "review_pk"),)

    review_pk: int = Field(
        foreign_key="claim_review.pk", ondelete="CASCADE", primary_key=True, sa_type=BigId
    )
    tag_key: str = Field(sa_type=String(500), primary_key=True)


class Bucket(Row):
    """What the facet totals count reviews by, and how many (or, in a delta, +1 or -1)."""

    status: str = Field(sa_type=String(16))
    publisher_id: int = Field(sa_type=BigId)
    language: str = Field(sa_type=String(35))
    verdict: str = Field(sa_type=String(32))
    n: int


class FacetDelta(Bucket, table=True):
    """A change to the numbers of reviews per (status, publisher, language, verdict, claimant):
    +1 for the bucket a review enters, -1 for the one it leaves. Written by triggers on
    ``claim_review`` (migration 0003) in the review's own transaction; ``facet_counts.fold``
    moves them into the two totals below.

    Writers only ever append here. Counting into one row per bucket directly would make every
    writer of a bucket wait for the previous one's commit on PostgreSQL (the row lock), and a
    slow transaction would hold up every other write of its publisher.
    """

    __tablename__ = "facet_delta"

    id: int = _serial()
    # '' for no claimant, as for no language: the totals' primary keys cannot hold NULL.
    claimant_key: str = Field(sa_type=String(500))


class ReviewCount(Bucket, table=True):
    """Reviews per (status, publisher, language, verdict): the total and three of the facets
    of ``GET /v1/facets`` read a few hundred rows here instead of counting a million reviews."""

    __tablename__ = "review_count"
    __table_args__ = (
        PrimaryKeyConstraint("status", "publisher_id", "language", "verdict"),
        {"sqlite_with_rowid": False},
    )


class ClaimantCount(Bucket, table=True):
    """Reviews per claimant and the other dimensions, for the claimant facet. The key starts
    with (status, claimant_key) so the unfiltered facet is one ordered scan of the key."""

    __tablename__ = "claimant_count"
    __table_args__ = (
        PrimaryKeyConstraint("status", "claimant_key", "publisher_id", "language", "verdict"),
        {"sqlite_with_rowid": False},
    )

    claimant_key: str = Field(sa_type=String(500))


class ReviewRevision(Row, table=True):
    """Immutable history: one row per version of a review, a full snapshot of what was stored."""

    __tablename__ = "review_revision"
    __table_args__ = (UniqueConstraint("review_id", "version"),)

    id: int = _serial()
    review_id: str = Field(foreign_key="claim_review.id", ondelete="CASCADE", sa_type=String(32))
    version: int
    kind: str = Field(sa_type=String(16))
    status: str = Field(sa_type=String(16))
    document: dict[str, Any] = Field(sa_type=JSON)
    jsonld: bytes
    # The markup this version was read from, as it arrived (``reviews.markup_source``): the
    # normaliser repairs what it reads, and an editor must still see what the markup said.
    # NULL for native JSON, which is stored as written.
    source: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    actor: str = Field(sa_type=String(100))
    created_at: datetime = Field(sa_type=Moment)


class OutboxEvent(Row, table=True):
    """Change events written in the same transaction as the change (a transactional outbox):
    the change feed reads them in order and the webhook dispatcher fans them out."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        Index(None, "review_id"),
        Index("ix_outbox_event_order", "txid", "id"),
        Index("ix_outbox_event_dispatched_at", "dispatched_at", "id"),
    )

    id: int = _serial()
    # PostgreSQL: the writing transaction's id. Ids are handed out before commit, so commit
    # order differs from id order; the feed orders by (txid, id) and only reads transactions
    # older than every running one (query.feed_events). SQLite commits one writer at a time: NULL.
    # No default here: a row made without it leaves the column to the database.
    txid: int | None = Field(
        sa_type=BigInteger, sa_column_kwargs={"server_default": FetchedValue()}
    )
    review_id: str = Field(sa_type=String(32))
    publisher_id: int = Field(sa_type=BigId)
    type: str = Field(sa_type=String(32))
    version: int
    created_at: datetime = Field(sa_type=Moment)
    # Set once the webhook dispatcher has created this event's deliveries.
    dispatched_at: datetime | None = Field(default=None, sa_type=Moment)


# Images


class Image(Row, table=True):
    """An image some review names, by URL, fetched once whatever the number of reviews naming it.
    A row is written ``pending`` in the same transaction as the review (an outbox): the image
    worker fetches it later, never during the write, and stores its perceptual hashes.
    ``band0``..``band3`` are the four 16-bit bands of the pHash, each indexed: a hash within
    Hamming distance d of a query shares a band within d // 4 bits (multi-index hashing)."""

    __tablename__ = "image"
    __table_args__ = (
        Index("ix_image_due", "status", "next_attempt_at"),
        Index(None, "band0"),
        Index(None, "band1"),
        Index(None, "band2"),
        Index(None, "band3"),
    )

    id: int = _serial()
    # SHA-256 of the URL, hex: unique where a 2048-character URL could not be (index row sizes).
    url_key: str = Field(sa_type=String(64), unique=True)
    url: str = Field(sa_type=String(2048))
    status: str = Field(sa_type=String(16))  # pending | hashed | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=Moment)
    # A worker that claims an image owns it until then; a crash lets another take over.
    locked_until: datetime | None = Field(default=None, sa_type=Moment)
    last_error: str | None = Field(default=None, sa_type=String(1000))
    content_type: str | None = Field(default=None, sa_type=String(100))
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    # 64-bit hashes as signed bigints (``perceptual.signed``), and which algorithm made them.
    phash: int | None = Field(default=None, sa_type=BigInteger)
    dhash: int | None = Field(default=None, sa_type=BigInteger)
    hash_version: str | None = Field(default=None, sa_type=String(32))
    band0: int | None = None
    band1: int | None = None
    band2: int | None = None
    band3: int | None = None
    fetched_at: datetime | None = Field(default=None, sa_type=Moment)
    created_at: datetime = Field(sa_type=Moment)


class ReviewImage(Row, table=True):
    """Which images a review names, and where (``place``: the native path, such as
    ``rating.image`` or ``claim.appearances[0].image``). Rewritten with every version."""

    __tablename__ = "review_image"
    __table_args__ = (
        PrimaryKeyConstraint("review_pk", "place"),
        Index(None, "image_id"),
    )

    review_pk: int = _reference("claim_review.pk", ondelete="CASCADE")
    place: str = Field(sa_type=String(200))
    image_id: int = _reference("image.id", ondelete="CASCADE")


class ReviewImagePublic(SQLModel):
    """An image a review names, its fetch state and, once fetched, its hashes."""

    place: str = Field(description="Where the review names it, e.g. `rating.image`.")
    url: str
    status: Literal["pending", "hashed", "failed"]
    attempts: int = Field(description="Fetches made so far.")
    last_error: str | None = Field(description="Why the last fetch failed.")
    next_attempt_at: Timestamp | None = Field(description="When the next fetch is due (pending).")
    content_type: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    phash: str | None = Field(description="64-bit pHash: 16 hex digits, unsigned.")
    dhash: str | None = Field(description="64-bit dHash: 16 hex digits, unsigned.")
    hash_version: str | None = Field(description="The algorithm that made the hashes.")
    fetched_at: Timestamp | None = Field(description="When the hashes were made.")

    @field_validator("next_attempt_at")
    @classmethod
    def _only_while_pending(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return value if info.data.get("status") == "pending" else None

    @field_validator("phash", "dhash", mode="before")
    @classmethod
    def _hex(cls, value: int | str | None) -> str | None:
        return f"{perceptual.unsigned(value):016x}" if isinstance(value, int) else value


# Webhooks

EventType = Literal["review.published", "review.updated", "review.retracted"]
ALL_EVENTS: list[EventType] = list(get_args(EventType))


def _known_verdict(value: str) -> str:
    if value not in verdicts.VOCABULARY:
        raise ValueError(f"must be one of: {', '.join(verdicts.VOCABULARY)}")
    return value


def _unique(events: list[EventType]) -> list[EventType]:
    return list(dict.fromkeys(events))


Verdict = Annotated[
    str,
    AfterValidator(_known_verdict),
    WithJsonSchema({"type": "string", "enum": list(verdicts.VOCABULARY)}),
]


class Webhook(Row, table=True):
    """A subscription: events of some types, optionally filtered, POSTed signed. Owned by a
    publisher, a partner, or (neither) the platform; the owner only decides who may see and
    change it, never what it receives."""

    __table_args__ = (
        Index(None, "publisher_id"),
        Index(None, "partner_id"),
        CheckConstraint("publisher_id IS NULL OR partner_id IS NULL", name="one_owner"),
    )

    id: str = Field(sa_type=String(32), primary_key=True)
    publisher_id: int | None = _reference("publisher.id", ondelete="CASCADE")
    partner_id: int | None = _reference("partner.id", ondelete="CASCADE")
    url: str = Field(sa_type=String(2048))
    # Kept as given: it keys the HMAC every delivery is signed with. Never returned by the API.
    secret: str = Field(sa_type=Secret(500), repr=False)
    events: list[str] = Field(sa_type=JSON)
    filters: dict[str, Any] = Field(sa_type=JSON)
    status: str = Field(sa_type=String(16))  # active | failing
    created_at: datetime = Field(sa_type=Moment)
    deleted_at: datetime | None = Field(default=None, sa_type=Moment)


class WebhookFilters(BaseModel):
    """Only events of reviews matching every given filter are sent."""

    model_config = ConfigDict(extra="forbid")

    publisher: Slug | None = None
    language: LanguageTag | None = Field(
        default=None, description="Matches the tag and its subtags: 'pt' matches 'pt-BR'."
    )
    verdict: Verdict | None = None
    kind: Literal["claim", "media"] | None = Field(
        default=None, description="ClaimReviews only ('claim') or MediaReviews only ('media')."
    )


class WebhookCreate(SQLModel):
    model_config = {"extra": "forbid"}

    url: Url = Field(description="http(s); must resolve to a public address.")
    secret: Annotated[str, StringConstraints(min_length=16, max_length=500), NoNul] = Field(
        description="Keys the HMAC-SHA256 signature of every delivery. Never shown again."
    )
    events: Annotated[list[EventType], AfterValidator(_unique)] = Field(
        default_factory=lambda: list(ALL_EVENTS), min_length=1, max_length=10
    )
    filters: WebhookFilters = Field(default_factory=WebhookFilters)
    publisher: Slug | None = Field(
        default=None,
        description=(
            "The owning publisher. Default: the key's publisher or partner; for the admin, "
            "the platform. Only the admin names another publisher."
        ),
    )


class WebhookPublic(SQLModel):
    id: str
    publisher: str | None = Field(description="The owning publisher, if a publisher owns it.")
    partner: str | None = Field(description="The owning partner, if a partner owns it.")
    url: str
    events: list[str]
    filters: dict[str, str]
    status: Literal["active", "failing"]
    created_at: Timestamp


class WebhookDelivery(Row, table=True):
    """One event for one subscription: attempted until delivered or out of retries."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: int = _serial()
    webhook_id: str = Field(foreign_key="webhook.id", ondelete="CASCADE", sa_type=String(32))
    event_id: int = _reference("outbox_event.id", ondelete="CASCADE")
    status: str = Field(sa_type=String(16))  # pending | delivered | failed
    attempts: int
    next_attempt_at: datetime = Field(sa_type=Moment)
    # A dispatcher that claims a delivery owns it until then; a crash lets another take over.
    locked_until: datetime | None = Field(default=None, sa_type=Moment)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=String(1000))
    last_response: str | None = Field(default=None, sa_type=String(2000))
    created_at: datetime = Field(sa_type=Moment)
    delivered_at: datetime | None = Field(default=None, sa_type=Moment)


class WebhookDeliveryPublic(SQLModel):
    # Ids are strings in every answer; the delivery's and its event's are integers here.
    model_config = {"coerce_numbers_to_str": True}

    id: str
    event_id: str = Field(description="Sent as X-ClaimReview-Delivery; the same on every attempt.")
    event_type: str
    review_id: str
    version: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_response: str | None = Field(description="The start of the receiver's last answer.")
    created_at: Timestamp
    next_attempt_at: Timestamp | None = Field(description="When the next attempt is due (pending).")
    delivered_at: Timestamp | None

    @field_validator("next_attempt_at")
    @classmethod
    def _only_while_pending(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return value if info.data.get("status") == "pending" else None


# Idempotency


class IdempotencyRecord(Row, table=True):
    """The first response to a request sent with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: int = _serial()
    principal: str = Field(sa_type=String(64))
    key: str = Field(sa_type=String(255))
    request_hash: str = Field(sa_type=String(64))
    status_code: int
    headers: dict[str, Any] = Field(sa_type=JSON)
    body: bytes
    created_at: datetime = Field(sa_type=Moment)
