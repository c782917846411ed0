"""CPU per request of the hot read, in one process, without the network: A/B of two checkouts.

    .venv/bin/python bench/inprocess.py --ids bench/out/ids-sqlite.txt \\
        --database-url sqlite:///bench/out/bench.db --code /tmp/base --code . [--access-log]

Each ``--code`` directory is a checkout of the service (its ``app`` package is imported from
there); ``.`` is this one. For every round, every checkout is timed in a fresh subprocess, in
turn, so that the drift of a busy machine hits all of them alike; the figure per checkout is
the median over rounds. The ceiling (``bench/ceiling.py``) is timed the same way.

Two drivers, both on uvloop:

- ``asgi``: the application called directly with a scope as uvicorn builds it (what the
  service's own code costs);
- ``uvicorn``: uvicorn's ``HttpToolsProtocol`` fed raw HTTP/1.1 request bytes on a transport
  that keeps what is written (adds request parsing, header checks and response
  serialisation: everything a worker does but the socket system calls).

``--concurrency`` requests are in flight at once (PostgreSQL coalesces concurrent lookups).
The figure is the CPU time of the process (``time.process_time``) over requests: wall time
would count the other work on a shared machine. On PostgreSQL the server's own CPU is not in
it.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CEILING = "ceiling"


def build(code: str, database_url: str, access_log: bool) -> Any:
    if code == CEILING:
        from bench.ceiling import app  # noqa: PLC0415

        return app
    os.environ.update(
        {
            "CLAIMREVIEW_DATABASE_URL": database_url,
            "CLAIMREVIEW_ACCESS_LOG": "true" if access_log else "false",
            "CLAIMREVIEW_DISPATCHER_ENABLED": "false",
            **{
                f"CLAIMREVIEW_RATE_LIMIT_{who}_{what}": "1000000"
                for who in ("IP", "KEY")
                for what in ("PER_SECOND", "BURST")
            },
        }
    )
    from app.main import create_app  # noqa: PLC0415

    return create_app()


class Transport:
    """Enough of asyncio.Transport for uvicorn's protocol: counts what is written."""

    def __init__(self) -> None:
        self.written = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8765), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def drive_asgi(app: Any, paths: list[str], concurrency: int) -> tuple[float, int]:
    statuses: dict[int, int] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def one(path: str) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8765),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8765")],
            "state": {},
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
        }

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope, receive, send)

    async def worker(chunk: list[str]) -> None:
        for path in chunk:
            await one(path)

    started = time.process_time()
    await asyncio.gather(*(worker(paths[i::concurrency]) for i in range(concurrency)))
    elapsed = time.process_time() - started
    return elapsed, statuses.get(200, 0)


async def drive_uvicorn(app: Any, paths: list[str], concurrency: int) -> tuple[float, int]:
    from uvicorn.config import Config  # noqa: PLC0415
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415
    from uvicorn.server import ServerState  # noqa: PLC0415

    config = Config(app, lifespan="off", access_log=False, log_level="warning")
    config.load()
    state = ServerState()
    loop = asyncio.get_running_loop()
    done = 0

    async def worker(chunk: list[str]) -> None:
        nonlocal done
        protocol = HttpToolsProtocol(config, state, {}, loop)
        transport = Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        for path in chunk:
            protocol.data_received(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8765\r\n\r\n".encode())
            cycle = protocol.cycle
            while not cycle.response_complete:
                await cycle.message_event.wait()
                cycle.message_event.clear()
            done += 1
        protocol.connection_lost(None)

    started = time.process_time()
    await asyncio.gather(*(worker(paths[i::concurrency]) for i in range(concurrency)))
    return time.process_time() - started, done


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    app = build(args.code, args.database_url, args.access_log)
    ids = [line for line in Path(args.ids).read_text().split() if line]
    rng = random.Random(args.seed)
    paths = [f"/v1/claim-reviews/{rng.choice(ids)}.jsonld" for _ in range(args.requests)]
    warm = paths[: max(1, len(paths) // 5)]
    drive = drive_asgi if args.driver == "asgi" else drive_uvicorn
    lifespan = app.router.lifespan_context(app)
    async with lifespan:
        await drive(app, warm, args.concurrency)
        elapsed, ok = await drive(app, paths, args.concurrency)
    return {"us": elapsed / len(paths) * 1e6, "ok": ok, "requests": len(paths)}


def child(args: argparse.Namespace) -> None:
    import uvloop  # noqa: PLC0415

    if args.access_log:  # the access lines go where uvicorn's output would: a file
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    result = uvloop.run(measure(args))
    print(json.dumps(result), file=sys.__stdout__)


def run_child(code: str, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    env = dict(os.environ)
    pythonpath = [str(ROOT)] if code == CEILING else [str(Path(code).resolve()), str(ROOT)]
    env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--code", code]
    command += ["--ids", args.ids, "--database-url", args.database_url, "--seed", str(seed)]
    command += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
    command += ["--driver", args.driver] + (["--access-log"] if args.access_log else [])
    output = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if output.returncode != 0:
        raise RuntimeError(output.stderr[-3000:])
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", action="append", required=True, help="checkout dir (repeat)")
    parser.add_argument("--ids", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--driver", choices=("asgi", "uvicorn"), default="asgi")
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.code = args.code[0]
        child(args)
        return
    codes = args.code + ([] if args.no_ceiling else [CEILING])
    figures: dict[str, list[float]] = {code: [] for code in codes}
    for round_ in range(args.rounds):
        for code in codes:
            result = run_child(code, args, seed=round_ + 1)
            if result["ok"] != result["requests"]:
                raise RuntimeError(f"{code}: {result['ok']} of {result['requests']} answered 200")
            figures[code].append(result["us"])
        print(
            f"round {round_ + 1}: "
            + ", ".join(f"{code} {figures[code][-1]:.1f} µs" for code in codes),
            file=sys.stderr,
        )
    summary = {code: round(statistics.median(values), 1) for code, values in figures.items()}
    print(json.dumps({"driver": args.driver, "access_log": args.access_log, "median_us": summary}))


if __name__ == "__main__":
    main()
