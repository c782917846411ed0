"""The ORM's statements: every query and write made through a SQLAlchemy session, for the
routes, the CLI and the service modules (``reviews``, ``importer``, ``idempotency``), as
keyword-only verbs.

SQL that needs another shape lives with what needs it:

- ``query.py`` builds the SQL text of every listing (lists, search, facets, the change feed,
  exports, Google's search and pages) for each dialect. ``reads.py`` runs it, and the
  lookup of a review by id, on the event loop with the drivers' own async connections: ORM
  loading and a thread-pool hop cost more than those reads. The pages API's writes and the CLI
  export run the same text on a session's connection.
- ``services/webhooks/`` keeps the delivery queue: fanning events out and leasing deliveries
  (``SKIP LOCKED`` on PostgreSQL), in transactions of the dispatcher's own.
- ``services/images/queue.py`` keeps the image queue: leasing due images, recording fetches, in
  transactions of the image worker's own. The images a write names are queued here, with it.
- ``facet_counts.py`` folds the facet deltas (dialect-specific upserts, an advisory lock).
- ``migrations/`` holds the DDL and the triggers; ``engine.py`` the SQLite pragmas.

Transactions: whoever opens a session owns its transaction, and nothing else ends it. A
request's is opened by ``engine.get_session``, which commits on success and rolls back on error
(a route may roll it back to answer from a clean slate after losing a race, as
``create_review`` does). The pages API's writes, the CLI's commands, the webhook dispatcher
and the facet folding open theirs with ``sessionmaker.begin()``; read-only sessions (the
loop-side routes' authentication and page reads) just close. Everything handed a session, this
module included, only flushes (to get what the database assigns) and undoes part of its work
with savepoints (``begin_nested``). An import is one transaction per batch by design: its
caller, the route or the CLI, passes ``importer.upsert`` the session's ``commit``.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Dialect,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import UserDefinedType
from sqlmodel import col

from app.core.review_images import image_places
from app.db.tables import (
    ApiKey,
    ClaimReview,
    IdempotencyRecord,
    Image,
    OutboxEvent,
    Partner,
    Publisher,
    ReviewImage,
    ReviewRevision,
    ReviewTag,
    Row,
)

# Publishers


def get_publisher(*, session: Session, slug: str) -> Publisher | None:
    return session.scalar(select(Publisher).where(col(Publisher.slug) == slug))


def get_publisher_by_id(*, session: Session, publisher_id: int) -> Publisher | None:
    return session.get(Publisher, publisher_id)


def list_publishers(*, session: Session) -> Sequence[Publisher]:
    return session.scalars(select(Publisher).order_by(col(Publisher.slug))).all()


def list_publisher_slugs(*, session: Session) -> Sequence[str]:
    return session.scalars(select(col(Publisher.slug))).all()


def get_partner(*, session: Session, slug: str) -> Partner | None:
    return session.scalar(select(Partner).where(col(Partner.slug) == slug))


def get_partner_by_id(*, session: Session, partner_id: int) -> Partner | None:
    return session.get(Partner, partner_id)


def list_partners(*, session: Session) -> Sequence[Partner]:
    return session.scalars(select(Partner).order_by(col(Partner.slug))).all()


def add(*, session: Session, row: object) -> None:
    session.add(row)
    session.flush()


# Keys


def get_key(*, session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_keys(
    *, session: Session, publisher_id: int | None = None, partner_id: int | None = None
) -> Sequence[ApiKey]:
    """One publisher's keys, or one partner's."""
    owner = (
        col(ApiKey.partner_id) == partner_id
        if publisher_id is None
        else col(ApiKey.publisher_id) == publisher_id
    )
    return session.scalars(select(ApiKey).where(owner).order_by(col(ApiKey.created_at))).all()


# Reviews


def get_review(*, session: Session, review_id: str, for_update: bool = False) -> ClaimReview | None:
    query = select(ClaimReview).where(col(ClaimReview.id) == review_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def get_review_by_external_id(
    *, session: Session, publisher_id: int, external_id: str, for_update: bool = False
) -> ClaimReview | None:
    query = select(ClaimReview).where(
        col(ClaimReview.publisher_id) == publisher_id, col(ClaimReview.external_id) == external_id
    )
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def list_unretracted_reviews(*, session: Session, publisher_id: int) -> Sequence[ClaimReview]:
    """A publisher's drafts and published reviews: what changes when the publisher does."""
    query = select(ClaimReview).where(
        col(ClaimReview.publisher_id) == publisher_id, col(ClaimReview.status) != "retracted"
    )
    return session.scalars(query).all()


def lock_reviews(
    *, session: Session, external_ids: Mapping[int, Iterable[str]], ids: Iterable[str]
) -> Sequence[ClaimReview]:
    """The reviews with these ``external_ids`` (by publisher id) or these ids, locked for the
    rest of the transaction: one query for an import's whole batch."""
    conditions = [
        and_(
            col(ClaimReview.publisher_id) == publisher_id,
            col(ClaimReview.external_id).in_(sorted(keys)),
        )
        for publisher_id, keys in external_ids.items()
    ]
    if ids:
        conditions.append(col(ClaimReview.id).in_(sorted(ids)))
    if not conditions:
        return []
    return session.scalars(select(ClaimReview).where(or_(*conditions)).with_for_update()).all()


def insert_reviews(
    *,
    session: Session,
    reviews: Sequence[dict[str, Any]],
    revisions: Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
    tags: Mapping[str, Sequence[str]],
    images: Mapping[str, Sequence[tuple[str, str]]],
) -> None:
    """New reviews (column values; ``tags`` and ``images``, as ``(place, url)``, by review id)
    with their revisions, outbox events, tag rows and queued images: one multi-row INSERT per
    table, where the ORM would flush row by row.

    A JSON column's value may be given encoded already, as ``JsonText``."""
    table = _encoded_json_table(ClaimReview)
    created = session.execute(insert(table).returning(table.c.id, table.c.pk), reviews)
    pks: dict[str, int] = {review_id: pk for review_id, pk in created}
    session.execute(insert(_encoded_json_table(ReviewRevision)), revisions)
    if events:
        session.execute(insert(_table(OutboxEvent)), events)
    rows = [
        {"review_pk": pks[review_id], "tag_key": key}
        for review_id, keys in tags.items()
        for key in keys
    ]
    if rows:
        session.execute(insert(_table(ReviewTag)), rows)
    _link_images(
        session,
        [
            (pks[review_id], place, url)
            for review_id, places in images.items()
            for place, url in places
        ],
    )


def _table(model: type[Row]) -> Table:
    """A model's Core table: inserting into it skips the ORM's per-row bookkeeping."""
    return model.__table__


class JsonText(str):
    """A JSON column's value encoded already, exactly as the JSON type would encode it: an
    import's worker processes encode their rows, so that the writing process does not."""

    @classmethod
    def of(cls, value: Any) -> "JsonText":
        return cls(json.dumps(value))


class _JsonAsText(UserDefinedType[Any]):
    """A JSON column bound as text: ``JsonText`` as it is, anything else encoded the way the
    JSON type does (``json.dumps``, on SQLite and by psycopg alike), so the stored text is the
    same. PostgreSQL casts the text, sent untyped, to the column's ``json``. ``None`` is SQL
    NULL, as the ORM writes it for the nullable column (``none_as_null``)."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "JSON"

    def bind_processor(self, dialect: Dialect) -> Any:
        return _json_text


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, JsonText):
        return value
    return json.dumps(value)


@cache
def _encoded_json_table(model: type[Row]) -> Table:
    """A model's Core table, for INSERTs only, whose JSON columns take ``JsonText``."""
    table = _table(model).to_metadata(MetaData())
    for column in table.columns:
        if isinstance(column.type, JSON):
            column.type = _JsonAsText()
    return table


def list_revisions(*, session: Session, review_id: str) -> Sequence[ReviewRevision]:
    query = (
        select(ReviewRevision)
        .where(col(ReviewRevision.review_id) == review_id)
        .order_by(col(ReviewRevision.version))
    )
    return session.scalars(query).all()


def get_revision(*, session: Session, review_id: str, version: int) -> ReviewRevision | None:
    query = select(ReviewRevision).where(
        col(ReviewRevision.review_id) == review_id, col(ReviewRevision.version) == version
    )
    return session.scalar(query)


# Images


def image_url_key(url: str) -> str:
    """An image's unique key: the SHA-256 of its URL, in hex."""
    return hashlib.sha256(url.encode()).hexdigest()


def replace_review_images(
    *, session: Session, review_pk: int, places: Sequence[tuple[str, str]], fresh: bool = False
) -> None:
    """Make a review's ``review_image`` rows its ``(place, url)`` pairs, queueing the images not
    known yet (``fresh``: a new review, with no rows to remove)."""
    if not fresh:
        session.execute(delete(ReviewImage).where(col(ReviewImage.review_pk) == review_pk))
    _link_images(session, [(review_pk, place, url) for place, url in places])


def link_unlinked_images(*, session: Session, after_pk: int, limit: int) -> tuple[int, int]:
    """Queue the images of up to ``limit`` stored reviews after ``after_pk`` that have none
    linked (written before migration 0009, or restored from a dump without them); the last pk
    read (the next call's ``after_pk``; ``after_pk`` itself when none is left) and how many
    image places were linked."""
    linked = select(col(ReviewImage.review_pk)).where(
        col(ReviewImage.review_pk) == col(ClaimReview.pk)
    )
    rows = session.execute(
        select(col(ClaimReview.pk), col(ClaimReview.document))
        .where(col(ClaimReview.pk) > after_pk, col(ClaimReview.status) != "retracted")
        .where(~linked.exists())
        .order_by(col(ClaimReview.pk))
        .limit(limit)
    ).all()
    links = [(pk, place, url) for pk, document in rows for place, url in image_places(document)]
    _link_images(session, links)
    return (rows[-1].pk if rows else after_pk), len(links)


def list_review_images(*, session: Session, review_pk: int) -> Sequence[tuple[str, Image]]:
    """A review's images with the place each is named at."""
    query = (
        select(col(ReviewImage.place), Image)
        .join(Image, col(Image.id) == col(ReviewImage.image_id))
        .where(col(ReviewImage.review_pk) == review_pk)
    )
    return [(place, image) for place, image in session.execute(query)]


# Each (review_pk, place, url_key) links a review to its image, found by key: no id travels
# back to Python, so a batch costs two statements whatever its size.
_LINK_IMAGE = insert(_table(ReviewImage)).from_select(
    ["review_pk", "place", "image_id"],
    select(
        cast(bindparam("review_pk"), BigInteger),
        cast(bindparam("place"), String),
        col(Image.id),
    ).where(col(Image.url_key) == bindparam("url_key")),
)


def _link_images(session: Session, links: Sequence[tuple[int, str, str]]) -> None:
    """Queue each URL as a ``pending`` image unless some review named it already, then link.
    An image that ran out of attempts is queued again: writing a review that names it is the
    editor's way of saying "try again" (the server may be back, the URL may work now)."""
    if not links:
        return
    now = datetime.now(UTC)
    # In key order: two transactions queueing the same new URLs wait for each other's rows
    # (PostgreSQL) in one order, never in a deadlock.
    keys = sorted({image_url_key(url): url for _, _, url in links}.items())
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    queue = dialect.insert(_table(Image)).on_conflict_do_nothing(index_elements=["url_key"])
    session.execute(
        queue,
        [
            {
                "url_key": key,
                "url": url,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for key, url in keys
        ],
    )
    # A statement of its own rather than ON CONFLICT DO UPDATE: that would lock every image
    # already known (a publisher's rating badge, named by each of its reviews) until commit and
    # make concurrent writers wait; this UPDATE locks only the failed ones it changes.
    session.execute(
        update(_table(Image))
        .where(col(Image.url_key).in_([key for key, _ in keys]), col(Image.status) == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now, locked_until=None)
    )
    session.execute(
        _LINK_IMAGE,
        [
            {"review_pk": review_pk, "place": place, "url_key": image_url_key(url)}
            for review_pk, place, url in links
        ],
    )


# Idempotency


def get_idempotency_record(
    *, session: Session, principal: str, key: str, newer_than: datetime
) -> IdempotencyRecord | None:
    query = select(IdempotencyRecord).where(
        col(IdempotencyRecord.principal) == principal,
        col(IdempotencyRecord.key) == key,
        col(IdempotencyRecord.created_at) > newer_than,
    )
    return session.scalar(query)


def delete_expired_idempotency_record(
    *, session: Session, principal: str, key: str, older_than: datetime
) -> None:
    session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.principal) == principal,
            col(IdempotencyRecord.key) == key,
            col(IdempotencyRecord.created_at) <= older_than,
        )
    )


def replace_tags(*, session: Session, review_pk: int, tag_keys: set[str]) -> None:
    session.execute(delete(ReviewTag).where(col(ReviewTag.review_pk) == review_pk))
    if tag_keys:
        session.execute(
            insert(ReviewTag),
            [{"review_pk": review_pk, "tag_key": key} for key in sorted(tag_keys)],
        )
