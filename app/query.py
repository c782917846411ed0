"""The one query builder: every listing of reviews (the list endpoint, facets, and the exports,
feed and Google-compatible search built on them) describes what it wants as a ``ReviewFilter``
and gets its SQL from here, for SQLite or PostgreSQL.

Plain SQL strings rather than SQLAlchemy statements: the list endpoint runs on the event loop
through ``stored_reads`` (one query, no ORM, no thread hop), and compiling a SQLAlchemy
statement per request would cost more than running it.

Keyset paging: results are ordered by a sort key and the integer ``pk``; a cursor carries the
last row's pair, so rows inserted while a client pages are never shown twice and never push an
existing row past the client.
"""

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Literal

Dialect = Literal["sqlite", "postgresql"]
Sort = Literal["newest", "oldest", "relevance"]
Facet = Literal["publisher", "verdict", "language", "claimant"]
SORTS: tuple[Sort, ...] = ("newest", "oldest", "relevance")
FACETS: tuple[Facet, ...] = ("publisher", "verdict", "language", "claimant")

_FACET_COLUMNS: dict[Facet, str] = {
    "publisher": "r.publisher_id",
    "verdict": "r.verdict",
    "language": "r.language",
    "claimant": "r.claimant_key",
}


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    """What to select. Text values are already folded (app.textfold) where the column is."""

    statuses: tuple[str, ...] = ("published",)
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
    sql: _Sql, review_filter: ReviewFilter, table: str = "claim_review"
) -> tuple[str, list[str]]:
    """The FROM clause (with the full-text match when searching) and the WHERE conditions, over
    ``table`` as ``r``: claim_review, or a count table for the filters it has columns for."""
    # Placeholders are positional: add each condition right after creating its parameters.
    conditions = []
    source = f"{table} r"
    if review_filter.search is not None:
        if sql.dialect == "sqlite":
            source = "review_fts f JOIN claim_review r ON r.pk = f.rowid"
            conditions.append(f"review_fts MATCH {sql.param(_fts5_query(review_filter.search))}")
        else:
            source = (
                f"claim_review r CROSS JOIN "
                f"websearch_to_tsquery('simple', {sql.param(review_filter.search)}) AS query"
            )
            conditions.append("r.search_vector @@ query")
    conditions.append(f"r.status IN ({sql.params_of(review_filter.statuses)})")
    if review_filter.publisher_ids is not None:
        ids = review_filter.publisher_ids or (-1,)
        conditions.append(f"r.publisher_id IN ({sql.params_of(ids)})")
    if review_filter.publisher_slug is not None:
        slug = sql.param(review_filter.publisher_slug)
        conditions.append(f"r.publisher_id = (SELECT id FROM publisher WHERE slug = {slug})")
    if review_filter.language is not None:
        # "pt" matches pt and every regional variant (pt-BR, pt-PT).
        conditions.append(
            f"(r.language = {sql.param(review_filter.language)}"
            f" OR r.language LIKE {sql.param(review_filter.language + '-%')})"
        )
    equal = (
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
    statement = (
        f"SELECT r.pk, {key}, r.{body_column} FROM {source}"
        f" WHERE {' AND '.join(conditions)}"
        f" ORDER BY {key} {direction}, r.pk {direction} LIMIT {sql.param(limit)}"
    )
    return statement, sql.params


@dataclass(frozen=True, slots=True)
class _Counted:
    """Where counts come from: a table read as ``r``, what one of its rows counts for, and,
    per facet, the condition for a row to hold a value of it."""

    table: str
    count: str
    present: dict[Facet, str]


_REVIEWS = _Counted(
    "claim_review", "COUNT(*)", {facet: f"{_FACET_COLUMNS[facet]} IS NOT NULL" for facet in FACETS}
)
# The count tables that migration 0003's triggers keep, and the filters each has columns for.
# review_count files a review without a language under ''. claimant_count also holds totals
# over publisher (0), verdict ('*') and language ('*'): the "any" values of _ROLLED_UP.
_REVIEW_COUNT = _Counted(
    "review_count", "SUM(r.n)", {**_REVIEWS.present, "language": "r.language <> ''"}
)
_CLAIMANT_COUNT = _Counted(
    "claimant_count",
    "SUM(r.n)",
    {
        "publisher": "r.publisher_id <> 0",
        "verdict": "r.verdict <> '*'",
        "language": "r.language NOT IN ('', '*')",
        "claimant": "r.claimant_key IS NOT NULL",
    },
)
_ROLLED_UP: dict[Facet, tuple[str, frozenset[str]]] = {
    "publisher": ("r.publisher_id = 0", frozenset({"publisher_ids", "publisher_slug"})),
    "verdict": ("r.verdict = '*'", frozenset({"verdict"})),
    "language": ("r.language = '*'", frozenset({"language"})),
}
_REVIEW_COUNT_FILTERS = frozenset(
    {"statuses", "publisher_ids", "publisher_slug", "language", "verdict"}
)
_CLAIMANT_COUNT_FILTERS = _REVIEW_COUNT_FILTERS | {"claimant_key"}


def _filters_in_use(review_filter: ReviewFilter) -> set[str]:
    return {f.name for f in fields(review_filter) if getattr(review_filter, f.name) is not None}


def _counted(review_filter: ReviewFilter, facet: Facet | None) -> _Counted:
    """The smallest table that holds the exact count for this filter: review_count, else
    claimant_count (which leaves out reviews without a claimant, so only for the claimant
    facet or a claimant filter), else the reviews themselves."""
    used = _filters_in_use(review_filter)
    if facet != "claimant" and used <= _REVIEW_COUNT_FILTERS:
        return _REVIEW_COUNT
    if used <= _CLAIMANT_COUNT_FILTERS:
        return _CLAIMANT_COUNT
    return _REVIEWS


def _rows_to_add(counted: _Counted, review_filter: ReviewFilter, facet: Facet | None) -> list[str]:
    """Conditions picking the rows whose counts add up to the answer, besides the filter's:
    the facet's values, and in claimant_count the totals over every dimension that neither
    the filter nor the facet names (a filter on a dimension never matches its "any" value)."""
    conditions = [counted.present[facet]] if facet else []
    if counted is _CLAIMANT_COUNT:
        used = _filters_in_use(review_filter)
        conditions.extend(
            any_value
            for dimension, (any_value, filters) in _ROLLED_UP.items()
            if dimension != facet and not used & filters
        )
    return conditions


def count_facets(
    review_filter: ReviewFilter, *, dialect: Dialect, top: int
) -> tuple[str, list[Any]]:
    """SQL answering ``(part, shown, count, position)`` rows: ``('total', NULL, n, 0)``, then up
    to ``top`` rows per facet of ``FACETS``, most frequent first (ties by value). One statement,
    so the total and every facet count the same snapshot."""
    sql = _Sql(dialect)
    parts = [_total(sql, review_filter)]
    parts.extend(_top_values(sql, review_filter, facet, top) for facet in FACETS)
    return " UNION ALL ".join(parts) + " ORDER BY 1, 4", sql.params


def count_total(review_filter: ReviewFilter, *, dialect: Dialect) -> tuple[str, list[Any]]:
    sql = _Sql(dialect)
    return _total(sql, review_filter, part=None), sql.params


def _total(sql: _Sql, review_filter: ReviewFilter, part: str | None = "total") -> str:
    counted = _counted(review_filter, None)
    source, conditions = _from_and_where(sql, review_filter, counted.table)
    conditions.extend(_rows_to_add(counted, review_filter, None))
    label = "" if part is None else f"'{part}', NULL, "
    position = "" if part is None else ", 0"
    return (
        f"SELECT {label}COALESCE({counted.count}, 0){position}"
        f" FROM {source} WHERE {' AND '.join(conditions)}"
    )


def _top_values(sql: _Sql, review_filter: ReviewFilter, facet: Facet, top: int) -> str:
    """One facet's ``top`` values, grouped by their key alone so the count can come from an
    index or a count table; what a value is shown as (publisher slug, claimant name) is looked
    up afterwards for those few rows only."""
    # Placeholders are positional: the shown value's come first in the text, so first here.
    shown = _shown(sql, review_filter, facet)
    counted = _counted(review_filter, facet)
    column = _FACET_COLUMNS[facet]
    source, conditions = _from_and_where(sql, review_filter, counted.table)
    conditions.extend(_rows_to_add(counted, review_filter, facet))
    return (
        f"SELECT '{facet}', {shown}, t.n, ROW_NUMBER() OVER (ORDER BY t.n DESC, t.value) FROM ("
        f"SELECT {column} AS value, {counted.count} AS n FROM {source}"
        f" WHERE {' AND '.join(conditions)} GROUP BY {column} HAVING {counted.count} > 0"
        f" ORDER BY n DESC, value LIMIT {sql.param(top)}) t"
    )


def _shown(sql: _Sql, review_filter: ReviewFilter, facet: Facet) -> str:
    """A facet value as shown: publishers by slug; claimants by the name as written in their
    newest review the caller may see (one index probe each); the others as they are."""
    if facet == "publisher":
        return "(SELECT p.slug FROM publisher p WHERE p.id = t.value)"
    if facet != "claimant":
        return "t.value"
    visible = f"x.status IN ({sql.params_of(review_filter.statuses)})"
    if review_filter.publisher_ids is not None:
        visible += f" AND x.publisher_id IN ({sql.params_of(review_filter.publisher_ids or (-1,))})"
    return (
        "(SELECT x.claimant_name FROM claim_review x"
        f" WHERE x.claimant_key = t.value AND {visible}"
        " ORDER BY x.published_at DESC, x.pk DESC LIMIT 1)"
    )


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
        conditions.append(
            f"(r.language = {sql.param(language)} OR r.language LIKE {sql.param(language + '-%')})"
        )
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
