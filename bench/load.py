"""Load test (issue 7): a realistic traffic mix against two workers on PostgreSQL for 60 s.

    PYTHONPATH=. .venv/bin/python bench/load.py [--reviews 10000] [--seconds 60]

A fresh PostgreSQL database ``cr_load`` is filled with published reviews through the service's
own write path (``bench/seed.py``); then ``uvicorn --workers 2`` (the Dockerfile's shape) serves
it, with the access log on as in production and rate limits on but out of reach
(``benchlib.UNTHROTTLED``: one load generator on one address would otherwise be throttled),
and ``wrk`` drives ``bench/mixed.lua``: 80 % reads of JSON-LD and embeds, 15 % searches, 5 %
creates. Prints one JSON line with requests/s, p50/p90/p99 and errors per kind of request.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed  # noqa: E402
from benchlib import APP, BASE, OUT, UNTHROTTLED, Server, log, wait_quiet, wrk  # noqa: E402

DATABASE = "cr_load"
URL = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
ADMIN_TOKEN = "bench-load-admin-token"
WRITER = {
    **seed.PUBLISHERS[0],
    "slug": "load-writer",
    "name": "Load writer",
    "url": "https://load.bench.example/",
    "site": "https://load.bench.example",
}


def psql(sql: str, database: str = "postgres") -> str:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-Atqc", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def prepare(reviews: int, ids: Path) -> None:
    psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    psql(f"CREATE DATABASE {DATABASE}")
    env = {"CLAIMREVIEW_DATABASE_URL": URL}
    command = [sys.executable, str(Path(seed.__file__)), "--count", str(reviews), "--ids", str(ids)]
    subprocess.run(command, env={**os.environ, **env}, check=True)
    psql("VACUUM ANALYZE", DATABASE)


def search_words(path: Path) -> None:
    """Words that occur in the stored claims, most frequent first (searches that find things)."""
    claims = psql("SELECT search_text FROM claim_review LIMIT 5000", DATABASE)
    counts = Counter(word for word in re.findall(r"[a-z]{4,}", claims.lower()))
    path.write_text("\n".join(word for word, _ in counts.most_common(200)) + "\n")


def write_bodies(path: Path, count: int) -> None:
    rng = random.Random(11)
    with path.open("w") as handle:
        for number in range(count):
            handle.write(json.dumps(seed.fact_check(rng, WRITER, number)) + "\n")


def writer_key(base: str) -> str:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    publisher = {key: WRITER[key] for key in ("slug", "name", "url")}
    httpx.post(f"{base}/v1/publishers", json=publisher, headers=admin).raise_for_status()
    created = httpx.post(
        f"{base}/v1/publishers/{WRITER['slug']}/keys",
        json={"name": "load", "scopes": ["reviews:write"]},
        headers=admin,
    )
    created.raise_for_status()
    key: str = created.json()["key"]
    return key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviews", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    ids, words, bodies = OUT / "load-ids.txt", OUT / "load-words.txt", OUT / "load-bodies.jsonl"
    log(f"seeding {DATABASE} with {options.reviews} reviews")
    prepare(options.reviews, ids)
    search_words(words)
    write_bodies(bodies, options.seconds * 1_000)
    env = {
        "CLAIMREVIEW_DATABASE_URL": URL,
        "CLAIMREVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
        "CLAIMREVIEW_ACCESS_LOG": "true",
        **UNTHROTTLED,
    }
    with Server("load", APP, env, "/readyz", workers=2) as server:
        key = writer_key(BASE)
        quiet = wait_quiet("load")
        log(f"wrk: {options.seconds} s, {options.connections} connections, mixed.lua")
        result = wrk(
            "/",
            duration=options.seconds,
            connections=options.connections,
            threads=options.connections,  # one connection per thread: see mixed.lua
            args=[str(ids), str(words), str(bodies), key, str(options.connections)],
            server=server,
            script="mixed.lua",
        )
    result.pop("server_cpu", None)  # the supervisor's, not the workers': not meaningful here
    result["created"] = int(
        psql(
            "SELECT count(*) FROM claim_review r JOIN publisher p ON p.id = r.publisher_id"
            f" WHERE p.slug = '{WRITER['slug']}'",
            DATABASE,
        )
    )
    result["quiet"] = quiet
    print(json.dumps(result))


if __name__ == "__main__":
    main()
