"""Helpers shared by bench/query_bench.py and bench/syndication_bench.py: one server at a time
(started and stopped by pid), a quiet-machine gate before each measurement, wrk and latency
runs. Ports 8791/8792 so as not to collide with bench/run.py (8765) running next door."""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
VENV_BIN = Path(sys.executable).parent
# BENCH_PORT, BENCH_SQLITE and BENCH_PG_DATABASE let two copies of a script run side by side.
PORT = int(os.environ.get("BENCH_PORT", "8791"))
BASE = f"http://127.0.0.1:{PORT}"
SQLITE_PATH = Path(os.environ.get("BENCH_SQLITE") or OUT / "cr_bench1m.db")
SQLITE_URL = f"sqlite:///{SQLITE_PATH}"
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "cr_bench1m")
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}"
# --no-proxy-headers as `claimreview serve` runs it (the app reads forwarded headers itself, from
# CLAIMREVIEW_TRUSTED_PROXIES); the ceiling runs with the same flags.
UVICORN = [str(VENV_BIN / "uvicorn"), "--no-access-log", "--no-proxy-headers", "--loop", "uvloop"]
UVICORN += ["--http", "httptools", "--host", "127.0.0.1", "--port", str(PORT)]
APP = ["app.main:create_app", "--factory"]

# Rate limits stay on (their cost is part of every request) but so high that one load generator
# on one address is never throttled, which would measure the limiter, not the service.
UNTHROTTLED = {
    f"CLAIMREVIEW_RATE_LIMIT_{who}_{what}": "1000000"
    for who in ("IP", "KEY")
    for what in ("PER_SECOND", "BURST")
}

MY_PIDS: set[int] = set()
# BENCH_SMOKE=1: check the scripts end to end with 1-second runs and no quiet-machine wait.
SMOKE = bool(os.environ.get("BENCH_SMOKE"))


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _busy_fraction(seconds: float) -> float:
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def _foreign(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout
    lines = []
    for line in found.splitlines():
        pid = int(line.split()[0])
        if pid in MY_PIDS or pid == os.getpid() or "pgrep" in line:
            continue
        if pattern == "wrk" and not line.split()[1].endswith("wrk"):
            continue
        lines.append(line)
    return lines


def wait_quiet(label: str, *, max_wait: float = 1200, poll: float = 30) -> dict[str, Any]:
    """Wait until no other wrk/uvicorn runs and the CPUs are idle (< 10 % busy over 5 s, or
    the 1-minute load average < 0.5). The load average lags our own previous run by a minute,
    so the instantaneous CPU sample is what decides once foreign processes are gone."""
    started = time.monotonic()
    if SMOKE:
        return {"load1": load_average(), "cpu_busy": None, "smoke": True}
    while True:
        others = _foreign("wrk") + _foreign("uvicorn")
        busy = _busy_fraction(5)
        load = load_average()
        if not others and (busy < 0.10 or load < 0.5):
            waited = time.monotonic() - started
            return {"load1": load, "cpu_busy": round(busy, 3), "waited_s": round(waited)}
        if time.monotonic() - started > max_wait:
            log(f"{label}: machine still busy after {max_wait:.0f} s; measuring anyway")
            return {"load1": load, "cpu_busy": round(busy, 3), "busy": True, "others": others}
        log(f"{label}: waiting for a quiet machine (load {load}, cpu {busy:.0%}, others {others})")
        time.sleep(poll)


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    """One uvicorn process on PORT, or on ``port`` for scripts that may run beside those."""

    def __init__(
        self,
        name: str,
        target: list[str],
        env: dict[str, str],
        ready: str,
        port: int = PORT,
        *,
        workers: int = 1,
    ) -> None:
        self.name = name
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = OUT / f"{name}.log"
        # UVICORN ends "--port", PORT
        self.command = [*UVICORN[:-1], str(port), "--workers", str(workers), *target]
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.ready = ready
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Server":
        log(f"starting {self.name}")
        with self.log_path.open("wb") as output:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )
        MY_PIDS.add(self.process.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                if httpx.get(self.base + self.ready, timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
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


ADMIN_TOKEN = "bench-admin-token"


def service(name: str, url: str, port: int = PORT) -> Server:
    """The service on ``url``, as the benchmarks run it (settings not set here come from the
    environment). Benchmarks that write do so as admin (``ADMIN_TOKEN``)."""
    env = {
        "CLAIMREVIEW_DATABASE_URL": url,
        "CLAIMREVIEW_ACCESS_LOG": "false",
        "CLAIMREVIEW_DISPATCHER_ENABLED": "false",
        "CLAIMREVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
        **UNTHROTTLED,
    }
    return Server(name, APP, env, "/healthz", port)


def wrk(path: str, *, duration: float = 10, connections: int = 32, args: list[str] | None = None,
        server: Server | None = None, script: str = "random_ids.lua", threads: int = 2,
        ) -> dict[str, Any]:  # fmt: skip
    """One wrk run against ``server`` (its port), or PORT when no server is given."""
    duration = 1 if SMOKE else duration
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    command += ["-s", str(BENCH / script), (server.base if server else BASE) + path]
    if args:
        command += ["--", *args]
    before = cpu_seconds(server.pid) if server else 0.0
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    MY_PIDS.add(process.pid)
    output, _ = process.communicate()
    after = cpu_seconds(server.pid) if server else 0.0
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    result["server_cpu"] = round((after - before) / result["seconds"], 2)
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    result["errors"] = errors + result["status_errors"]
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def latencies(client: httpx.Client, paths: list[str], *, budget_s: float = 90) -> dict[str, Any]:
    """Sequential GETs of ``paths`` (stops early after ``budget_s``); milliseconds."""
    times = []
    started = time.monotonic()
    for path in paths:
        t0 = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        if time.monotonic() - started > budget_s:
            break
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "max_ms": round(max(times), 2),
    }


def fresh_database_at(engine_name: str, *, sqlite_path: Path, pg_database: str) -> str:
    """A new database migrated by this checkout's own code (the installed console script may
    belong to another checkout: an A/B of two commits runs each from its own); its URL."""
    if engine_name == "sqlite":
        for leftover in sqlite_path.parent.glob(f"{sqlite_path.name}*"):
            leftover.unlink()
        url = f"sqlite:///{sqlite_path}"
    else:
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        for statement in (
            f"DROP DATABASE IF EXISTS {pg_database} WITH (FORCE)",
            f"CREATE DATABASE {pg_database}",
        ):
            subprocess.run(["psql", admin, "-qc", statement], check=True, capture_output=True)
        url = f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    env = {**os.environ, "CLAIMREVIEW_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    upgrade = [sys.executable, "-c", "from app.cli import app; app()", "db", "upgrade"]
    subprocess.run(upgrade, check=True, env=env, cwd=ROOT, capture_output=True)
    return url
