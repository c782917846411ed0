"""Generate synthetic multilingual published reviews straight into a migrated database
(issues 3 and 4 benchmarks): 50 publishers, 11 languages, claimants with a Zipf-like skew,
labels from each language's everyday labels in ``schemas/verdicts.json``, dates over ten years.

    CLAIMREVIEW_DATABASE_URL=sqlite:///bench/out/cr_bench1m.db \\
        .venv/bin/python bench/generate.py --count 1000000
    CLAIMREVIEW_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cr_bench1m \\
        .venv/bin/python bench/generate.py --count 1000000

Rows are the ones the service stores for a POST: ``ReviewIn(...).document()``, the JSON-LD of
``jsonld.render``/``dumps`` and ``reviews.rating_verdict``, made into a review's rows by
``reviews.rendered_review`` (the derived columns, the native bytes, one ``review_revision`` of
kind created, one ``outbox_event`` review.published, the ``review_tag`` rows), as an import
makes them. Validation is skipped (``findings`` is ``[]``, what a review without warnings
stores). Times are historical: a review is created a few hours after its publication date, so
``pk`` order follows ``published_at`` as on a real service.

Two worker processes render; the parent writes: SQLAlchemy Core batched inserts on SQLite (the
FTS5 triggers fill the index as rows arrive), ``COPY`` on PostgreSQL with the secondary indexes
and the GIN index dropped during the load and recreated after (both times printed).
"""

import argparse
import bisect
import collections
import itertools
import json
import multiprocessing
import os
import random
import secrets
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.orm import sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from wordlists import (  # noqa: E402
    DICTIONARY_LANGUAGE,
    NAME_PARTS,
    ORGANISATIONS,
    PLATFORMS,
    PUBLISHERS_PER_LANGUAGE,
    WORDS,
)

from app.config import get_settings  # noqa: E402
from app.core import jsonld, verdicts  # noqa: E402
from app.core.document import ReviewIn, format_timestamp  # noqa: E402
from app.db import facet_counts  # noqa: E402
from app.db.engine import sqlalchemy_url  # noqa: E402
from app.db.tables import ClaimReview, Publisher  # noqa: E402
from app.services.reviews import Rendered, publisher_card, rating_verdict, rendered_review  # noqa: E402

START = date(2016, 1, 1)
DAYS = 3650
CHUNK = 5_000
ACTOR = "key:bench-generator"

# Everyday labels per dictionary language, with weights so that "false" is most common.
_WEIGHTED_VERDICTS = {
    "false": 30, "misleading": 18, "mostly_false": 10, "mixed": 12, "unverifiable": 6,
    "mostly_true": 8, "true": 10, "satire": 2, "other": 2,
}  # fmt: skip


def _labels() -> dict[str, tuple[list[str], list[float]]]:
    by_language: dict[str, dict[str, str]] = {}
    for entry in verdicts.dictionary()["entries"]:
        by_language.setdefault(entry.get("language", ""), {}).setdefault(
            entry["label"], entry["verdict"]
        )
    found = {}
    for language in set(DICTIONARY_LANGUAGE.values()):
        labels = list(by_language[language].items())[:20]
        names = [label for label, _ in labels]
        weights = [_WEIGHTED_VERDICTS.get(verdict, 1) for _, verdict in labels]
        found[language] = (names, list(itertools.accumulate(weights)))
    return found


def publishers() -> list[dict[str, Any]]:
    """The 50 publishers, the first of each language the largest (weights ~ 1/rank^0.8)."""
    specs = []
    for language, count in PUBLISHERS_PER_LANGUAGE.items():
        code = language.lower().replace("-", "")
        for number in range(1, count + 1):
            slug = f"fc-{code}-{number}"
            specs.append(
                {
                    "slug": slug,
                    "name": f"Fact Check {language.upper()} {number}",
                    "url": f"https://{slug}.example.org/",
                    "language": language,
                    "domains": [f"{slug}.example.org"],
                }
            )
    for rank, spec in enumerate(specs, start=1):
        spec["weight"] = 1 / ((rank % 17) + 1) ** 0.8
    return specs


def claimants() -> tuple[list[str], list[float]]:
    """~3,000 people; the name at rank r is chosen with probability ~ 1/r^1.07."""
    names = [
        f"{first} {last}" for firsts, lasts in NAME_PARTS for first in firsts for last in lasts
    ]
    random.Random(11).shuffle(names)
    return names, list(itertools.accumulate(1 / rank**1.07 for rank in range(1, len(names) + 1)))


class Renderer:
    """Builds the stored rows of reviews ``start .. start+count`` (pk = index + 1)."""

    def __init__(self, total: int, pubs: list[dict[str, Any]], base_url: str) -> None:
        self.total = total
        self.pubs = pubs
        self.publisher_rows = [
            Publisher(
                id=spec["id"],
                slug=spec["slug"],
                name=spec["name"],
                url=spec["url"],
                logo=None,
                same_as=[],
                language=spec["language"],
                domains=spec["domains"],
                rating_scale=None,
            )
            for spec in pubs
        ]
        self.cards = [publisher_card(row) for row in self.publisher_rows]
        self.pub_weights = list(itertools.accumulate(spec["weight"] for spec in pubs))
        self.labels = _labels()
        self.names, self.name_weights = claimants()
        self.base_url = base_url

    def chunk(self, start: int, count: int) -> dict[str, list[Any]]:
        rng = random.Random(start * 7919 + 1)
        out: dict[str, list[Any]] = {"review": [], "revision": [], "event": [], "tag": []}
        for index in range(start, start + count):
            self._one(rng, index, out)
        return out

    def _one(self, rng: random.Random, index: int, out: dict[str, list[Any]]) -> None:
        pick = bisect.bisect(self.pub_weights, rng.random() * self.pub_weights[-1])
        spec, publisher = self.pubs[pick], self.publisher_rows[pick]
        language = spec["language"]
        if rng.random() < 0.1:  # some reviews in another language (English, mostly)
            language = "en" if rng.random() < 0.6 else rng.choice(list(WORDS))
        words = WORDS[language]
        day = START + timedelta(days=index * DAYS // self.total)
        year = rng.randint(2010, day.year)
        claim = (
            rng.choice(words["subject"])
            + " "
            + rng.choice(words["predicate"]).format(
                year=year,
                thing=rng.choice(words["thing"]),
                place=rng.choice(words["place"]),
                n=rng.randint(2, 95),
            )
        )
        names, weights = self.labels[DICTIONARY_LANGUAGE[language]]
        label = names[bisect.bisect(weights, rng.random() * weights[-1])]
        if rng.random() < 0.75:
            name = self.names[
                bisect.bisect(self.name_weights, rng.random() * self.name_weights[-1])
            ]
            author: dict[str, Any] = {"type": "Person", "name": name}
        else:
            author = {"type": "Organization", "name": rng.choice(ORGANISATIONS[language])}
        appearances = [
            {
                "url": f"https://www.{platform}.com/p/{rng.getrandbits(48):x}",
                "date_published": (day - timedelta(days=rng.randint(0, 10))).isoformat(),
            }
            for platform in rng.sample(PLATFORMS, rng.randint(1, 3))
        ]
        url = f"{spec['url']}{day:%Y/%m}/check-{index}"
        if rng.random() < 0.1:
            url += f"#claim-{rng.randint(1, 3)}"
        raw = {
            "external_id": f"{spec['slug']}-{index}",
            "status": "published",
            "url": url,
            "headline": f"{words['headline'][0]} {claim}",
            "claim_reviewed": claim,
            "language": language,
            "date_published": day.isoformat(),
            "rating": {"label": label, "explanation": rng.choice(words["explanation"])},
            "claim": {"author": author, "appearances": appearances},
            "tags": rng.sample(words["tag"], rng.randint(1, 4)),
        }
        document = ReviewIn(**raw).document()
        now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
            seconds=rng.randint(3600, 3 * 86400), microseconds=rng.randint(0, 999) * 1000
        )
        review_id = secrets.token_urlsafe(12)
        node = jsonld.render(
            review_id=review_id,
            document=document,
            publisher=self.cards[pick],
            base_url=self.base_url,
            date_modified=format_timestamp(now),
        )
        body = jsonld.dumps(node)
        rows = rendered_review(
            review_id=review_id,
            publisher=publisher,
            document=document,
            status="published",
            rendered=Rendered(
                jsonld=body, findings=[], verdict=rating_verdict(document, publisher)
            ),
            now=now,
            actor=ACTOR,
        )
        assert rows.event is not None  # a published review is announced
        out["review"].append({**rows.review, "pk": index + 1})
        out["revision"].append(rows.revision)
        out["event"].append(rows.event)
        out["tag"].extend({"review_pk": index + 1, "tag_key": key} for key in rows.tag_keys)


REVIEW_COLUMNS = [
    column.key for column in ClaimReview.__table__.columns if column.key != "search_vector"
]
REVISION_COLUMNS = [
    "review_id",
    "version",
    "kind",
    "status",
    "document",
    "jsonld",
    "actor",
    "created_at",
]
EVENT_COLUMNS = ["review_id", "publisher_id", "type", "version", "created_at"]
JSON_COLUMNS = {"document", "findings"}

_renderer: Renderer | None = None


def _init_worker(total: int, pubs: list[dict[str, Any]], base_url: str) -> None:
    global _renderer
    _renderer = Renderer(total, pubs, base_url)


def _render(job: tuple[int, int, tuple[str, ...]]) -> dict[str, Any]:
    """Render a chunk and encode it for the writers here, in the worker: the parent only
    executes (pickling dicts back to it cost more than writing them)."""
    assert _renderer is not None
    start, count, targets = job
    rows = _renderer.chunk(start, count)
    return {target: ENCODERS[target](rows) for target in targets}


TABLES = (
    ("claim_review", "review", REVIEW_COLUMNS),
    ("review_revision", "revision", REVISION_COLUMNS),
    ("outbox_event", "event", EVENT_COLUMNS),
    ("review_tag", "tag", ["review_pk", "tag_key"]),
)


def _sqlite_value(column: str, value: Any) -> Any:
    """What SQLAlchemy's SQLite types bind: JSON as json.dumps text, DateTime as naive text."""
    if column in JSON_COLUMNS:
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _encode_sqlite(rows: dict[str, list[Any]]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        key: [tuple(_sqlite_value(c, row[c]) for c in columns) for row in rows[key]]
        for _table, key, columns in TABLES
    }


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(column: str, value: Any) -> str:
    """One field of PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if column in JSON_COLUMNS:
        value = json.dumps(value)  # SQLAlchemy's JSON type stores json.dumps(value)
    elif isinstance(value, bytes):
        return "\\\\x" + value.hex()
    elif isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _encode_postgres(rows: dict[str, list[Any]]) -> dict[str, bytes]:
    return {
        key: "".join(
            "\t".join(_copy_value(c, row[c]) for c in columns) + "\n" for row in rows[key]
        ).encode()
        for _table, key, columns in TABLES
    }


ENCODERS = {"sqlite": _encode_sqlite, "postgres": _encode_postgres}


# Writers


class SqliteWriter:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

        @event.listens_for(self.engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            for pragma in ("journal_mode=WAL", "synchronous=OFF", "cache_size=-1000000"):
                connection.execute(f"PRAGMA {pragma}")

    def prepare(self) -> None:
        pass

    target = "sqlite"

    def write(self, encoded: dict[str, list[tuple[Any, ...]]]) -> None:
        """Core batched inserts of the values SQLAlchemy's types would bind (see _sqlite_value)."""
        with self.engine.begin() as connection:
            for table, key, columns in TABLES:
                marks = ", ".join("?" for _ in columns)
                statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                connection.exec_driver_sql(statement, encoded[key])

    def finish(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


class PostgresWriter:
    TABLES = ("claim_review", "review_revision", "outbox_event", "review_tag")

    def __init__(self, url: str) -> None:
        self.engine = create_engine(sqlalchemy_url(url))
        self.dropped: list[str] = []

    def prepare(self) -> None:
        """Drop the secondary (non-constraint) indexes; ``finish`` recreates them."""
        query = text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:tables)"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        with self.engine.begin() as connection:
            for name, definition in connection.execute(query, {"tables": list(self.TABLES)}):
                self.dropped.append(definition)
                connection.execute(text(f'DROP INDEX "{name}"'))
        print(f"dropped {len(self.dropped)} indexes for the load", file=sys.stderr)

    target = "postgres"

    def write(self, encoded: dict[str, bytes]) -> None:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for table, key, columns in TABLES:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write(encoded[key])
            raw.commit()
        finally:
            raw.close()

    def finish(self) -> None:
        started = time.monotonic()
        with self.engine.connect() as connection:
            connection.execute(text("SET maintenance_work_mem = '1GB'"))
            for definition in self.dropped:
                connection.execute(text(definition))
                connection.commit()
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('claim_review', 'pk'), max(pk))"
                    " FROM claim_review"
                )
            )
            connection.commit()
        print(f"indexes recreated in {time.monotonic() - started:.0f} s", file=sys.stderr)
        started = time.monotonic()
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        print(f"VACUUM ANALYZE in {time.monotonic() - started:.0f} s", file=sys.stderr)


def ensure_publishers(engine: Any, specs: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        existing = dict(connection.execute(text("SELECT slug, id FROM publisher")).all())
        for spec in specs:
            if spec["slug"] not in existing:
                values = {k: spec[k] for k in ("slug", "name", "url", "language", "domains")}
                values.update(same_as=[], created_at=now, updated_at=now)
                connection.execute(insert(Publisher.__table__), values)
        ids = dict(connection.execute(text("SELECT slug, id FROM publisher")).all())
    for spec in specs:
        # Every database of one run must number publishers alike (rows are rendered once).
        assert spec.setdefault("id", ids[spec["slug"]]) == ids[spec["slug"]], "publisher ids differ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--url",
        action="append",
        help="database URL (repeat to fill several databases with the same rows in one run);"
        " default CLAIMREVIEW_DATABASE_URL",
    )
    args = parser.parse_args()

    settings = get_settings()
    writers: list[SqliteWriter | PostgresWriter] = []
    specs = publishers()
    for url in args.url or [settings.database_url]:
        env = {**os.environ, "CLAIMREVIEW_DATABASE_URL": url}
        claimreview = str(Path(sys.executable).parent / "claimreview")
        subprocess.run([claimreview, "db", "upgrade"], check=True, env=env)
        writer = SqliteWriter(url) if url.startswith("sqlite") else PostgresWriter(url)
        with writer.engine.connect() as connection:
            if connection.execute(text("SELECT count(*) FROM claim_review")).scalar():
                sys.exit(f"claim_review is not empty in {url}: generate into a fresh database")
        ensure_publishers(writer.engine, specs)
        writer.prepare()
        writers.append(writer)

    targets = tuple(writer.target for writer in writers)
    jobs = [
        (start, min(CHUNK, args.count - start), targets) for start in range(0, args.count, CHUNK)
    ]
    started = time.monotonic()
    done = 0
    init = (args.count, specs, settings.public_base_url)
    with multiprocessing.get_context("fork").Pool(args.processes, _init_worker, init) as pool:
        # At most a few chunks in flight: memory stays bounded whichever side is slower.
        pending = collections.deque((job, pool.apply_async(_render, (job,))) for job in jobs[:4])
        queued = len(pending)
        while pending:
            job, result = pending.popleft()
            encoded = result.get()
            if queued < len(jobs):
                pending.append((jobs[queued], pool.apply_async(_render, (jobs[queued],))))
                queued += 1
            for writer in writers:
                writer.write(encoded[writer.target])
            done += job[1]
            if done % 50_000 < CHUNK:
                elapsed = time.monotonic() - started
                print(
                    f"{done:>9,} reviews  {done / elapsed:,.0f} rows/s", file=sys.stderr, flush=True
                )
    loaded = time.monotonic() - started
    for writer in writers:
        # The claim_review triggers counted every row into facet_delta: fold before measuring.
        facet_counts.fold_all(sessionmaker(writer.engine))
        writer.finish()
    total = time.monotonic() - started
    print(
        json.dumps(
            {
                "reviews": done,
                "load_seconds": round(loaded, 1),
                "load_rows_per_s": round(done / loaded),
                "total_seconds": round(total, 1),
                "rows_per_s": round(done / total),
            }
        )
    )


if __name__ == "__main__":
    main()
