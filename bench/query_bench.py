"""Issue 3 benchmark: query latency, facets and list-page throughput on 1,000,000 reviews.

    PYTHONPATH=. .venv/bin/python bench/query_bench.py            # SQLite and PostgreSQL
    PYTHONPATH=. .venv/bin/python bench/query_bench.py --only sqlite

Needs the databases of ``bench/generate.py`` (``bench/out/cr_bench1m.db``, PostgreSQL
``cr_bench1m``). One server at a time (uvicorn, 1 worker, uvloop, httptools, access log and
webhook dispatcher off), and before every measurement a quiet-machine check (benchlib).

1. Ceiling: ``bench/ceiling.py`` serving one stored review's JSON-LD; wrk 32 connections 10 s.
2. Per database: sequential latency (httpx, one connection, warm-up first) of
   (a) ``q`` = one word + ``publisher``, (b) ``language`` + ``verdict`` and ``publisher`` +
   ``verdict``, (c) ``/v1/facets`` with one filter and unfiltered; then wrk on list pages
   (``?publisher=<random>&limit=20`` and ``?limit=20``), JSON.
3. The ceiling again; ratios use the mean of both ceiling runs.
4. EXPLAIN QUERY PLAN (SQLite) / EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL) of every shape, with
   the SQL taken from ``app.db.query``. Written to ``bench/out/plans-<db>.txt``.

Results: ``bench/out/query-results.json`` and a Markdown table on stdout.
"""

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    ADMIN_TOKEN,
    OUT,
    PG_URL,
    PORT,
    SQLITE_PATH,
    SQLITE_URL,
    Server,
    latencies,
    load_average,
    log,
    service,
    wait_quiet,
    wrk,
)
from wordlists import WORDS  # noqa: E402

from app.core.textfold import fold  # noqa: E402
from app.db import query  # noqa: E402
from app.db.query import ReviewFilter  # noqa: E402

VERDICTS = ["false", "misleading", "mixed", "true", "mostly_true", "mostly_false", "unverifiable"]
CEILING_PATH = "/v1/claim-reviews/ceiling.jsonld"


def publishers() -> list[tuple[str, str]]:
    with sqlite3.connect(SQLITE_PATH) as connection:
        return connection.execute("SELECT slug, language FROM publisher ORDER BY id").fetchall()


def search_words(language: str) -> list[str]:
    """Single folded words of the language's places and things (4+ letters)."""
    words = WORDS[language]
    found = {w for text in words["place"] + words["thing"] for w in fold(text).split()}
    return sorted(w for w in found if len(w) >= 4)


def shapes(rng: random.Random, count: int) -> dict[str, list[str]]:
    pubs = publishers()
    languages = sorted({language for _, language in pubs})

    def q() -> str:
        slug, language = rng.choice(pubs)
        return "?" + urlencode({"q": rng.choice(search_words(language)), "publisher": slug})

    def language_verdict() -> str:
        return "?" + urlencode({"language": rng.choice(languages), "verdict": rng.choice(VERDICTS)})

    def publisher_verdict() -> str:
        return "?" + urlencode({"publisher": rng.choice(pubs)[0], "verdict": rng.choice(VERDICTS)})

    def one_filter() -> str:
        if rng.random() < 0.5:
            return "?" + urlencode({"publisher": rng.choice(pubs)[0]})
        return "?" + urlencode({"language": rng.choice(languages)})

    return {
        "a_q_publisher": ["/v1/claim-reviews" + q() for _ in range(count)],
        "b_language_verdict": ["/v1/claim-reviews" + language_verdict() for _ in range(count)],
        "b_publisher_verdict": ["/v1/claim-reviews" + publisher_verdict() for _ in range(count)],
        "c_facets_one_filter": ["/v1/facets" + one_filter() for _ in range(count)],
        "c_facets_unfiltered": [f"/v1/facets?top={rng.randint(5, 15)}" for _ in range(count)],
    }


TARGETS = {
    "a_q_publisher": 50,
    "b_language_verdict": 50,
    "b_publisher_verdict": 50,
    "c_facets_one_filter": 300,
    "c_facets_unfiltered": 300,
}


def measure_ceiling(body: Path) -> dict[str, Any]:
    quiet = wait_quiet("ceiling")
    with Server("q-ceiling", ["bench.ceiling:app"], {"BENCH_BODY": str(body)}, CEILING_PATH) as s:
        wrk(CEILING_PATH, duration=3)
        result = wrk(CEILING_PATH, server=s)
    result["quiet"] = quiet
    log(f"ceiling ({body.name}): {result['rps']:,.0f} req/s")
    return result


def prewarm(url: str) -> None:
    """PostgreSQL: read the reviews' table and indexes into shared_buffers before measuring,
    as a server answering for a while has them (SQLite's counterpart is the OS page cache,
    warm since the generation). Needs shared_buffers larger than them (bench/README.md)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        connection.execute(
            "SELECT pg_prewarm(c.oid) FROM pg_class c WHERE c.relname = 'claim_review'"
            " OR c.oid IN (SELECT indexrelid FROM pg_index"
            " WHERE indrelid = 'claim_review'::regclass)"
        )


def measure_database(name: str, url: str, count: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if name == "postgres":
        prewarm(url)
    slugs = OUT / "publisher-slugs.txt"
    slugs.write_text("\n".join(slug for slug, _ in publishers()) + "\n")
    with service(f"q-{name}", url) as server:
        warm = shapes(random.Random(1), 30)
        measured = shapes(random.Random(2), count)
        with httpx.Client(base_url=server.base, timeout=120) as client:
            for shape, paths in measured.items():
                # Facets are slow: warm with a few; time-box every shape (latencies budget_s).
                for path in warm[shape][: 3 if shape.startswith("c_") else None]:
                    client.get(path).raise_for_status()
                quiet = wait_quiet(f"{name} {shape}")
                budget = 45 if shape.startswith("c_") else 90
                results[shape] = latencies(client, paths, budget_s=budget) | {"quiet": quiet}
                log(f"{name} {shape}: {results[shape]}")
        for label, path, args in (
            ("list_publisher", "/", [str(slugs), "/v1/claim-reviews?publisher=%s&limit=20"]),
            ("list_unfiltered", "/v1/claim-reviews?limit=20", None),
        ):
            wrk(path, duration=3, args=args)
            quiet = wait_quiet(f"{name} {label}")
            results[label] = wrk(path, args=args, server=server) | {"quiet": quiet}
            log(f"{name} {label}: {results[label]['rps']:,.0f} req/s")
        page = httpx.get(server.base + "/v1/claim-reviews?limit=20").content
        (OUT / "body-page.json").write_bytes(page)
    return results


def list_pages(slugs: Path) -> list[tuple[str, str, list[str] | None]]:
    return [
        ("list_publisher", "/", [str(slugs), "/v1/claim-reviews?publisher=%s&limit=20"]),
        ("list_unfiltered", "/v1/claim-reviews?limit=20", None),
    ]


class Writer(threading.Thread):
    """Edits one review through the API ``per_second`` times a second, as a newsroom's CMS
    would: each commit changes the database's version, so every page the service kept
    (app/db/read_cache.py) must be read again. The list pages then measure the cache as a
    service that is being written to sees it, not only a database that never changes."""

    def __init__(self, base: str, per_second: float) -> None:
        super().__init__(daemon=True)
        self.interval = 1 / per_second
        self.client = httpx.Client(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        self.review = self.client.get("/v1/claim-reviews?limit=1").json()["items"][0]["id"]
        self.stopped = threading.Event()
        self.writes = 0

    def run(self) -> None:
        started = time.monotonic()
        # On a schedule, not a pause after each write: a slow write does not lower the rate.
        while not self.stopped.wait(
            max(0, started + (self.writes + 1) * self.interval - time.monotonic())
        ):
            response = self.client.patch(
                f"/v1/claim-reviews/{self.review}",
                content=json.dumps({"headline": f"Benchmark edit {self.writes}"}),
                headers={"Content-Type": "application/merge-patch+json"},
            )
            response.raise_for_status()
            self.writes += 1

    def stop(self) -> int:
        """Stop writing; the number of writes made."""
        self.stopped.set()
        self.join()
        self.client.close()
        return self.writes


def measure_list_pages(
    name: str, url: str, body: Path, *, slices: int, seconds: float, writes_per_second: float
) -> dict[str, Any]:
    """List pages against the ceiling in alternating slices, both servers up (the ceiling on
    PORT + 1): on a busy machine the drift hits both sides alike, so the ratio holds where the
    absolute figures do not. No quiet-machine wait; the 1-minute load is recorded. With
    ``writes_per_second``, a ``Writer`` edits a review while the service's slices run."""
    slugs = OUT / "publisher-slugs.txt"
    slugs.write_text("\n".join(slug for slug, _ in publishers()) + "\n")
    results: dict[str, Any] = {}
    bare = Server(
        "q-ceiling", ["bench.ceiling:app"], {"BENCH_BODY": str(body)}, CEILING_PATH, PORT + 1
    )
    with bare as ceiling, service(f"q-{name}", url) as server:
        for label, path, args in list_pages(slugs):
            wrk(CEILING_PATH, duration=2, server=ceiling)
            wrk(path, duration=3, args=args, server=server)
            load1 = load_average()
            ceiling_runs, service_runs, writes = [], [], 0
            for _ in range(slices):
                ceiling_runs.append(wrk(CEILING_PATH, duration=seconds, server=ceiling))
                writer = Writer(server.base, writes_per_second) if writes_per_second else None
                if writer:
                    writer.start()
                service_runs.append(wrk(path, duration=seconds, args=args, server=server))
                writes += writer.stop() if writer else 0
            service_rps, ceiling_rps = combined_rps(service_runs), combined_rps(ceiling_runs)
            results[label] = {
                "rps": service_rps,
                "ceiling_rps": ceiling_rps,
                "ratio": round(service_rps / ceiling_rps, 3),
                "slices_rps": [round(run["rps"]) for run in service_runs],
                "ceiling_slices_rps": [round(run["rps"]) for run in ceiling_runs],
                "p50_ms": statistics.median(run["p50_ms"] for run in service_runs),
                "p99_ms": statistics.fmean(run["p99_ms"] for run in service_runs),
                "server_cpu": statistics.fmean(run["server_cpu"] for run in service_runs),
                "errors": sum(run["errors"] for run in service_runs),
                "writes_per_second": round(writes / (slices * seconds), 2),
                "load1_before": load1,
                "load1_after": load_average(),
            }
            log(f"{name} {label}: {results[label]}")
    return results


def combined_rps(runs: list[dict[str, Any]]) -> float:
    return round(sum(run["requests"] for run in runs) / sum(run["seconds"] for run in runs), 1)


def list_pages_table(results: dict[str, Any]) -> str:
    out = [
        f"Run {results['date']} on {results['machine']}; {results['slices']} alternating slices"
        f" of {results['slice_seconds']} s per side; read cache"
        f" {os.environ.get('CLAIMREVIEW_READ_CACHE_MB', '32 (default)')} MB.",
        "",
        "| database | list page (JSON, limit 20) | writes/s | req/s | ceiling req/s (same slices)"
        " | ratio | target | p50 ms | p99 ms | server CPU | load1 | result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in ("sqlite", "postgres"):
        for label, row in results.get(name, {}).items():
            verdict = "pass" if row["ratio"] >= 0.5 and not row["errors"] else "**fail**"
            out.append(
                f"| {name} | {label} | {row.get('writes_per_second', 0):g} | {row['rps']:,.0f}"
                f" | {row['ceiling_rps']:,.0f}"
                f" | {row['ratio']:.2f}"
                f" | ≥ 0.50 | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['server_cpu']:.2f}"
                f" | {row['load1_before']} | {verdict} |"
            )
    return "\n".join(out)


# Plans


def plan_filters() -> dict[str, tuple[str, ReviewFilter]]:
    return {
        "a_q_publisher": ("list", ReviewFilter(search="madrid", publisher_slug="fc-es-1")),
        "b_language_verdict": ("list", ReviewFilter(language="es", verdict="false")),
        "b_publisher_verdict": (
            "list",
            ReviewFilter(publisher_slug="fc-en-1", verdict="misleading"),
        ),
        "list_publisher": ("list", ReviewFilter(publisher_slug="fc-de-1")),
        "list_unfiltered": ("list", ReviewFilter()),
        "c_facets_one_filter": ("facets", ReviewFilter(language="es")),
        "c_facets_unfiltered": ("facets", ReviewFilter()),
    }


def statements(
    dialect: Any, kind: str, review_filter: ReviewFilter
) -> list[tuple[str, str, list[Any]]]:
    if kind == "list":
        sql, params = query.list_reviews(
            review_filter,
            dialect=dialect,
            sort="newest",
            after=None,
            limit=21,
            body_column="native",
        )
        return [("page", sql, params)]
    found = [("total", *query.count_total(review_filter, dialect=dialect))]
    for facet in ("publisher", "verdict", "language", "claimant"):
        found.append(
            (facet, *query.count_facet(review_filter, dialect=dialect, facet=facet, top=10))
        )
    return found


def sqlite_plans() -> str:
    lines = []
    with sqlite3.connect(SQLITE_PATH) as connection:
        for shape, (kind, review_filter) in plan_filters().items():
            for part, sql, params in statements("sqlite", kind, review_filter):
                lines.append(f"-- {shape} / {part}\n{sql}\n-- params {params}")
                rows = connection.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                depth = {0: 0}
                for node, parent, _unused, detail in rows:
                    depth[node] = depth.get(parent, 0) + 1
                    lines.append("  " * depth[node] + detail)
                lines.append("")
    return "\n".join(lines)


def postgres_plans() -> str:
    lines = []
    with psycopg.connect(
        PG_URL, autocommit=True, cursor_factory=psycopg.ClientCursor
    ) as connection:
        for shape, (kind, review_filter) in plan_filters().items():
            for part, sql, params in statements("postgresql", kind, review_filter):
                lines.append(f"-- {shape} / {part}\n{sql}\n-- params {params}")
                rows = connection.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
                lines.extend("  " + row[0] for row in rows)
                lines.append("")
    return "\n".join(lines)


# Report


def table(results: dict[str, Any]) -> str:
    ceiling = results["ceiling_rps"]
    out = [
        f"Run {results['date']} on {results['machine']}.",
        "",
        "| database | measurement | n | p50 ms | p95 ms | target p95 | load1 | result |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name in ("sqlite", "postgres"):
        if name not in results:
            continue
        for shape, target in TARGETS.items():
            row = results[name][shape]
            verdict = "pass" if row["p95_ms"] < target else "**fail**"
            out.append(
                f"| {name} | {shape} | {row['n']} | {row['p50_ms']} | {row['p95_ms']} "
                f"| < {target} | {row['quiet']['load1']} | {verdict} |"
            )
    out += [
        "",
        f"Ceiling (bench/ceiling.py, one stored review): {results['ceiling_runs'][0]:,.0f} and "
        f"{results['ceiling_runs'][1]:,.0f} req/s, mean {ceiling:,.0f}.",
        "",
        "| database | list page (JSON, limit 20) | req/s | p50 ms | p99 ms | server CPU"
        " | ratio to ceiling | target | load1 | result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in ("sqlite", "postgres"):
        if name not in results:
            continue
        for label in ("list_publisher", "list_unfiltered"):
            row = results[name][label]
            ratio = row["rps"] / ceiling
            verdict = "pass" if ratio >= 0.5 and not row["errors"] else "**fail**"
            out.append(
                f"| {name} | {label} | {row['rps']:,.0f} | {row['p50_ms']:.1f}"
                f" | {row['p99_ms']:.1f} | {row['server_cpu']} | {ratio:.2f} | ≥ 0.50"
                f" | {row['quiet']['load1']} | {verdict} |"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-plans", action="store_true")
    parser.add_argument(
        "--list-pages",
        action="store_true",
        help="only the list pages, in slices alternating with the ceiling, without waiting"
        " for a quiet machine (results: bench/out/list-pages.json)",
    )
    parser.add_argument("--slices", type=int, default=5)
    parser.add_argument("--slice-seconds", type=float, default=3)
    parser.add_argument(
        "--writes-per-second",
        type=float,
        default=0,
        help="with --list-pages: edit a review through the API this often while the service"
        " serves pages (each write makes every kept page stale)",
    )
    args = parser.parse_args()

    with sqlite3.connect(SQLITE_PATH) as connection:
        # The median-length JSON-LD of a 2,001-row sample: sorting all of them reads the
        # whole 7.7 GB table.
        body = connection.execute(
            "SELECT jsonld FROM (SELECT jsonld FROM claim_review LIMIT 2001)"
            " ORDER BY length(jsonld) LIMIT 1 OFFSET 1000"
        ).fetchone()[0]
    body_file = OUT / "body-query.jsonld"
    body_file.write_bytes(body)

    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
    }
    if args.list_pages:
        results |= {"slices": args.slices, "slice_seconds": args.slice_seconds}
        for name, url in (("sqlite", SQLITE_URL), ("postgres", PG_URL)):
            if args.only in (None, name):
                results[name] = measure_list_pages(
                    name,
                    url,
                    body_file,
                    slices=args.slices,
                    seconds=args.slice_seconds,
                    writes_per_second=args.writes_per_second,
                )
        (OUT / "list-pages.json").write_text(json.dumps(results, indent=2))
        print(list_pages_table(results))
        return
    ceilings = [measure_ceiling(body_file)]
    for name, url in (("sqlite", SQLITE_URL), ("postgres", PG_URL)):
        if args.only in (None, name):
            results[name] = measure_database(name, url, args.requests)
    ceilings.append(measure_ceiling(body_file))
    results["ceiling"] = ceilings
    results["ceiling_runs"] = [c["rps"] for c in ceilings]
    results["ceiling_rps"] = sum(results["ceiling_runs"]) / 2
    page_ceiling = measure_ceiling(OUT / "body-page.json")
    results["ceiling_page_rps"] = page_ceiling["rps"]
    results["ceiling_page"] = page_ceiling
    (OUT / "query-results.json").write_text(json.dumps(results, indent=2))
    if not args.no_plans:
        if args.only in (None, "sqlite"):
            (OUT / "plans-sqlite.txt").write_text(sqlite_plans())
        if args.only in (None, "postgres"):
            (OUT / "plans-postgres.txt").write_text(postgres_plans())
    print(table(results))
    print(f"\nCeiling serving a 20-item list page body: {page_ceiling['rps']:,.0f} req/s")


if __name__ == "__main__":
    main()
