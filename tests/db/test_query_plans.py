"""The query builder's SQL uses the indexes the migrations made for it. An index on an
expression serves only a query that repeats the expression exactly, and nothing else would
notice the two drifting apart: the answers stay right, only slow (bench/README.md)."""

from typing import Any

import pytest
from sqlalchemy import create_engine

from app.db import query
from app.db.engine import sqlalchemy_url
from app.db.query import ReviewFilter

SHAPES = [
    (ReviewFilter(language="pt"), "ix_claim_review_language_published"),
    (ReviewFilter(language="pt-BR"), "ix_claim_review_language_published"),
    (ReviewFilter(language="es", verdict="false"), "ix_claim_review_language_verdict_published"),
    (
        ReviewFilter(publisher_ids=(1,), verdict="false"),
        "ix_claim_review_publisher_verdict_published",
    ),
]


def plan(database_url: str, review_filter: ReviewFilter) -> str:
    dialect: query.Dialect = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    sql, params = query.list_reviews(
        review_filter, dialect=dialect, sort="newest", after=None, limit=21, body_column="native"
    )
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as connection:
        if dialect == "sqlite":
            rows: Any = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params))
            lines = [row[3] for row in rows]
        else:
            # An empty table is cheapest to read whole: cost the indexes alone.
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_bitmapscan = off")
            lines = [row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}", tuple(params))]
    engine.dispose()
    return "\n".join(lines)


@pytest.mark.parametrize(("review_filter", "index"), SHAPES)
def test_filters_read_their_index_in_date_order(
    database_url: str, review_filter: ReviewFilter, index: str
) -> None:
    found = plan(database_url, review_filter)

    assert index in found, found
    assert "TEMP B-TREE" not in found and "Sort" not in found, found


def test_a_search_reads_bodies_for_its_page_only(database_url: str) -> None:
    """Matches are sorted by key alone; the page's bodies are read after the LIMIT, by pk. On
    SQLite the plan is also fixed in its order: its planner, left to itself, walked the
    publisher's reviews in date order and probed the full-text index for each (ten times
    slower on 1,000,000 reviews), and each match is looked up in migration 0004's narrow
    index. PostgreSQL orders the join by statistics an empty test database does not have
    (bench/README.md shows its plan on 1,000,000 reviews)."""
    found = plan(database_url, ReviewFilter(search="puente", publisher_ids=(1,)))
    lines = found.splitlines()

    if database_url.startswith("sqlite"):
        assert lines[0] == "MATERIALIZE page", found
        assert lines[1].startswith("SCAN f VIRTUAL TABLE"), found
        assert "COVERING INDEX ix_claim_review_search_filters" in lines[2], found
        assert "SEARCH r USING INTEGER PRIMARY KEY" in found.split("SCAN p", 1)[1], found
    else:
        body_read = found.split("->  Limit", 1)
        assert len(body_read) == 2, found  # the page is limited before the join
        assert "pk_claim_review" in body_read[1], found
        assert "Index Cond: (pk = " in body_read[1], found
