"""Run the whole benchmark in one go and print the results table (bench/README.md).

    .venv/bin/python bench/run.py                 # seed both databases, then measure
    .venv/bin/python bench/run.py --reuse         # keep already-seeded databases

One thing at a time (never two benchmarks at once on this 2-core machine):

1. Seed SQLite (``bench/out/bench.db``) and PostgreSQL (database ``claimreview_bench``) with
   ``--count`` published reviews through ``bench/seed.py``, unless ``--reuse`` finds them seeded.
2. Start the ceiling, ``bench/ceiling.py`` (one stored review's JSON-LD bytes from memory), and
   keep it up, idle between its slices.
3. For SQLite, then PostgreSQL: the service (``uvicorn app.main:create_app --factory --workers 1
   --no-access-log``) with its own access log off, then on; wrk with random ids on
   ``GET /v1/claim-reviews/{id}.jsonld`` (and, log off, the native ``GET /v1/claim-reviews/{id}``)
   in ``--slices`` slices alternating with as many slices against the ceiling; the ratio is of
   the totals, so the drift of this virtual machine hits both sides alike.
4. Creates: a fresh publisher and key through the admin API, then wrk POSTs unique bodies to
   ``/v1/claim-reviews``; created rows are counted in the database afterwards.

Both uvicorns: 1 worker, ``--no-access-log``, ``--no-proxy-headers``, uvloop, httptools; wrk:
2 threads, 32 connections. Server output (with the access log when on) goes to
``bench/out/*.log``; every figure to ``bench/out/results.json``.
"""

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import seed  # bench/seed.py (this script's directory is on sys.path): the fact-check generator
from benchlib import ADMIN_TOKEN, UNTHROTTLED, Server  # uvicorn processes, started by pid

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"]
PG_DATABASE = "claimreview_bench"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}"
SQLITE_PATH = OUT / "bench.db"
SQLITE_URL = f"sqlite:///{SQLITE_PATH}"
PORT = 8765
CEILING_PORT = 8766
# Before each measured run: wait until other work uses fewer cores than this (see wait_for_quiet).
QUIET = {"threshold": 0.15, "max_wait": 300.0}
OTHER_LOAD_WARNING = 0.2


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# Databases


def psql(query: str, *, database: str = "postgres", check: bool = True) -> str | None:
    """Run one statement with psql; its output, or None when it failed and check is off."""
    result = subprocess.run(
        [*PSQL, "-d", database, "-c", query], capture_output=True, text=True, check=check
    )
    return result.stdout.strip() if result.returncode == 0 else None


def pg_count() -> int | None:
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"):
        return None
    found = psql("SELECT count(*) FROM claim_review", database=PG_DATABASE, check=False)
    return int(found) if found else None


def sqlite_count() -> int | None:
    if not SQLITE_PATH.exists():
        return None
    try:
        with sqlite3.connect(SQLITE_PATH) as connection:
            return connection.execute("SELECT count(*) FROM claim_review").fetchone()[0]
    except sqlite3.Error:
        return None


def seed_database(name: str, url: str, count: int, ids_file: Path) -> None:
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
    if not (reuse and (sqlite_count() or 0) >= count and ids.exists()):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        seed_database("SQLite", SQLITE_URL, count, ids)
    if not postgres:
        return
    ids = OUT / "ids-postgres.txt"
    if not (reuse and (pg_count() or 0) >= count and ids.exists()):
        psql(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
        psql(f"CREATE DATABASE {PG_DATABASE}")
        seed_database("PostgreSQL", PG_URL, count, ids)
        psql("VACUUM ANALYZE", database=PG_DATABASE)


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
        psql("SELECT sum(length(jsonld)) FROM claim_review", database=PG_DATABASE)


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


def machine_seconds() -> tuple[float, float]:
    """Busy and stolen CPU seconds of the whole machine so far (all cores, from /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


def wait_for_quiet() -> None:
    """Wait until other work leaves the machine idle (busy < QUIET threshold over 2 s).

    The machine is shared with other sessions (test suites, builds, their benchmarks);
    measuring while they run halves the figures. Gives up after QUIET["max_wait"] seconds.
    """
    deadline = time.monotonic() + QUIET["max_wait"]
    warned = False
    while True:
        busy = machine_seconds()[0]
        time.sleep(2)
        load = (machine_seconds()[0] - busy) / 2
        if load < QUIET["threshold"] or time.monotonic() > deadline:
            return
        if not warned:
            log(f"waiting for the machine to be idle (other work uses {load:.2f} cores)")
            warned = True


def wrk(
    server: Server,
    path: str,
    *,
    seconds: int,
    connections: int = 32,
    script: str = "random_ids.lua",
    args: list[str] | None = None,
) -> dict[str, Any]:
    """One wrk run, with the CPU used by the server, PostgreSQL, wrk itself and anything else."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(BENCH / script), server.base + path]
    if args:
        command += ["--", *args]
    pg = postgres_pids()
    before = (cpu_seconds([server.pid]), cpu_seconds(pg), *machine_seconds())
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    after = (cpu_seconds([server.pid]), cpu_seconds(pg), *machine_seconds())
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {output}")
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    elapsed = result["seconds"]
    server_cpu, pg_cpu, busy, steal = (
        (a - b) / elapsed for a, b in zip(after, before, strict=True)
    )
    wrk_cpu = (usage.ru_utime + usage.ru_stime) / elapsed
    result["server_cpu"] = server_cpu
    result["postgres_cpu"] = pg_cpu
    result["wrk_cpu"] = wrk_cpu
    result["steal"] = steal
    # Whatever is left: other sessions' work (and a little kernel network work).
    result["other_cpu"] = max(busy - server_cpu - pg_cpu - wrk_cpu, 0.0)
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    result["errors"] = errors + result["status_errors"]
    return result


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several wrk slices as one run: total requests over total time, median p50, mean p99."""
    elapsed = sum(run["seconds"] for run in runs)

    def weighted(key: str) -> float:
        return round(sum(run[key] * run["seconds"] for run in runs) / elapsed, 2)

    return {
        "requests": sum(run["requests"] for run in runs),
        "seconds": round(elapsed, 3),
        "rps": round(sum(run["requests"] for run in runs) / elapsed, 1),
        "p50_ms": round(statistics.median(run["p50_ms"] for run in runs), 3),
        "p99_ms": round(statistics.fmean(run["p99_ms"] for run in runs), 3),
        "max_ms": max(run["max_ms"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        **{key: weighted(key) for key in ("server_cpu", "postgres_cpu", "wrk_cpu", "steal")},
        "other_cpu": round(max(run["other_cpu"] for run in runs), 2),
        "slices_rps": [round(run["rps"]) for run in runs],
    }


def paired(
    ceiling: Server, service: Server, args: list[str], *, slices: int, seconds: int, warmup: int
) -> dict[str, Any]:
    """The service and the ceiling in alternating slices, so both see the same machine.

    This virtual machine's speed drifts by ±15 % from minute to minute even when idle; measured
    minutes apart, the ratio would carry that drift. Interleaved, it cancels. A pair disturbed
    by other work (> OTHER_LOAD_WARNING cores) is measured again, up to twice.
    """
    ceiling_path = "/v1/claim-reviews/ceiling.jsonld"
    for attempt in range(1, 4):
        wait_for_quiet()
        wrk(ceiling, ceiling_path, seconds=2)
        wrk(service, "/", seconds=warmup, args=args)
        ceiling_runs, service_runs = [], []
        for _ in range(slices):
            ceiling_runs.append(wrk(ceiling, ceiling_path, seconds=seconds))
            service_runs.append(wrk(service, "/", seconds=seconds, args=args))
        result: dict[str, Any] = {
            "service": combine(service_runs),
            "ceiling": combine(ceiling_runs),
        }
        result["ratio"] = round(result["service"]["rps"] / result["ceiling"]["rps"], 3)
        result["attempts"] = attempt
        disturbance = max(result["service"]["other_cpu"], result["ceiling"]["other_cpu"])
        if disturbance <= OTHER_LOAD_WARNING:
            break
        log(f"disturbed by other work ({disturbance:.2f} cores); measuring again")
    return result


def measure_reads(
    name: str, url: str, ceiling: Server, *, slices: int, seconds: int, warmup: int
) -> dict[str, Any]:
    ids = str(OUT / f"ids-{name}.txt")
    results: dict[str, Any] = {}
    warm_page_cache(name)
    for access_log in ("false", "true"):
        env = {
            "CLAIMREVIEW_DATABASE_URL": url,
            "CLAIMREVIEW_ACCESS_LOG": access_log,
            "CLAIMREVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
            **UNTHROTTLED,
        }
        state = "on" if access_log == "true" else "off"
        target = ["app.main:create_app", "--factory"]
        with Server(f"{name}-log-{state}", target, env, ready="/healthz", port=PORT) as service:
            paths = {f"jsonld_log_{state}": "/v1/claim-reviews/%s.jsonld"}
            if state == "off":
                paths["native"] = "/v1/claim-reviews/%s"
            for key, path in paths.items():
                run = paired(
                    ceiling, service, [ids, path], slices=slices, seconds=seconds, warmup=warmup
                )
                results[key] = run
                log(
                    f"{name} {key}: {run['service']['rps']:,.0f} req/s, "
                    f"ceiling {run['ceiling']['rps']:,.0f} req/s, ratio {run['ratio']:.2f}"
                )
    return results


def measure_creates(name: str, url: str, *, seconds: int, connections: int) -> dict[str, Any]:
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
        for number in range(seconds * 2_000):
            handle.write(json.dumps(seed.fact_check(rng, spec, number)) + "\n")
    env = {
        "CLAIMREVIEW_DATABASE_URL": url,
        "CLAIMREVIEW_ACCESS_LOG": "false",
        "CLAIMREVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
        **UNTHROTTLED,
    }
    target = ["app.main:create_app", "--factory"]
    with Server(f"{name}-writes", target, env, ready="/healthz", port=PORT) as server:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        publisher = {"slug": slug, "name": spec["name"], "url": spec["url"], "language": "en"}
        httpx.post(server.base + "/v1/publishers", json=publisher, headers=admin).raise_for_status()
        answer = httpx.post(
            f"{server.base}/v1/publishers/{slug}/keys",
            json={"name": "bench", "scopes": ["reviews:write"]},
            headers=admin,
        )
        answer.raise_for_status()
        key = answer.json()["key"]
        wait_for_quiet()
        result = wrk(
            server,
            "/",
            seconds=seconds,
            connections=connections,
            script="post_reviews.lua",
            args=[str(bodies), key, "2"],
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
    return int(psql(query, database=PG_DATABASE) or 0)


# Report

NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
TARGETS = {"sqlite": 0.6, "postgres": 0.4}
READS = (
    ("jsonld_log_off", "`.jsonld`, access log off", True),
    ("jsonld_log_on", "`.jsonld`, access log on", True),
    ("native", "native JSON, access log off", False),
)


def _cpu(run: dict[str, Any], *, postgres: bool) -> str:
    """Server / PostgreSQL / wrk / other cores used during the run."""
    pg = f"{run['postgres_cpu']:.2f}" if postgres else "–"
    other = f"{run['other_cpu']:.2f}" + (" ⚠" if run["other_cpu"] > OTHER_LOAD_WARNING else "")
    return f"{run['server_cpu']:.2f} / {pg} / {run['wrk_cpu']:.2f} / {other}"


def table(results: dict[str, Any]) -> str:
    lines = [
        "| run | req/s | p50 ms | p99 ms | ceiling req/s (same slices) | × ceiling | target "
        "| result | CPU: server / PG / wrk / other |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, reads in results["reads"].items():
        for key, label, targeted in READS:
            run = reads[key]
            service, ceiling = run["service"], run["ceiling"]
            target = TARGETS[name] if targeted else None
            verdict = ("pass" if run["ratio"] >= target else "FAIL") if target else "info"
            if service["errors"]:
                verdict += f" ({service['errors']} errors)"
            lines.append(
                f"| {NAMES[name]} {label} | {service['rps']:,.0f} | {service['p50_ms']:.2f} "
                f"| {service['p99_ms']:.2f} | {ceiling['rps']:,.0f} | **{run['ratio']:.2f}** "
                f"| {f'≥ {target}' if target else '–'} | {verdict} "
                f"| {_cpu(service, postgres=name == 'postgres')} |"
            )
    ceilings = [run["ceiling"] for reads in results["reads"].values() for run in reads.values()]
    rps = [run["rps"] for run in ceilings]
    p50 = statistics.median(run["p50_ms"] for run in ceilings)
    lines.append(
        f"| ceiling: bare FastAPI, same bytes from memory (all slices) "
        f"| {min(rps):,.0f}–{max(rps):,.0f} | {p50:.2f} | – | – | 1 | – | – "
        f"| {_cpu(ceilings[0], postgres=False)} |"
    )
    lines.append("")
    lines.append(
        f"Each row: {results['slices']} slices of {results['slice_seconds']} s of the service, "
        "alternating with as many of the ceiling; the ratio is of the totals. CPU in cores "
        f"(of 2); 'other' is work outside the benchmark (⚠ above {OTHER_LOAD_WARNING})."
    )
    lines.append("")
    lines.append(
        "| creates (POST /v1/claim-reviews) | creates/s | p50 ms | p99 ms | errors "
        "| CPU: server / PG / wrk / other |"
    )
    lines.append("|---|---:|---:|---:|---:|---|")
    for name, run in results["creates"].items():
        lines.append(
            f"| {NAMES[name]}, {results['write_connections']} connections "
            f"| {run['creates_per_s']:,.0f} | {run['p50_ms']:.1f} | {run['p99_ms']:.1f} "
            f"| {run['errors']} | {_cpu(run, postgres=name == 'postgres')} |"
        )
    return "\n".join(lines)


def versions() -> dict[str, str]:
    from importlib.metadata import version  # noqa: PLC0415

    packages = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "psycopg", "SQLAlchemy")
    found = {name: version(name) for name in packages}
    found["python"] = platform.python_version()
    found["sqlite"] = sqlite3.sqlite_version
    found["postgresql"] = psql("SHOW server_version") or "?"
    found["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="reviews per database")
    parser.add_argument("--slices", type=int, default=5, help="alternating slices per figure")
    parser.add_argument("--slice-seconds", type=int, default=2, help="seconds per wrk slice")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per figure")
    parser.add_argument("--write-seconds", type=int, default=10)
    parser.add_argument("--write-connections", type=int, default=16)
    parser.add_argument("--reuse", action="store_true", help="keep seeded databases")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--max-wait", type=float, default=300, help="seconds to wait for an idle machine"
    )
    args = parser.parse_args()
    QUIET["max_wait"] = args.max_wait

    databases = {"sqlite": SQLITE_URL}
    if not args.skip_postgres:
        databases["postgres"] = PG_URL
    prepare_databases(count=args.count, reuse=args.reuse, postgres=not args.skip_postgres)
    body = write_body_file()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "versions": versions(),
        "reviews": args.count,
        "body_bytes": body.stat().st_size,
        "slices": args.slices,
        "slice_seconds": args.slice_seconds,
        "write_connections": args.write_connections,
        "reads": {},
        "creates": {},
    }
    ceiling_app = ["bench.ceiling:app"]
    ready = "/v1/claim-reviews/ceiling.jsonld"
    env = {"BENCH_BODY": str(body)}
    with Server("ceiling", ceiling_app, env, ready=ready, port=CEILING_PORT) as ceiling:
        for name, url in databases.items():
            results["reads"][name] = measure_reads(
                name,
                url,
                ceiling,
                slices=args.slices,
                seconds=args.slice_seconds,
                warmup=args.warmup,
            )
    for name, url in databases.items():
        results["creates"][name] = measure_creates(
            name, url, seconds=args.write_seconds, connections=args.write_connections
        )
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{results['date']} · {results['machine']} · {args.count:,} reviews per database")
    print(f"JSON-LD body {results['body_bytes']} bytes · wrk 2 threads, 32 connections\n")
    print(table(results))


if __name__ == "__main__":
    main()
