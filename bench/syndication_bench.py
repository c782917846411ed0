"""Issue 4 benchmark: the NDJSON export of 1,000,000 reviews over HTTP against a raw dump of the
same stored JSON-LD, and a partner syncing everything through the change feed.

    PYTHONPATH=. .venv/bin/python bench/syndication_bench.py             # both databases
    PYTHONPATH=. .venv/bin/python bench/syndication_bench.py --only postgres --skip-feed

Per database, one fresh server (uvicorn, 1 worker, uvloop, httptools, access log and dispatcher
off), a quiet-machine check before each measurement (benchlib), and:

1. Raw dump (the baseline), same rows and bytes the export sends:
   SQLite - Python ``sqlite3`` ``SELECT jsonld ... WHERE status = 'published' ORDER BY pk``,
   each row + newline written to /dev/null in 1,000-row batches;
   PostgreSQL - ``psql -c "COPY (SELECT convert_from(jsonld, 'UTF8') ...) TO STDOUT"``
   piped to ``wc -lc``.
2. ``curl -s .../v1/export?format=ndjson | wc -lc`` (uncompressed): rows/s and MB/s; the
   server's peak RSS is polled (VmRSS every 50 ms, and VmHWM at the end, which includes start-up).
3. Feed: httpx, ``/v1/feed?limit=500``, follow ``Link: rel="next"`` until an empty page; each
   page parsed with orjson (a partner reads the items) - total time, pages/s, items/s.

Results: ``bench/out/syndication-results.json`` and a Markdown table on stdout.
"""

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    BASE,
    OUT,
    PG_DATABASE,
    PG_URL,
    SQLITE_PATH,
    SQLITE_URL,
    cpu_seconds,
    log,
    service,
    vm_hwm_mb,
    vm_rss_mb,
    wait_quiet,
)

NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
RAW_SQL = "SELECT jsonld FROM claim_review WHERE status = 'published' ORDER BY pk"


def raw_sqlite() -> dict[str, Any]:
    started = time.monotonic()
    rows = size = 0
    with sqlite3.connect(SQLITE_PATH) as connection, open("/dev/null", "wb") as sink:
        cursor = connection.execute(RAW_SQL)
        while batch := cursor.fetchmany(1000):
            chunk = b"".join(bytes(row[0]) + b"\n" for row in batch)
            sink.write(chunk)
            rows += len(batch)
            size += len(chunk)
    return _rate(rows, size, time.monotonic() - started)


def raw_postgres() -> dict[str, Any]:
    sql = RAW_SQL.replace("SELECT jsonld", "SELECT convert_from(jsonld, 'UTF8')")
    command = (
        f'psql -h 127.0.0.1 -U postgres -d {PG_DATABASE} -Atc "COPY ({sql}) TO STDOUT" | wc -lc'
    )
    started = time.monotonic()
    out = subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout
    elapsed = time.monotonic() - started
    rows, size = (int(x) for x in out.split())
    return _rate(rows, size, elapsed)


def _rate(rows: int, size: int, seconds: float) -> dict[str, Any]:
    return {
        "rows": rows,
        "bytes": size,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "mb_per_s": round(size / seconds / 1e6, 1),
    }


def http_export(pid: int) -> dict[str, Any]:
    peak = [vm_rss_mb(pid)]
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            peak.append(vm_rss_mb(pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    cpu0 = cpu_seconds(pid)
    started = time.monotonic()
    command = f"curl -sS '{BASE}/v1/export?format=ndjson' | wc -lc"
    out = subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout
    elapsed = time.monotonic() - started
    stop.set()
    watcher.join()
    rows, size = (int(x) for x in out.split())
    result = _rate(rows, size, elapsed)
    result["server_cpu"] = round((cpu_seconds(pid) - cpu0) / elapsed, 2)
    result["peak_rss_mb"] = round(max(peak), 1)
    result["vm_hwm_mb"] = round(vm_hwm_mb(pid), 1)
    return result


def feed_sync(pid: int) -> dict[str, Any]:
    cpu0 = cpu_seconds(pid)
    started = time.monotonic()
    pages = items = size = 0
    url = f"{BASE}/v1/feed?limit=500"
    slowest = 0.0
    with httpx.Client(timeout=120) as client:
        while True:
            t0 = time.perf_counter()
            response = client.get(url)
            slowest = max(slowest, time.perf_counter() - t0)
            response.raise_for_status()
            pages += 1
            size += len(response.content)
            count = len(orjson.loads(response.content)["dataFeedElement"])
            items += count
            if count == 0:
                break
            url = NEXT.search(response.headers["link"]).group(1)  # type: ignore[union-attr]
            # The Link uses the configured public base URL; talk to this server.
            url = BASE + url[url.index("/v1/feed") :]
    elapsed = time.monotonic() - started
    return {
        "pages": pages,
        "items": items,
        "mb": round(size / 1e6, 1),
        "seconds": round(elapsed, 1),
        "pages_per_s": round(pages / elapsed, 1),
        "items_per_s": round(items / elapsed),
        "slowest_page_ms": round(slowest * 1000, 1),
        "server_cpu": round((cpu_seconds(pid) - cpu0) / elapsed, 2),
    }


def measure(name: str, url: str, *, skip_feed: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    raw = raw_sqlite if name == "sqlite" else raw_postgres
    raw()  # warm the page cache; discarded
    results["raw"] = raw() | {"quiet": wait_quiet(f"{name} raw")}
    log(f"{name} raw dump: {results['raw']}")
    with service(f"s-{name}", url) as server:
        results["startup_rss_mb"] = round(vm_rss_mb(server.pid), 1)
        quiet = wait_quiet(f"{name} export")
        results["export"] = http_export(server.pid) | {"quiet": quiet}
        log(f"{name} export: {results['export']}")
        # Baseline again right after, so drift shows; the ratio uses the mean.
        results["raw_after"] = raw() | {"quiet": wait_quiet(f"{name} raw again")}
        log(f"{name} raw dump again: {results['raw_after']}")
        if not skip_feed:
            quiet = wait_quiet(f"{name} feed")
            results["feed"] = feed_sync(server.pid) | {"quiet": quiet}
            log(f"{name} feed: {results['feed']}")
    return results


def table(results: dict[str, Any]) -> str:
    out = [
        f"Run {results['date']}.",
        "",
        "| database | raw dump rows/s (MB/s) | export rows/s (MB/s) | ratio | target | server CPU"
        " | peak RSS MB (VmHWM) | target | load1 | result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in ("sqlite", "postgres"):
        if name not in results:
            continue
        r = results[name]
        raw = (r["raw"]["rows_per_s"] + r["raw_after"]["rows_per_s"]) / 2
        raw_mb = (r["raw"]["mb_per_s"] + r["raw_after"]["mb_per_s"]) / 2
        e = r["export"]
        ratio = e["rows_per_s"] / raw
        ok = ratio >= 0.5 and e["peak_rss_mb"] < 200 and e["vm_hwm_mb"] < 200
        out.append(
            f"| {name} | {raw:,.0f} ({raw_mb:.0f}) | {e['rows_per_s']:,.0f} ({e['mb_per_s']:.0f}) "
            f"| {ratio:.2f} | ≥ 0.50 | {e['server_cpu']} | {e['peak_rss_mb']} ({e['vm_hwm_mb']}) "
            f"| < 200 | {e['quiet']['load1']} | {'pass' if ok else '**fail**'} |"
        )
    out += [
        "",
        "| database | feed pages (limit 500) | items | MB | total s | pages/s | items/s"
        " | slowest page ms | server CPU | load1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("sqlite", "postgres"):
        if name in results and "feed" in results[name]:
            f = results[name]["feed"]
            out.append(
                f"| {name} | {f['pages']} | {f['items']:,} | {f['mb']} | {f['seconds']} "
                f"| {f['pages_per_s']} | {f['items_per_s']:,} | {f['slowest_page_ms']} "
                f"| {f['server_cpu']} | {f['quiet']['load1']} |"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--skip-feed", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
    for name, url in (("sqlite", SQLITE_URL), ("postgres", PG_URL)):
        if args.only in (None, name):
            results[name] = measure(name, url, skip_feed=args.skip_feed)
    path = OUT / "syndication-results.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(previous | results, indent=2))
    print(table(previous | results))


if __name__ == "__main__":
    main()
