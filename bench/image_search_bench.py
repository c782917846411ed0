"""Search by image as the service runs it: the lookup SQL of ``app.db.query.image_matches`` (the
function every search-by-image route calls) on the service's own tables, 100,000 rows each of
``claim_review``, ``image`` and ``review_image``, on SQLite and PostgreSQL.

    .venv/bin/python bench/image_search_bench.py
    .venv/bin/python bench/image_search_bench.py --count 20000 --skip-postgres --max-wait 0

image_index_bench.py chose the rule and the index on a bare table of hashes; this checks that
the service's query keeps what it measured once the reviews, the join and the list filters are
in it.

1. Hashes: the stored images of image_index_bench.py (``--count`` synthetic images, cached in
   ``bench/out/``; drawing 100,000 takes a few minutes the first time), and as queries
   ``--sample`` of them drawn again and transformed (resized 50 % and 200 %, JPEG at quality 60,
   cropped 5 %, a caption bar added) plus as many unrelated images.
2. Rows: a database per engine (SQLite ``bench/out/image-search.db``; PostgreSQL
   ``claimreview_image_search_bench``), migrated by the service's migrations. ``--count``
   published reviews made by bench/seed.py's generator and the service's write path
   (``reviews.create``, about 300 reviews/s here), each naming one image (its ``image``) whose
   ``image`` row is ``hashed`` with stored image n's hashes and bands; then ANALYZE. A database
   that already holds them is reused; ``--reload`` drops and fills it again.
3. Lookups: ``--lookups`` queries, one after another after a quiet-machine wait, through the
   drivers and connection settings the service reads with (sqlite3 with the ``hamming``
   function and memory mapping; psycopg, autocommit): SQL built by ``query.image_matches``,
   run, rows fetched, for the first page (20 reviews). At the default threshold and at the
   widest the setting allows (15, the widest with a probe radius of 3), without filters and
   with two list filters (language and verdict); and ``--lookups-beyond`` at 16, where the
   radius becomes 4, to show why the setting stops at 15. Recall (unfiltered lookups) is
   whether a variant's own original review is among the matches; "other reviews" counts the
   rest of the first page.

Results: a Markdown table on stdout and ``bench/out/image-search-results.json``.
"""

import argparse
import json
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import image_index_bench as index_bench  # noqa: E402
import seed  # noqa: E402
from benchlib import OUT, load_average, log, wait_quiet  # noqa: E402

from app.config import Settings  # noqa: E402
from app.core import perceptual  # noqa: E402
from app.core.document import ReviewIn  # noqa: E402
from app.db import migrate, query  # noqa: E402
from app.db.engine import add_sqlite_functions, make_engine  # noqa: E402
from app.db.image_search import ImageQuery  # noqa: E402
from app.db.query import ReviewFilter  # noqa: E402
from app.db.reads import MMAP_BYTES  # noqa: E402
from app.db.tables import ClaimReview, Image, OutboxEvent, ReviewImage, ReviewRevision  # noqa: E402
from app.services import reviews  # noqa: E402

SQLITE_PATH = OUT / "image-search.db"
PG_DATABASE = "claimreview_image_search_bench"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = OUT / "image-search-results.json"
IMAGE_URL = "https://img.example.org/{n}.jpg"
# The setting's upper bound (its ``le`` constraint).
WIDEST: int = next(
    bound.le
    for bound in Settings.model_fields["image_search_threshold"].metadata
    if hasattr(bound, "le")
)
BEYOND = WIDEST + 1
PAGE = 20
FILTERED = ReviewFilter(language="en", verdict="false")
BATCH = 2_000


def image_rows(stored: dict[str, Any], start: int, stop: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for n in range(start, stop):
        phash, dhash = int(stored["phash"][n]), int(stored["dhash"][n])
        band0, band1, band2, band3 = perceptual.bands(phash)
        rows.append(
            {
                "id": n + 1,
                "url_key": f"{n:064x}",
                "url": IMAGE_URL.format(n=n),
                "status": "hashed",
                "attempts": 1,
                "next_attempt_at": now,
                "content_type": "image/jpeg",
                "size_bytes": 20_000,
                "width": 256,
                "height": 192,
                "phash": perceptual.signed(phash),
                "dhash": perceptual.signed(dhash),
                "hash_version": perceptual.HASH_VERSION,
                "band0": band0,
                "band1": band1,
                "band2": band2,
                "band3": band3,
                "fetched_at": now,
                "created_at": now,
            }
        )
    return rows


def loaded(database_url: str, count: int) -> bool:
    """Whether the database holds the ``count`` reviews and hashed images of a previous run."""
    engine = make_engine(Settings(database_url=database_url))
    try:
        with engine.connect() as connection:
            reviews_there = connection.execute(text("SELECT count(*) FROM claim_review")).scalar()
            images_there = connection.execute(
                text("SELECT count(*) FROM image WHERE status = 'hashed'")
            ).scalar()
    except Exception:  # no database, or not migrated: load it
        return False
    finally:
        engine.dispose()
    return reviews_there == images_there == count


def load(database_url: str, stored: dict[str, Any], count: int) -> float:
    """Migrate, then write ``count`` reviews (through reviews.create), their images and links."""
    started = time.perf_counter()
    migrate.upgrade(database_url)
    settings = Settings(database_url=database_url)
    engine = make_engine(settings)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        publishers = seed.ensure_publishers(session)
    rng = random.Random(2024)
    for start in range(0, count, BATCH):
        stop = min(start + BATCH, count)
        collector = seed.Collector(engine)
        for n in range(start, stop):
            publisher, spec = publishers[n % len(publishers)]
            document = seed.fact_check(rng, spec, n) | {"image": IMAGE_URL.format(n=n)}
            reviews.create(
                session=collector,  # type: ignore[arg-type]
                publisher=publisher,
                incoming=ReviewIn.model_validate(document),
                actor="bench",
                base_url=settings.public_base_url,
            )
        made = [seed._columns(row) for row in collector.rows if isinstance(row, ClaimReview)]
        for row, n in zip(made, range(start, stop), strict=True):
            row["pk"] = n + 1
        with engine.begin() as connection:
            connection.execute(insert(ClaimReview), made)
            for model in (ReviewRevision, OutboxEvent):
                rows = [seed._columns(row) for row in collector.rows if isinstance(row, model)]
                connection.execute(insert(model), rows)
            connection.execute(insert(Image), image_rows(stored, start, stop))
            links = [
                {"review_pk": n + 1, "place": "image", "image_id": n + 1}
                for n in range(start, stop)
            ]
            connection.execute(insert(ReviewImage), links)
        log(f"loaded {stop:,} of {count:,}")
    with engine.begin() as connection:
        if settings.is_sqlite:
            connection.execute(text("ANALYZE"))
        else:
            for table in ("claim_review", "image", "review_image"):
                connection.execute(text(f"ANALYZE {table}"))
            # Serial ids given explicitly: move the sequences past them.
            for table, column in (("claim_review", "pk"), ("image", "id")):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                        f" (SELECT max({column}) FROM {table}))"
                    )
                )
    engine.dispose()
    return time.perf_counter() - started


class Reader:
    """A read connection configured as app/db/reads.py configures the service's."""

    name: str
    dialect: query.Dialect

    def run(self, sql: str, params: list[Any]) -> list[Any]:
        raise NotImplementedError

    def plan(self, sql: str, params: list[Any]) -> str:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SQLiteReader(Reader):
    name, dialect = "SQLite", "sqlite"

    def __init__(self) -> None:
        self.connection = sqlite3.connect(SQLITE_PATH, isolation_level=None)
        self.connection.execute("PRAGMA query_only=ON")
        self.connection.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        add_sqlite_functions(self.connection)

    def run(self, sql: str, params: list[Any]) -> list[Any]:
        return self.connection.execute(sql, params).fetchall()

    def plan(self, sql: str, params: list[Any]) -> str:
        rows = self.connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        return "; ".join(row[3] for row in rows)

    def close(self) -> None:
        self.connection.close()


class PostgresReader(Reader):
    name, dialect = "PostgreSQL", "postgresql"

    def __init__(self) -> None:
        self.connection = psycopg.connect(PG_URL, autocommit=True)

    def run(self, sql: str, params: list[Any]) -> list[Any]:
        return self.connection.execute(sql, params).fetchall()

    def plan(self, sql: str, params: list[Any]) -> str:
        rows = self.connection.execute(f"EXPLAIN {sql}", params).fetchall()
        return " | ".join(row[0].strip() for row in rows if "Scan" in row[0] or "Bitmap" in row[0])

    def close(self) -> None:
        self.connection.close()


SQLITE_URL = f"sqlite:///{SQLITE_PATH}"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}"


def drop_sqlite() -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)


def drop_postgres() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_DATABASE}")


def percentile(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 2)


def time_lookups(
    reader: Reader,
    queries: list[tuple[str, int | None, int, int]],
    *,
    threshold: int,
    review_filter: ReviewFilter,
) -> dict[str, Any]:
    """Each query's lookup, timed from building the SQL to the last row fetched; whether a
    variant's original (image n, review n + 1) is among the matches, and how many reviews
    other than it are (false matches, on the first page)."""
    times: list[float] = []
    found: dict[str, list[bool]] = {}
    others = []
    for kind, origin, phash, dhash in queries:
        image = ImageQuery(
            phash=perceptual.signed(phash), dhash=perceptual.signed(dhash), threshold=threshold
        )
        started = time.perf_counter()
        sql, params = query.image_matches(
            review_filter,
            image,
            dialect=reader.dialect,
            after=None,
            limit=PAGE + 1,
            body_column="native",
        )
        rows = reader.run(sql, params)
        times.append((time.perf_counter() - started) * 1000)
        pks = {row[0] for row in rows}
        own = origin is not None and origin + 1 in pks
        found.setdefault(kind, []).append(own)
        others.append(len(pks) - own)
    measured: dict[str, Any] = {
        "lookups": len(times),
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "max_ms": round(max(times), 2),
        "other_reviews_per_query": round(sum(others) / len(others), 3),
    }
    if review_filter == ReviewFilter():  # filtered, an original may not pass the filter
        measured["recall"] = {
            kind: round(sum(hits) / len(hits), 3)
            for kind, hits in found.items()
            if kind != "unrelated"
        }
    return measured


def measure(
    make: Callable[[], Reader],
    database_url: str,
    drop: Callable[[], None],
    stored: dict[str, Any],
    timed: list[tuple[str, int | None, int, int]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if args.reload or not loaded(database_url, args.count):
        drop()
        result["load_s"] = round(load(database_url, stored, args.count), 1)
    reader = make()
    kind, origin, phash, dhash = timed[0]
    sample = ImageQuery(perceptual.signed(phash), perceptual.signed(dhash), args.threshold)
    result["plan"] = reader.plan(
        *query.image_matches(
            ReviewFilter(),
            sample,
            dialect=reader.dialect,
            after=None,
            limit=PAGE + 1,
            body_column="native",
        )
    )
    log(f"{reader.name}: {result}")
    result["quiet"] = wait_quiet(f"{reader.name} lookups", max_wait=args.max_wait)
    runs = [
        (threshold, label, review_filter, timed)
        for threshold in (args.threshold, WIDEST)
        for label, review_filter in (("all", ReviewFilter()), ("filtered", FILTERED))
    ]
    runs.append((BEYOND, "all", ReviewFilter(), timed[: args.lookups_beyond]))
    for threshold, label, review_filter, queries in runs:
        measured = time_lookups(reader, queries, threshold=threshold, review_filter=review_filter)
        result[f"d{threshold}_{label}"] = measured
        log(f"{reader.name} d={threshold} {label}: {measured}")
    result["load1_after"] = load_average()
    reader.close()
    return result


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| engine | threshold | filters | lookups | p50 ms | p95 ms | max ms | recall resize 50 % "
        "/ 200 % / JPEG q60 / crop 5 % / caption | other reviews per query |",
        "|---|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    kinds = ("resize50", "resize200", "jpeg60", "crop5", "caption")
    for name, engine in results["engines"].items():
        for key, measured in engine.items():
            if not key.startswith("d"):
                continue
            threshold, label = key[1:].split("_")
            recall = "–"
            if "recall" in measured:
                recall = " / ".join(f"{measured['recall'].get(kind, 0):.3f}" for kind in kinds)
            lines.append(
                f"| {name} | {threshold} | {label} | {measured['lookups']} | "
                f"{measured['p50_ms']} | {measured['p95_ms']} | {measured['max_ms']} | {recall} | "
                f"{measured['other_reviews_per_query']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--size", default="256x192", help="stored image size, WxH")
    parser.add_argument("--sample", type=int, default=200, help="stored images queried")
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--lookups-beyond", type=int, default=100, help="at the bound + 1")
    parser.add_argument("--reload", action="store_true", help="load the databases again")
    parser.add_argument("--threshold", type=int, default=Settings().image_search_threshold)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-wait", type=float, default=900)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    size = tuple(int(v) for v in args.size.split("x"))
    assert len(size) == 2

    stored = index_bench.stored_hashes(args.count, size, args.workers)
    sample = sorted(random.Random(18).sample(range(args.count), args.sample))
    queries: list[tuple[str, int | None, int, int]] = [
        (kind, origin, phash, dhash)
        for origin, kind, phash, dhash in index_bench.query_hashes(sample, size, args.workers)
    ]
    unrelated = range(10_000_000, 10_000_000 + args.sample)
    queries += [
        ("unrelated", None, phash, dhash)
        for phash, dhash, _ in index_bench._stored_chunk((unrelated[0], unrelated[-1] + 1, size))
    ]
    timed = random.Random(180).sample(queries, min(args.lookups, len(queries)))
    log(f"{len(queries):,} queries, {len(timed):,} timed")

    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "count": args.count,
        "thresholds": [args.threshold, WIDEST, BEYOND],
        "page": PAGE,
        "engines": {},
    }
    engines: list[tuple[Callable[[], Reader], str, Callable[[], None]]] = [
        (SQLiteReader, SQLITE_URL, drop_sqlite)
    ]
    if not args.skip_postgres:
        engines.append((PostgresReader, PG_URL, drop_postgres))
    for make, database_url, drop in engines:
        results["engines"][make.name] = measure(make, database_url, drop, stored, timed, args)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(markdown(results))


if __name__ == "__main__":
    main()
