"""Run the whole benchmark in one go and print the results table (bench/README.md).

    .venv/bin/python bench/run.py                 # seed both databases, then measure
    .venv/bin/python bench/run.py --reuse         # keep already-seeded databases

Steps, one at a time (never two servers or two wrk runs at once on this 2-core machine):

1. Seed SQLite (``bench/out/bench.db``) and PostgreSQL (database ``claimreview_bench``) with
   ``--count`` published reviews through ``bench/seed.py``, unless ``--reuse`` finds them seeded.
2. Ceiling: ``bench/ceiling.py`` under uvicorn (1 worker, no access log, uvloop, httptools),
   serving one stored review's JSON-LD bytes; wrk, 32 connections, 2 threads.
3. For SQLite and PostgreSQL: the service (``uvicorn app.main:create_app --factory --workers 1
   --no-access-log``), with its own access log off and on; wrk with random ids on
   ``GET /v1/claim-reviews/{id}.jsonld``, and (access log off) on ``GET /v1/claim-reviews/{id}``.
4. Creates: a fresh publisher and key through the admin API, then wrk POSTs unique bodies to
   ``/v1/claim-reviews`` (16 connections); created rows are counted in the database afterwards.
5. The ceiling again, so drift during the run shows; ratios use the mean of both ceiling runs.

Each wrk run is preceded by a short warm-up run whose figures are discarded. Server output
(including the access log) goes to ``bench/out/*.log``; results to ``bench/out/results.json``.
"""

import argparse
import json
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
VENV_BIN = Path(sys.executable).parent
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc"]
PG_DATABASE = "claimreview_bench"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}"
SQLITE_PATH = OUT / "bench.db"
SQLITE_URL = f"sqlite:///{SQLITE_PATH}"
ADMIN_TOKEN = "bench-admin-token"
PORT = 8765
UVICORN = [str(VENV_BIN / "uvicorn"), "--workers", "1", "--no-access-log"]
UVICORN += ["--loop", "uvloop", "--http", "httptools", "--host", "127.0.0.1", "--port", str(PORT)]
BASE = f"http://127.0.0.1:{PORT}"


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# Databases


def pg_count() -> int | None:
    exists = subprocess.run(
        [*PG_ADMIN, f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        return None
    query = "SELECT count(*) FROM claim_review"
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", PG_DATABASE, "-Atc", query],
        capture_output=True,
        text=True,
    )
    return int(result.stdout) if result.returncode == 0 else None


def sqlite_count() -> int | None:
    if not SQLITE_PATH.exists():
        return None
    try:
        with sqlite3.connect(SQLITE_PATH) as connection:
            return connection.execute("SELECT count(*) FROM claim_review").fetchone()[0]
    except sqlite3.Error:
        return None


def seed(name: str, url: str, count: int, ids_file: Path) -> None:
    log(f"seeding {name} with {count} reviews")
    env = {**os.environ, "CLAIMREVIEW_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, str(BENCH / "seed.py"), "--count", str(count), "--ids", str(ids_file)],
        env=env,
        cwd=ROOT,
        check=True,
    )


def prepare_databases(*, count: int, reuse: bool, postgres: bool) -> None:
    OUT.mkdir(exist_ok=True)
    ids = OUT / "ids-sqlite.txt"
    if not (reuse and sqlite_count() == count and ids.exists()):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        seed("SQLite", SQLITE_URL, count, ids)
    if not postgres:
        return
    ids = OUT / "ids-postgres.txt"
    if not (reuse and pg_count() == count and ids.exists()):
        subprocess.run([*PG_ADMIN, f"DROP DATABASE IF EXISTS {PG_DATABASE}"], check=True)
        subprocess.run([*PG_ADMIN, f"CREATE DATABASE {PG_DATABASE}"], check=True)
        seed("PostgreSQL", PG_URL, count, ids)
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                PG_DATABASE,
                "-qc",
                "VACUUM ANALYZE",
            ],
            check=True,
        )


def write_body_file() -> Path:
    """One stored review of median size: the bytes the ceiling app serves."""
    with sqlite3.connect(SQLITE_PATH) as connection:
        rows = connection.execute(
            "SELECT jsonld FROM claim_review ORDER BY length(jsonld) LIMIT 1 OFFSET "
            "(SELECT count(*) / 2 FROM claim_review)"
        ).fetchone()
    body = OUT / "body.jsonld"
    body.write_bytes(rows[0])
    return body


def warm_page_cache(name: str) -> None:
    """Read the database files once so the first measured run does not pay for the disk."""
    if name == "sqlite":
        for suffix in ("", "-wal"):
            path = Path(f"{SQLITE_PATH}{suffix}")
            if path.exists():
                with path.open("rb") as handle:
                    while handle.read(1 << 20):
                        pass
    else:
        query = "SELECT sum(length(jsonld)) FROM claim_review"
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", PG_DATABASE, "-Atc", query],
            capture_output=True,
            check=True,
        )


# Processes


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def postgres_pids() -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == "postgres":
                pids.append(int(stat.parent.name))
        except OSError:
            continue
    return pids


class Server:
    """One uvicorn process, started and stopped by pid."""

    def __init__(self, name: str, target: list[str], env: dict[str, str], ready: str) -> None:
        self.name = name
        self.log_path = OUT / f"{name}.log"
        self.command = [*UVICORN, *target]
        self.env = {**os.environ, **env}
        self.ready = ready
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Server":
        log(f"starting {self.name}")
        with self.log_path.open("wb") as output:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                if httpx.get(BASE + self.ready, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready; see {self.log_path}")

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def wrk(
    path: str,
    *,
    duration: float,
    connections: int = 32,
    script: str = "random_ids.lua",
    args: list[str] | None = None,
    server: Server | None = None,
    watch_postgres: bool = False,
) -> dict[str, Any]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    command += ["-s", str(BENCH / script), BASE + path]
    if args:
        command += ["--", *args]
    pg = postgres_pids() if watch_postgres else []
    before = (cpu_seconds([server.pid]) if server else 0.0, cpu_seconds(pg))
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after = (cpu_seconds([server.pid]) if server else 0.0, cpu_seconds(pg))
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    result["server_cpu"] = round((after[0] - before[0]) / result["seconds"], 2)
    if watch_postgres:
        result["postgres_cpu"] = round((after[1] - before[1]) / result["seconds"], 2)
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    result["errors"] = errors + result["status_errors"]
    return result


def measure_ceiling(body: Path, duration: float, warmup: float) -> dict[str, Any]:
    path = "/v1/claim-reviews/ceiling.jsonld"
    with Server("ceiling", ["bench.ceiling:app"], {"BENCH_BODY": str(body)}, path) as server:
        wrk(path, duration=warmup)
        result = wrk(path, duration=duration, server=server)
    log(f"ceiling: {result['rps']:,.0f} req/s")
    return result


def measure_reads(name: str, url: str, duration: float, warmup: float) -> dict[str, Any]:
    ids = str(OUT / f"ids-{name}.txt")
    results: dict[str, Any] = {}
    warm_page_cache(name)
    for access_log in ("false", "true"):
        env = {
            "CLAIMREVIEW_DATABASE_URL": url,
            "CLAIMREVIEW_ACCESS_LOG": access_log,
            "CLAIMREVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
        }
        label = f"{name}-log-{'on' if access_log == 'true' else 'off'}"
        jsonld, native = "/v1/claim-reviews/%s.jsonld", "/v1/claim-reviews/%s"
        with Server(label, ["app.main:create_app", "--factory"], env, "/healthz") as server:
            wrk("/", duration=warmup, args=[ids, jsonld])
            key = f"jsonld_log_{'on' if access_log == 'true' else 'off'}"
            results[key] = wrk(
                "/",
                duration=duration,
                args=[ids, jsonld],
                server=server,
                watch_postgres=name == "postgres",
            )
            log(f"{label} .jsonld: {results[key]['rps']:,.0f} req/s")
            if access_log == "false":
                results["native"] = wrk(
                    "/",
                    duration=duration,
                    args=[ids, native],
                    server=server,
                    watch_postgres=name == "postgres",
                )
                log(f"{label} native: {results['native']['rps']:,.0f} req/s")
    return results


def measure_creates(name: str, url: str, duration: float, connections: int) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    import seed  # noqa: PLC0415  (bench/seed.py, for its fact-check generator)

    slug = f"bench-{name}-{int(time.time())}"
    spec = {
        **seed.PUBLISHERS[0],
        "slug": slug,
        "name": f"Bench writer {name}",
        "url": "https://factcheck.bench.example/",
        "site": "https://factcheck.bench.example",
    }
    bodies = OUT / f"bodies-{name}.jsonl"
    rng = random.Random(7)
    with bodies.open("w") as handle:
        for number in range(int(duration * 2_000)):
            handle.write(json.dumps(seed.fact_check(rng, spec, number)) + "\n")
    env = {
        "CLAIMREVIEW_DATABASE_URL": url,
        "CLAIMREVIEW_ACCESS_LOG": "false",
        "CLAIMREVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    with Server(f"{name}-writes", ["app.main:create_app", "--factory"], env, "/healthz") as server:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        publisher = {"slug": slug, "name": spec["name"], "url": spec["url"], "language": "en"}
        httpx.post(BASE + "/v1/publishers", json=publisher, headers=admin).raise_for_status()
        answer = httpx.post(
            f"{BASE}/v1/publishers/{slug}/keys",
            json={"name": "bench", "scopes": ["reviews:write"]},
            headers=admin,
        )
        answer.raise_for_status()
        key = answer.json()["key"]
        result = wrk(
            "/",
            duration=duration,
            connections=connections,
            script="post_reviews.lua",
            args=[str(bodies), key, "2"],
            server=server,
            watch_postgres=name == "postgres",
        )
    result["created"] = created_rows(name, slug)
    result["creates_per_s"] = round(result["created"] / result["seconds"], 1)
    log(f"{name} creates: {result['creates_per_s']:,.0f}/s ({result['created']} rows)")
    return result


def created_rows(name: str, slug: str) -> int:
    query = (
        "SELECT count(*) FROM claim_review r JOIN publisher p ON p.id = r.publisher_id "
        f"WHERE p.slug = '{slug}'"
    )
    if name == "sqlite":
        with sqlite3.connect(SQLITE_PATH) as connection:
            return int(connection.execute(query).fetchone()[0])
    return int(
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", PG_DATABASE, "-Atc", query],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


# Report


def table(results: dict[str, Any]) -> str:
    ceiling = results["ceiling_rps"]
    targets = {"sqlite": 0.6, "postgres": 0.4}
    lines = [
        "| run | req/s | p50 ms | p99 ms | × ceiling | target | result | server CPU | PG CPU |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]

    def row(label: str, run: dict[str, Any], target: float | None) -> str:
        ratio = run["rps"] / ceiling
        verdict = ("pass" if ratio >= target else "FAIL") if target else "info"
        if run["errors"]:
            verdict += f" ({run['errors']} errors)"
        return (
            f"| {label} | {run['rps']:,.0f} | {run['p50_ms']:.2f} | {run['p99_ms']:.2f} "
            f"| {ratio:.2f} | {f'≥ {target}' if target else '–'} | {verdict} "
            f"| {run['server_cpu']:.2f} | {run.get('postgres_cpu', '–')} |"
        )

    for index, run in enumerate(results["ceiling"]):
        lines.append(row(f"ceiling (bare FastAPI, bytes from memory) #{index + 1}", run, None))
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    for name, reads in results["reads"].items():
        target = targets[name]
        lines.append(
            row(f"{names[name]} `.jsonld`, access log off", reads["jsonld_log_off"], target)
        )
        lines.append(row(f"{names[name]} `.jsonld`, access log on", reads["jsonld_log_on"], target))
        lines.append(row(f"{names[name]} native JSON, access log off", reads["native"], None))
    lines.append("")
    lines.append("| creates (POST /v1/claim-reviews) | creates/s | p50 ms | p99 ms | errors |")
    lines.append("|---|---:|---:|---:|---:|")
    for name, run in results["creates"].items():
        lines.append(
            f"| {names[name]}, {results['write_connections']} connections "
            f"| {run['creates_per_s']:,.0f} | {run['p50_ms']:.1f} | {run['p99_ms']:.1f} "
            f"| {run['errors']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="reviews per database")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per server")
    parser.add_argument("--write-connections", type=int, default=16)
    parser.add_argument("--reuse", action="store_true", help="keep seeded databases")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    databases = {"sqlite": SQLITE_URL}
    if not args.skip_postgres:
        databases["postgres"] = PG_URL
    prepare_databases(count=args.count, reuse=args.reuse, postgres=not args.skip_postgres)
    body = write_body_file()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "reviews": args.count,
        "body_bytes": body.stat().st_size,
        "duration_s": args.duration,
        "write_connections": args.write_connections,
        "ceiling": [measure_ceiling(body, args.duration, args.warmup)],
        "reads": {},
        "creates": {},
    }
    for name, url in databases.items():
        results["reads"][name] = measure_reads(name, url, args.duration, args.warmup)
    for name, url in databases.items():
        results["creates"][name] = measure_creates(name, url, args.duration, args.write_connections)
    results["ceiling"].append(measure_ceiling(body, args.duration, args.warmup))
    results["ceiling_rps"] = sum(run["rps"] for run in results["ceiling"]) / 2
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{results['date']} · {results['machine']} · {args.count} reviews per database")
    print(f"JSON-LD body {results['body_bytes']} bytes · wrk 2 threads, 32 connections, ")
    print(f"{args.duration:g} s per run\n")
    print(table(results))


if __name__ == "__main__":
    main()
