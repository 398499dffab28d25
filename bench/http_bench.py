"""HTTP benchmark of the REST API over loopback, one web process, with wrk.

    python bench/http_bench.py --database-url sqlite:///var/bench/bench.db --label sqlite-1m

The database must already be seeded (``cartdesk demo --conversations N``; see
docs/performance.md). For each operation it runs wrk at concurrency 1 (latency,
p95) and 32 (throughput), after a warm-up, and first measures the ceiling of the
load generator against a bare ASGI app on the same uvicorn stack. Results go to
bench/results/<label>.json and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parents[1]
WRK_DIR = ROOT / "bench" / "wrk"
OPERATIONS = ["get", "list_first", "list_deep", "create", "reply", "search"]
SCRIPT = {"get": "get", "list_first": "list", "list_deep": "list", "create": "create", "reply": "reply",
          "search": "search"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


def cartdesk_bin() -> str:
    candidate = Path(sys.executable).parent / "cartdesk"
    return str(candidate) if candidate.exists() else "cartdesk"


def run_wrk(url: str, script: str, *, connections: int, seconds: int, env: dict[str, str]) -> dict:
    threads = 1 if connections == 1 else 2
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
           "-s", str(WRK_DIR / f"{script}.lua"), url]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    match = re.search(r"^RESULT (\{.*\})$", out, re.M)
    if not match:
        raise SystemExit(f"wrk printed no RESULT line:\n{out}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def sqlite_path(database_url: str) -> Path | None:
    """The file behind an SQLite URL, or None (PostgreSQL, memory)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def warm_os_cache(path: Path, chunk: int = 1 << 22) -> tuple[int, float]:
    """Read the database file (and its WAL) once, so the run measures a server whose data is in
    RAM, as a store's server with enough memory is after a while, rather than whatever part of
    the file the OS happened to keep cached (this VM drops page cache over minutes: 1.4 of
    5 GB was cached before one run, get at 1M c=1 p95 3.3 ms cold against 1.2 ms warm)."""
    started, total = time.monotonic(), 0
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists():
            with file.open("rb", buffering=0) as f:
                while block := f.read(chunk):
                    total += len(block)
    return total, time.monotonic() - started


def machine_speed(n: int = 10_000_000) -> float:
    """CPU seconds of a fixed pure-Python loop in this process (lower is faster). This shared
    VM's speed moves by up to 50 % from minute to minute (0.36–0.61 s for this loop within one
    session), so each operation's figures are recorded beside the reading taken just before."""
    started, x = time.process_time(), 0
    for i in range(n):
        x += i
    return time.process_time() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads) so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api(base: str, path: str, token: str) -> dict:
    req = Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def deep_cursor(database_url: str) -> str:
    """A cursor half-way down the open inbox, found once with OFFSET (not part of the timing)."""
    from sqlalchemy import create_engine, text

    from cartdesk.db.base import UTCDateTime
    from cartdesk.kit.pagination import encode_cursor

    engine = create_engine(database_url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM conversations WHERE status = 'open'")).scalar_one()
        row = conn.execute(
            text("SELECT last_activity_at, id FROM conversations WHERE status = 'open' "
                 "ORDER BY last_activity_at DESC, id DESC LIMIT 1 OFFSET :o"), {"o": max(total // 2, 0)}
        ).one()
    engine.dispose()
    at = UTCDateTime().process_result_value(row[0], engine.dialect) if not isinstance(row[0], str) else None
    if at is None:
        from datetime import UTC, datetime

        at = datetime.fromisoformat(str(row[0])).replace(tzinfo=UTC)
    return encode_cursor([at, row[1]])


def open_ids(database_url: str, limit: int = 20000) -> list[int]:
    """Conversations that accept replies, spread over the whole table."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        step = max(1, (conn.execute(text("SELECT max(id) FROM conversations")).scalar() or 0) // limit)
        ids = conn.execute(
            text("SELECT id FROM conversations WHERE status NOT IN ('closed') AND merged_into_id IS NULL "
                 "AND id % :step = 0 ORDER BY id LIMIT :n"), {"n": limit, "step": step}
        ).scalars().all()
    engine.dispose()
    return list(ids)


def jobs_waiting(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running') "
                              "AND run_at <= CURRENT_TIMESTAMP")).scalar_one()
    engine.dispose()
    return int(n)


def wait_for_jobs(database_url: str, timeout: float = 120) -> None:
    """Let the runner drain what a run left, so that it does not slow the next run down."""
    deadline = time.monotonic() + timeout
    while jobs_waiting(database_url) and time.monotonic() < deadline:
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--email", default="admin@demo.cartdesk.dev", help="user whose token drives the API")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--ops", default=",".join(OPERATIONS))
    parser.add_argument("--concurrency", default="1,32")
    parser.add_argument("--no-warm-os-cache", dest="warm_os_cache", action="store_false",
                        help="do not read an SQLite file into the OS page cache before each operation")
    parser.add_argument("--worker", action="store_true",
                        help="run jobs (reply delivery) in one `cartdesk worker` process beside the web "
                             "process instead of in it")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")

    env = {**os.environ, "CARTDESK_DATABASE_URL": args.database_url, "CARTDESK_LOG_LEVEL": "WARNING"}
    token = subprocess.run([cartdesk_bin(), "token", "create", "--email", args.email, "--name", "bench"],
                           capture_output=True, text=True, env=env, check=True).stdout.strip()
    results: dict = {"label": args.label, "database": args.database_url.split(":")[0], "ops": {},
                     "jobs": "worker process" if args.worker else "in the web process",
                     "warm_os_cache": args.warm_os_cache}

    # 1. The ceiling: wrk against a bare ASGI app on the same server stack.
    port = free_port()
    hello = subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench"), "hello_app:app",
                              "--port", str(port), "--log-level", "warning", "--http", "httptools",
                              "--loop", "uvloop", "--no-access-log"])
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        ceiling = run_wrk(f"http://127.0.0.1:{port}", "hello", connections=32, seconds=5, env=env)
        results["hello_ceiling_rps"] = ceiling["rps"]
        print(f"load-generator ceiling (bare ASGI app, c=32): {ceiling['rps']:.0f} req/s", flush=True)
    finally:
        hello.terminate()
        hello.wait()

    # 2. Cartdesk, one web process.
    port = free_port()
    server_env = {**env, "CARTDESK_RUN_JOBS_IN_PROCESS": "false"} if args.worker else env
    server = subprocess.Popen([cartdesk_bin(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=server_env, start_new_session=True)
    worker = (subprocess.Popen([cartdesk_bin(), "worker"], env=server_env, start_new_session=True)
              if args.worker else None)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz")
        runs_jobs = args.worker or server_env.get("CARTDESK_RUN_JOBS_IN_PROCESS", "true").lower() != "false"
        if runs_jobs:
            wait_for_jobs(args.database_url)  # left over from an earlier run
        max_id = api(base, "/api/v1/conversations?limit=1", token)["items"][0]["id"]
        wenv = {**env, "CARTDESK_BENCH_TOKEN": token, "CARTDESK_BENCH_MAX_ID": str(max_id)}
        cursor = deep_cursor(args.database_url)
        ids_file = ROOT / "bench" / "results" / f"{args.label}.open-ids.txt"
        ids_file.parent.mkdir(parents=True, exist_ok=True)
        ids_file.write_text("\n".join(str(i) for i in open_ids(args.database_url)) + "\n")
        wenv["CARTDESK_BENCH_OPEN_IDS"] = str(ids_file)
        database_file = sqlite_path(args.database_url) if args.warm_os_cache else None
        for op in args.ops.split(","):
            op_env = {**wenv, "CARTDESK_BENCH_CURSOR": cursor if op == "list_deep" else ""}
            if database_file is not None:
                size, took = warm_os_cache(database_file)
                print(f"(read {size / 1e9:.2f} GB into the OS page cache in {took:.1f} s)", flush=True)
            results["ops"][op] = {}
            speed = machine_speed()
            print(f"(machine speed: 10M-step Python loop in {speed:.2f} s CPU; lower is faster)", flush=True)
            for c in (int(x) for x in args.concurrency.split(",")):
                run_wrk(base, SCRIPT[op], connections=c, seconds=args.warmup, env=op_env)
                cpu_before = cpu_seconds(server.pid)
                worker_before = cpu_seconds(worker.pid) if worker is not None else 0.0
                r = run_wrk(base, SCRIPT[op], connections=c, seconds=args.seconds, env=op_env)
                # The web process's CPU over the run: 1.0 is one core busy all the time (the
                # ceiling of one process), and CPU per request says where a rate is bound.
                r["server_cpu"] = (cpu_seconds(server.pid) - cpu_before) / (r["duration_us"] / 1e6)
                if worker is not None:
                    r["worker_cpu"] = (cpu_seconds(worker.pid) - worker_before) / (r["duration_us"] / 1e6)
                # Jobs still waiting the moment the run ends: the runner keeps up only if this
                # stays small (a reply's delivery is part of the work a reply costs).
                r["jobs_waiting"] = jobs_waiting(args.database_url)
                r["machine_speed_s"] = speed
                results["ops"][op][f"c{c}"] = r
                print(f"{op:11s} c={c:<3d} {r['rps']:8.1f} req/s  p50 {r['p50_us']/1000:7.2f} ms  "
                      f"p95 {r['p95_us']/1000:7.2f} ms  p99 {r['p99_us']/1000:7.2f} ms  errors {r['errors']}  "
                      f"jobs waiting {r['jobs_waiting']}  server CPU {r['server_cpu']:.2f} "
                      f"({r['server_cpu'] / r['rps'] * 1000:.2f} ms/req)"
                      + (f"  worker CPU {r['worker_cpu']:.2f}" if worker is not None else ""), flush=True)
                if runs_jobs:
                    wait_for_jobs(args.database_url)
    finally:
        for process in (server, worker):
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)

    out = ROOT / "bench" / "results" / f"{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
