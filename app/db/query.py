"""The one query builder: every listing of reviews (the list endpoint, facets, and the exports,
feed and Google-compatible search built on them) describes what it wants as a ``ReviewFilter``
and gets its SQL from here, for SQLite or PostgreSQL. Search by image (``image_matches``) is
one more listing: the same filters, applied to the reviews whose images are near the query's.

Plain SQL strings rather than SQLAlchemy statements: the list endpoint runs on the event loop
through ``stored_reads`` (one query, no ORM, no thread hop), and compiling a SQLAlchemy
statement per request would cost more than running it.

Keyset paging: results are ordered by a sort key and the integer ``pk``; a cursor carries the
last row's pair, so rows inserted while a client pages are never shown twice and never push an
existing row past the client. Search by image orders by (distance, ``pk``) the same way.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from app.db.image_search import ImageQuery, near_images

Dialect = Literal["sqlite", "postgresql"]
Sort = Literal["newest", "oldest", "relevance"]
Facet = Literal["publisher", "verdict", "language", "claimant"]

_FACET_COLUMNS: dict[Facet, str] = {
    "publisher": "r.publisher_id",
    "verdict": "r.verdict",
    "language": "r.language",
    "claimant": "r.claimant_key",
}

# Filters the facet totals cannot answer (app/db/facet_counts.py keeps them by status, publisher,
# language, verdict and claimant only): with any of these set, facets count the matching rows.
_UNCOUNTED = (
    "kind",
    "label_key",
    "tag_key",
    "article_url",
    "published_since",
    "published_before",
    "updated_since",
    "search",
)


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    """What to select. Text values are already folded (app.core.textfold) where the column is."""

    statuses: tuple[str, ...] = ("published",)
    # "claim" (ClaimReviews) or "media" (MediaReviews); None: both.
    kind: str | None = None
    publisher_ids: tuple[int, ...] | None = None
    publisher_slug: str | None = None
    language: str | None = None
    verdict: str | None = None
    label_key: str | None = None
    claimant_key: str | None = None
    tag_key: str | None = None
    article_url: str | None = None
    published_since: datetime | None = None
    published_before: datetime | None = None
    updated_since: datetime | None = None
    search: str | None = None


@dataclass(slots=True)
class _Sql:
    dialect: Dialect
    params: list[Any] = field(default_factory=list)

    def param(self, value: Any) -> str:
        if isinstance(value, datetime) and self.dialect == "sqlite":
            # SQLAlchemy stores SQLite datetimes as naive UTC text in exactly this form.
            value = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        self.params.append(value)
        return "?" if self.dialect == "sqlite" else "%s"

    def params_of(self, values: tuple[Any, ...]) -> str:
        return ", ".join(self.param(value) for value in values)


def _from_and_where(
    sql: _Sql, review_filter: ReviewFilter, *, table: str = "claim_review", hits: str | None = None
) -> tuple[str, list[str]]:
    """The FROM clause (with the full-text match when searching) and the WHERE conditions.
    ``table`` is another table with the filtered columns (the facet totals), read as ``r``.
    ``hits``: a FROM item ``h`` with a ``review_pk`` column that drives the query (the reviews an
    image search found, a few): each is looked up and filtered, never the other way round."""
    # Placeholders are positional: add each condition right after creating its parameters.
    conditions = []
    source = f"{table} r"
    if hits is not None:
        # SQLite's CROSS JOIN fixes the join order; PostgreSQL plans a few hits right anyway.
        join = "CROSS JOIN" if sql.dialect == "sqlite" else "JOIN"
        source = f"{hits} {join} claim_review r ON r.pk = h.review_pk"
    if review_filter.search is not None:
        if sql.dialect == "sqlite" and hits is not None:
            source += " CROSS JOIN review_fts f ON f.rowid = r.pk"
        elif sql.dialect == "sqlite":
            # CROSS JOIN makes SQLite loop over the matches and look each review up, never
            # the other way round: probing the index for every review of a publisher (in
            # date order, to skip the sort) cost ten times more. The lookups read migration
            # 0004's narrow index, not the table's wide rows.
            source = (
                "review_fts f CROSS JOIN claim_review r"
                " INDEXED BY ix_claim_review_search_filters ON r.pk = f.rowid"
            )
        else:
            source += (
                f" CROSS JOIN websearch_to_tsquery('simple', {sql.param(review_filter.search)})"
                " AS query"
            )
        if sql.dialect == "sqlite":
            conditions.append(f"review_fts MATCH {sql.param(_fts5_query(review_filter.search))}")
        else:
            conditions.append("r.search_vector @@ query")
    conditions.append(f"r.status IN ({sql.params_of(review_filter.statuses)})")
    if review_filter.publisher_ids is not None:
        ids = review_filter.publisher_ids or (-1,)
        conditions.append(f"r.publisher_id IN ({sql.params_of(ids)})")
    if review_filter.publisher_slug is not None:
        slug = sql.param(review_filter.publisher_slug)
        conditions.append(f"r.publisher_id = (SELECT id FROM publisher WHERE slug = {slug})")
    if review_filter.language is not None:
        indexed = table == "claim_review"
        conditions.append(_language_condition(sql, review_filter.language, indexed=indexed))
    equal = (
        ("r.kind", review_filter.kind),
        ("r.verdict", review_filter.verdict),
        ("r.label_key", review_filter.label_key),
        ("r.claimant_key", review_filter.claimant_key),
        ("r.article_url", review_filter.article_url),
    )
    conditions.extend(f"{column} = {sql.param(value)}" for column, value in equal if value)
    if review_filter.tag_key is not None:
        conditions.append(
            "EXISTS (SELECT 1 FROM review_tag t WHERE t.review_pk = r.pk"
            f" AND t.tag_key = {sql.param(review_filter.tag_key)})"
        )
    bounds = (
        ("r.published_at >=", review_filter.published_since),
        ("r.published_at <", review_filter.published_before),
        ("r.updated_at >=", review_filter.updated_since),
    )
    conditions.extend(f"{column} {sql.param(value)}" for column, value in bounds if value)
    return source, conditions


# The primary subtag of r.language ("pt" of "pt-BR"), written exactly as migration 0004
# indexes it: an index on an expression serves only queries that repeat the expression.
LANGUAGE_BASE: dict[Dialect, str] = {
    "sqlite": "substr({column}, 1, instr({column} || '-', '-') - 1)",
    "postgresql": "split_part({column}, '-', 1)",
}


def _language_condition(sql: _Sql, language: str, *, indexed: bool) -> str:
    """A bare language matches it and every regional variant ("pt": pt, pt-BR, pt-PT), a
    regional one itself and its own variants. ``indexed``: through the index on the primary
    subtag, since "language = 'pt' OR language LIKE 'pt-%'" is two ranges, which neither engine
    can read in date order; the facet totals, which are scanned, compare more cheaply without."""
    base, _, region = language.partition("-")
    subtag = ""
    if indexed:
        subtag = f"{LANGUAGE_BASE[sql.dialect].format(column='r.language')} = {sql.param(base)}"
        if not region:  # the subtag says it all
            return subtag
        subtag += " AND "
    return (
        f"{subtag}(r.language = {sql.param(language)}"
        f" OR r.language LIKE {sql.param(language + '-%')})"
    )


def _fts5_query(words: str) -> str:
    # Every folded word as a quoted FTS5 string: all must match; no operator can be injected.
    return " ".join('"' + word.replace('"', '""') + '"' for word in words.split())


def rank_expression(dialect: Dialect) -> str:
    """Lower is more relevant on both engines (FTS5 bm25 is negative; ts_rank is negated).

    ts_rank is a float4, which psycopg rounds when reading; as float8 the value in a cursor
    compares exactly equal to the row it came from.
    """
    return "f.rank" if dialect == "sqlite" else "(-ts_rank(r.search_vector, query))::float8"


def list_reviews(
    review_filter: ReviewFilter,
    *,
    dialect: Dialect,
    sort: Sort,
    after: tuple[Any, int] | None,
    limit: int,
    body_column: Literal["native", "jsonld"],
) -> tuple[str, list[Any]]:
    """SQL answering rows ``(pk, sort_key, body)``; ``after`` is the last row's ``(key, pk)``."""
    sql = _Sql(dialect)
    source, conditions = _from_and_where(sql, review_filter)
    key = rank_expression(dialect) if sort == "relevance" else "r.published_at"
    descending = sort == "newest"
    if after is not None:
        operator = "<" if descending else ">"
        key_param, pk_param = sql.param(after[0]), sql.param(after[1])
        conditions.append(f"({key}, r.pk) {operator} ({key_param}, {pk_param})")
    direction = "DESC" if descending else "ASC"
    where = " AND ".join(conditions)
    order = f"ORDER BY {key} {direction}, r.pk {direction} LIMIT {sql.param(limit)}"
    if review_filter.search is None:
        # An index gives the rows in order: the first ``limit`` are read, bodies and all.
        return (
            f"SELECT r.pk, {key}, r.{body_column} FROM {source} WHERE {where} {order}",
            sql.params,
        )
    # Matches are sorted: sort their keys alone, then read the page's bodies. Sorting with the
    # bodies read every match's (SQLite follows each row's overflow pages to reach them).
    statement = (
        f"WITH page AS (SELECT r.pk, {key} AS sort_key FROM {source} WHERE {where} {order})"
        f" SELECT p.pk, p.sort_key, r.{body_column} FROM page p"
        f" JOIN claim_review r ON r.pk = p.pk ORDER BY p.sort_key {direction}, p.pk {direction}"
    )
    return statement, sql.params


def image_matches(
    review_filter: ReviewFilter,
    image: ImageQuery,
    *,
    dialect: Dialect,
    after: tuple[int, int] | None,
    limit: int,
    body_column: Literal["native", "jsonld"],
) -> tuple[str, list[Any]]:
    """Search by image: SQL answering the first ``limit`` reviews that pass the filter and name
    an image near the query image (app/db/image_search.py), nearest first: a review is as near
    as its nearest image, by the sum of its pHash and dHash distances, then by ``pk``;
    ``after`` is the last review's ``(distance, pk)``. One row per matching image of each
    review: ``(pk, distance, body, place, url, phash_distance, dhash_distance)``, a review's
    images nearest first."""
    sql = _Sql(dialect)
    near = near_images(image, dialect=dialect, param=sql.param)
    hits = (
        "(SELECT ri.review_pk, MIN(n.phash_distance + n.dhash_distance) AS distance"
        " FROM near n JOIN review_image ri ON ri.image_id = n.image_id GROUP BY ri.review_pk) h"
    )
    source, conditions = _from_and_where(sql, review_filter, hits=hits)
    if after is not None:
        distance_param, pk_param = sql.param(after[0]), sql.param(after[1])
        conditions.append(f"(h.distance, r.pk) > ({distance_param}, {pk_param})")
    page = (
        f"SELECT r.pk, h.distance FROM {source} WHERE {' AND '.join(conditions)}"
        f" ORDER BY h.distance, r.pk LIMIT {sql.param(limit)}"
    )
    statement = (
        f"WITH near AS ({near}), page AS ({page})"
        f" SELECT p.pk, p.distance, r.{body_column}, ri.place, n.url, n.phash_distance,"
        " n.dhash_distance FROM page p JOIN claim_review r ON r.pk = p.pk"
        " JOIN review_image ri ON ri.review_pk = p.pk JOIN near n ON n.image_id = ri.image_id"
        " ORDER BY p.distance, p.pk, n.phash_distance + n.dhash_distance, ri.place"
    )
    return statement, sql.params


def count_facet(
    review_filter: ReviewFilter, *, dialect: Dialect, facet: Facet, top: int
) -> tuple[str, list[Any]]:
    """SQL answering ``(value, display, count)`` rows, most frequent first. Publishers show
    their slug; a claimant the name as written in the newest review the caller may see."""
    sql = _Sql(dialect)
    column = _FACET_COLUMNS[facet]
    if facet == "publisher":
        display = "(SELECT p.slug FROM publisher p WHERE p.id = c.value)"
    elif facet == "claimant":
        visible = ReviewFilter(
            statuses=review_filter.statuses, publisher_ids=review_filter.publisher_ids
        )
        _, conditions = _from_and_where(sql, visible)
        display = (
            "(SELECT r.claimant_name FROM claim_review r WHERE r.claimant_key = c.value"
            f" AND {' AND '.join(conditions)} ORDER BY r.published_at DESC LIMIT 1)"
        )
    else:
        display = "c.value"
    if _counted(review_filter):
        table = _totals(review_filter, by_claimant=facet == "claimant")
        # The totals count reviews without a language or claimant under ''.
        known = f" AND {column} <> ''" if facet in ("language", "claimant") else ""
        branches = " UNION ALL ".join(
            f"SELECT {column} AS value, r.n FROM {source} WHERE {' AND '.join(conditions)}{known}"
            for source, conditions in _counted_sources(sql, review_filter, table)
        )
        counts = (
            f"SELECT value, SUM(n) AS total FROM ({branches}) d GROUP BY value HAVING SUM(n) > 0"
        )
    else:
        source, conditions = _from_and_where(sql, review_filter)
        counts = (
            f"SELECT {column} AS value, COUNT(*) AS total FROM {source}"
            f" WHERE {' AND '.join(conditions)} AND {column} IS NOT NULL GROUP BY {column}"
        )
    statement = (
        f"SELECT c.value, {display}, c.total"
        f" FROM ({counts} ORDER BY total DESC, value LIMIT {sql.param(top)}) c"
        " ORDER BY c.total DESC, c.value"
    )
    return statement, sql.params


def count_total(review_filter: ReviewFilter, *, dialect: Dialect) -> tuple[str, list[Any]]:
    sql = _Sql(dialect)
    if _counted(review_filter):
        branches = " UNION ALL ".join(
            f"SELECT r.n FROM {source} WHERE {' AND '.join(conditions)}"
            for source, conditions in _counted_sources(sql, review_filter, _totals(review_filter))
        )
        return f"SELECT COALESCE(SUM(n), 0) FROM ({branches}) d", sql.params
    source, conditions = _from_and_where(sql, review_filter)
    return f"SELECT COUNT(*) FROM {source} WHERE {' AND '.join(conditions)}", sql.params


def _counted(review_filter: ReviewFilter) -> bool:
    return all(getattr(review_filter, name) is None for name in _UNCOUNTED)


def _totals(review_filter: ReviewFilter, *, by_claimant: bool = False) -> str:
    """The smaller totals table unless the claimant is asked for or filtered on."""
    if by_claimant or review_filter.claimant_key is not None:
        return "claimant_count"
    return "review_count"


def _counted_sources(
    sql: _Sql, review_filter: ReviewFilter, table: str
) -> list[tuple[str, list[str]]]:
    """The totals and the deltas not folded into them yet, each with the filter's conditions:
    their rows' ``n`` add up to the number of matching reviews."""
    return [_from_and_where(sql, review_filter, table=source) for source in (table, "facet_delta")]


# Export: every matching review in insertion order, for a streamed dump. Each shape of row
# selects only what its format writes, since every further column is decoded a million times:
# ``stored`` the JSON-LD alone (an NDJSON export of live reviews is those bytes as they are),
# ``items`` ``EXPORT_COLUMNS`` (DataFeed items and tombstones), ``csv`` also the native
# document, publisher slug and verdict.
ExportShape = Literal["stored", "items", "csv"]
EXPORT_COLUMNS = "r.pk, r.id, r.status, r.url, r.created_at, r.updated_at, r.retracted_at, r.jsonld"
CSV_EXTRA_COLUMNS = (
    ", {document}, (SELECT p.slug FROM publisher p WHERE p.id = r.publisher_id), r.verdict"
)


def with_deleted(review_filter: ReviewFilter) -> ReviewFilter:
    """The same selection plus retracted reviews (exported as tombstones)."""
    return replace(review_filter, statuses=(*review_filter.statuses, "retracted"))


def export_reviews(
    review_filter: ReviewFilter, *, dialect: Dialect, shape: ExportShape
) -> tuple[str, list[Any]]:
    """SQL answering export rows of the given shape, in ``pk`` order."""
    sql = _Sql(dialect)
    source, conditions = _from_and_where(sql, review_filter)
    columns = "r.jsonld" if shape == "stored" else EXPORT_COLUMNS
    if shape == "csv":
        document = "r.document" if dialect == "sqlite" else "r.document::text"
        columns += CSV_EXTRA_COLUMNS.format(document=document)
    return (
        f"SELECT {columns} FROM {source} WHERE {' AND '.join(conditions)} ORDER BY r.pk",
        sql.params,
    )


# The revision a change event shows: its own, but for a tombstone the one before it, the last
# version partners saw. A review taken back to draft must not show the draft's new URL, and
# an item, once in the feed, never changes.
SHOWN_VERSION = "CASE WHEN e.type = 'review.retracted' THEN e.version - 1 ELSE e.version END"


def feed_events(
    *,
    dialect: Dialect,
    after: tuple[int, int],
    publisher_slug: str | None,
    language: str | None,
    limit: int,
    kind: str | None = None,
) -> tuple[str, list[Any]]:
    """SQL answering change-feed rows ``(txid, id, type, created_at, review_id, url, review
    created_at, jsonld)`` after the cursor position ``(txid, id)``, the url and JSON-LD being
    those of the revision the event shows (``SHOWN_VERSION``). Only a tombstone shows the url
    (other items carry the whole JSON-LD), so only a tombstone's row reads it: extracting it
    from every revision's document cost a quarter of a page's query time on SQLite.

    SQLite commits one writer at a time, so event ids grow in commit order and the feed is
    ordered by id. PostgreSQL hands out ids (and transaction ids) before commit, so a later
    id can commit first: the feed is ordered by (txid, id) and only shows events of
    transactions older than the oldest one still running (the snapshot's xmin). Everything
    below that line is final — committed or gone — so a position once passed is never
    revisited and nothing can appear behind it.
    """
    sql = _Sql(dialect)
    if dialect == "sqlite":
        order = "e.id"
        conditions = [f"e.id > {sql.param(after[1])}"]
    else:
        order = "e.txid, e.id"
        conditions = [
            f"(e.txid, e.id) > ({sql.param(after[0])}, {sql.param(after[1])})",
            "e.txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        ]
    if publisher_slug is not None:
        slug = sql.param(publisher_slug)
        conditions.append(f"e.publisher_id = (SELECT id FROM publisher WHERE slug = {slug})")
    if language is not None:
        conditions.append(_language_condition(sql, language, indexed=True))
    if kind is not None:
        conditions.append(f"r.kind = {sql.param(kind)}")
    txid = "0" if dialect == "sqlite" else "e.txid"
    url = "json_extract(v.document, '$.url')" if dialect == "sqlite" else "v.document->>'url'"
    url = f"CASE WHEN e.type = 'review.retracted' THEN {url} END"
    statement = (
        f"SELECT {txid}, e.id, e.type, e.created_at, e.review_id, {url}, r.created_at,"
        " v.jsonld FROM outbox_event e"
        " JOIN claim_review r ON r.id = e.review_id"
        f" JOIN review_revision v ON v.review_id = e.review_id AND v.version = {SHOWN_VERSION}"
        f" WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT {sql.param(limit)}"
    )
    return statement, sql.params
