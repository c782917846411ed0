"""Issue 5 benchmark: importing 100,000 ClaimReviews from NDJSON, through ``claimreview import``
and through ``POST /v1/import``, into a fresh SQLite file and a fresh PostgreSQL database.

    .venv/bin/python bench/import_bench.py                     # both engines, both paths
    .venv/bin/python bench/import_bench.py --only sqlite --count 20000 --max-wait 0

1. NDJSON: ``bench/out/import-{count}.ndjson``, one ClaimReview a line (≈ 1.1 KB), made by
   ``generate.Renderer`` (50 publishers, 11 languages; kept between runs). Each line is the
   JSON-LD the service renders, with an ``@id`` of another host, so it is keyed by that IRI.
2. Per engine and path, a fresh database (SQLite: a new file; PostgreSQL: the database
   ``claimreview_import_bench`` dropped and created), migrated, with the 50 publishers.
3. CLI: ``claimreview import FILE`` (authors matched to publishers), timed from start to exit
   (start-up included), then the same file again (every item ``unchanged``).
   HTTP: one uvicorn worker (uvloop, httptools, access log and dispatcher off); the file POSTed
   with the admin token in bodies of ``--chunk`` lines (the import body cap is 64 MiB), one
   after another; timed from the first request to the last response.

Before each run the machine is checked for quiet (``benchlib.wait_quiet``, up to
``--max-wait`` s); the load average and the busy fraction of both cores during the run are
recorded with each figure, as is the CPU time of the importing process (CLI or server).
Results: ``bench/out/import-results.json`` and a Markdown table on stdout.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402
from benchlib import (  # noqa: E402
    OUT,
    ROOT,
    VENV_BIN,
    Server,
    cpu_seconds,
    fresh_database_at,
    load_average,
    log,
    wait_quiet,
)

sys.path.insert(0, str(ROOT))
from app.db.engine import sqlalchemy_url  # noqa: E402

PG_DATABASE = "claimreview_import_bench"
ADMIN_TOKEN = "import-bench-admin-token-0123456789"
CLAIMREVIEW = str(VENV_BIN / "claimreview")
PORT = 8793  # not benchlib's 8791: the other benchmarks may be running


def ndjson_file(count: int) -> Path:
    """The input, generated once per count (publisher ids do not appear in the JSON-LD)."""
    path = OUT / f"import-{count}.ndjson"
    if path.exists():
        return path
    log(f"generating {count:,} ClaimReviews into {path}")
    specs = generate.publishers()
    for number, spec in enumerate(specs, start=1):
        spec["id"] = number
    renderer = generate.Renderer(count, specs, "https://elsewhere.example")
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        for start in range(0, count, generate.CHUNK):
            rows = renderer.chunk(start, min(generate.CHUNK, count - start))
            out.writelines(row["jsonld"] + b"\n" for row in rows["review"])
    partial.rename(path)
    return path


def fresh_database(engine_name: str, label: str) -> str:
    """A new, migrated database holding the 50 publishers; its URL."""
    url = fresh_database_at(
        engine_name, sqlite_path=OUT / f"import-{label}.db", pg_database=PG_DATABASE
    )
    engine = create_engine(sqlalchemy_url(url))
    generate.ensure_publishers(engine, generate.publishers())
    engine.dispose()
    return url


def stored_reviews(url: str) -> int:
    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as connection:
        count = int(connection.execute(text("SELECT count(*) FROM claim_review")).scalar_one())
    engine.dispose()
    return count


class Machine:
    """Busy fraction of all cores and the load average over a measured stretch."""

    def __enter__(self) -> "Machine":
        self.started = time.monotonic()
        self.stat = _cpu_stat()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.monotonic() - self.started
        total0, idle0 = self.stat
        total1, idle1 = _cpu_stat()
        self.busy_cores = (1 - (idle1 - idle0) / max(1, total1 - total0)) * (os.cpu_count() or 1)
        self.load1 = load_average()


def _cpu_stat() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def import_cli(url: str, path: Path) -> dict[str, Any]:
    env = {**os.environ, "CLAIMREVIEW_DATABASE_URL": url, "COLUMNS": "100"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with Machine() as machine:
        done = subprocess.run(
            [CLAIMREVIEW, "import", str(path)], env=env, capture_output=True, text=True
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"claimreview import failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    summary = done.stdout.strip().splitlines()[-1]
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return _figures(machine, summary=summary, importer_cpu=cpu)


def import_http(url: str, path: Path, chunk: int) -> dict[str, Any]:
    env = {
        "CLAIMREVIEW_DATABASE_URL": url,
        "CLAIMREVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
        "CLAIMREVIEW_ACCESS_LOG": "false",
        "CLAIMREVIEW_DISPATCHER_ENABLED": "false",
    }
    bodies = _bodies(path, chunk)
    totals = {"created": 0, "updated": 0, "unchanged": 0, "invalid": 0}
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/x-ndjson"}
    with (
        Server(
            "import-http", ["app.main:create_app", "--factory"], env, "/healthz", PORT
        ) as server,
        httpx.Client(base_url=server.base, timeout=3600, headers=headers) as client,
    ):
        cpu_before = _cpu_with_workers(server.pid)
        with Machine() as machine:
            for body in bodies:
                response = client.post("/v1/import", content=body)
                response.raise_for_status()
                report = response.json()
                for status in totals:
                    totals[status] += report[status]
        cpu = _cpu_with_workers(server.pid) - cpu_before
    summary = ", ".join(f"{status} {count}" for status, count in totals.items())
    return _figures(machine, summary=summary, importer_cpu=cpu, requests=len(bodies))


def _cpu_with_workers(pid: int) -> float:
    """CPU seconds of the server and of the worker processes it has ended (each import's
    pool is ended before its response)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    children = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return cpu_seconds(pid) + children


def _bodies(path: Path, chunk: int) -> list[bytes]:
    lines = path.read_bytes().splitlines(keepends=True)
    return [b"".join(lines[start : start + chunk]) for start in range(0, len(lines), chunk)]


def _figures(machine: Machine, **extra: Any) -> dict[str, Any]:
    return {
        "seconds": round(machine.seconds, 1),
        "busy_cores": round(machine.busy_cores, 2),
        "load1": machine.load1,
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=25_000, help="lines per POST /v1/import")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--max-wait", type=float, default=600, help="seconds to wait for quiet")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    path = ndjson_file(args.count)
    engines = [args.only] if args.only else ["sqlite", "postgres"]
    results: list[dict[str, Any]] = []
    for engine_name in engines:
        for route in ("cli", "http"):
            url = fresh_database(engine_name, route)
            quiet = wait_quiet(f"{engine_name} {route}", max_wait=args.max_wait)
            log(f"{engine_name} {route}: importing {args.count:,} reviews")
            if route == "cli":
                runs = [("new", import_cli(url, path)), ("again", import_cli(url, path))]
            else:
                runs = [("new", import_http(url, path, args.chunk))]
            assert stored_reviews(url) == args.count, "every review must be stored once"
            for kind, figures in runs:
                figures.update(engine=engine_name, route=route, kind=kind, quiet=quiet)
                figures["reviews_per_s"] = round(args.count / figures["seconds"])
                log(f"{engine_name} {route} {kind}: {figures}")
                results.append(figures)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    record = {"when": stamp, "commit": commit, "count": args.count, "results": results}
    (OUT / "import-results.json").write_text(json.dumps(record, indent=2) + "\n")
    print(table(record))


def table(record: dict[str, Any]) -> str:
    lines = [
        f"### {record['when']} (commit `{record['commit']}`, {record['count']:,} ClaimReviews)",
        "",
        "| engine | path | import | seconds | reviews/s | target | importer CPU s | "
        "machine busy (of 2 cores) | load avg | report |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in record["results"]:
        target = "≥ 2,000" if row["kind"] == "new" else "–"
        path = "`claimreview import`" if row["route"] == "cli" else "`POST /v1/import`"
        lines.append(
            f"| {'SQLite' if row['engine'] == 'sqlite' else 'PostgreSQL'} | {path} | "
            f"{row['kind']} | {row['seconds']} | **{row['reviews_per_s']:,}** | {target} | "
            f"{row['importer_cpu']:.1f} | {row['busy_cores']} | {row['load1']} | "
            f"{row['summary']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
