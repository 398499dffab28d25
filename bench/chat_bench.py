"""Live chat benchmark over loopback: idle widget connections held by one web process,
its memory per idle connection, and message latency both ways at a fixed rate.

    python bench/chat_bench.py --idle 5000 --rate 100 --seconds 10

One `cartdesk` web process (uvicorn, uvloop, in-process jobs, SQLite, in-memory hub)
is started in a subprocess with a fresh database; this process is the load: visitors
over the widget API and WebSocket, one agent over the REST API and /realtime/ws.

- idle: opens N widget sockets (5 per visitor, the per-visitor cap), waits for every
  hello, then reads the server's RSS; (RSS after - RSS before) / N is the memory per
  idle connection.
- agent → widget: replies posted with POST /api/v1/conversations/{id}/messages at
  --rate per second, spread over --conversations chats; latency is from sending the
  request to the widget receiving the message frame (the chat adapter delivers it to
  the connected widget in the reply's own transaction, as in production).
- widget → agent: message frames sent by the widgets at --rate; latency is from the
  frame leaving to the agent's /realtime/ws receiving its message.created event.

Cross-process (the Redis hub between two web processes):

    python bench/chat_bench.py --processes 2 --redis-url redis://127.0.0.1:6379/12 \
        --database-url postgresql+psycopg://postgres@127.0.0.1/cartdesk_chat --idle 0 --rate 20 100

starts two web processes on one database and one Redis; every widget talks to process A,
the agent (REST replies and /realtime/ws) to process B, so each message crosses the hub
between processes. A PostgreSQL --database-url has its schema dropped and recreated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def seed(database_url: str) -> str:
    """A brand, an online agent and their API token; returns the token. A PostgreSQL
    database starts empty (its public schema is dropped)."""
    from cartdesk.auth import service as auth_service
    from cartdesk.auth.models import Availability, Role
    from cartdesk.auth.schemas import TokenCreate, UserCreate
    from cartdesk.brands import service as brands_service
    from cartdesk.db.engine import create_database
    from cartdesk.db.migrate import upgrade
    from cartdesk.events.schemas import SYSTEM

    db = create_database(database_url)
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(db.engine)
    with db.transaction() as session:
        brands_service.create(session, slug="northwind", name="Northwind Outfitters")
        user = auth_service.create_user(session, actor=SYSTEM, user_in=UserCreate(
            email="bench@example.com", name="Bench Agent", role=Role.admin, password="bench-password-1"))
        user.availability = Availability.online
        _, token = auth_service.create_token(session, actor=SYSTEM, user=user, token_in=TokenCreate())
    db.dispose()
    return token


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 95), 1),
            "p99_ms": round(percentile(ms, 99), 1), "max_ms": round(max(ms), 1)}


class Load:
    """Widgets talk to ``base``; the agent to ``agent_base`` (another process in the cross mode)."""

    def __init__(self, base: str, token: str, agent_base: str | None = None) -> None:
        import httpx

        self.base, self.ws_base, self.token = base, base.replace("http", "ws", 1), token
        self.agent_base = agent_base or base
        self.agent_ws_base = self.agent_base.replace("http", "ws", 1)
        self.http = httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=64))
        self.agent_http = self.http if agent_base is None else httpx.AsyncClient(
            base_url=agent_base, timeout=30, limits=httpx.Limits(max_connections=64))

    async def visitor(self) -> str:
        for attempt in range(5):
            try:
                r = await self.http.post("/widget/api/session", json={"brand": "northwind"})
                r.raise_for_status()
                return r.json()["token"]
            except Exception as exc:
                print(f"session attempt {attempt}: {exc!r}", file=sys.stderr)
                await asyncio.sleep(0.5)
        raise RuntimeError("could not start a visitor session")

    async def open_widget(self, token: str):  # type: ignore[no-untyped-def]
        import websockets

        ws = await websockets.connect(f"{self.ws_base}/widget/ws?token={token}", max_size=2**20,
                                      ping_interval=None, open_timeout=60)
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello", hello
        return ws


async def idle_phase(load: Load, pid: int, count: int, warmup: int = 500) -> dict[str, float]:
    sem = asyncio.Semaphore(50)

    async def visitors(n: int) -> list[str]:
        async def one() -> str:
            async with sem:
                return await load.visitor()
        return await asyncio.gather(*(one() for _ in range(n)))

    tokens = await visitors((count + 4) // 5)

    async def connect(token: str):  # type: ignore[no-untyped-def]
        async with sem:
            return await load.open_widget(token)

    # Warm up first (thread pool, database connections, allocator arenas), so "before"
    # is a server that has already served sockets, and the difference is the sockets.
    warm = await asyncio.gather(*(connect(tokens[i // 5]) for i in range(min(count, warmup))))
    await asyncio.gather(*(ws.close() for ws in warm))
    await asyncio.sleep(2)
    before = rss_kib(pid)
    started = time.monotonic()
    sockets = await asyncio.gather(*(connect(tokens[i // 5]) for i in range(count)))
    opened_in = time.monotonic() - started
    await asyncio.sleep(2)
    after = rss_kib(pid)
    # Still alive? Every socket answers a ping frame.
    for ws in sockets[:: max(1, count // 50)]:
        await ws.send(json.dumps({"type": "ping"}))
        while json.loads(await ws.recv())["type"] != "pong":
            pass
    result = {"connections": count, "warmup": min(count, warmup), "open_seconds": round(opened_in, 1),
              "rss_before_mib": round(before / 1024, 1),
              "rss_after_mib": round(after / 1024, 1), "kib_per_connection": round((after - before) / count, 1)}
    await asyncio.gather(*(ws.close() for ws in sockets))
    return result


async def latency_phase(load: Load, *, rate: float, seconds: float, conversations: int,
                        directions: str = "both") -> dict[str, object]:
    import websockets

    if rate / conversations > 1:
        # The widget socket allows one message a second per visitor (burst 10): more would be
        # refused with rate_limited and never arrive, which measures the limiter, not latency.
        print(f"warning: {rate / conversations:.1f} msg/s per chat is over the 1/s per-visitor limit",
              file=sys.stderr)
    agent = await websockets.connect(f"{load.agent_ws_base}/realtime/ws?token={load.token}", ping_interval=None)
    conversation_ids: list[int | None] = [None] * conversations
    sent: dict[str, float] = {}
    to_agent: list[float] = []

    async def agent_reader() -> None:
        # Read from the start: a realtime client that stops reading is closed as too slow.
        async for raw in agent:
            frame = json.loads(raw)
            if frame["type"] == "event" and frame["event"]["verb"] == "message.created":
                preview = frame["event"]["data"].get("preview", "")
                if preview.startswith("chat "):  # which conversation each widget opened
                    conversation_ids[int(preview.split()[1])] = frame["event"]["conversation_id"]
                t = sent.pop(preview, None) if preview.startswith("ask-") else None
                if t is not None:
                    to_agent.append(time.perf_counter() - t)

    agent_task = asyncio.create_task(agent_reader())
    sem = asyncio.Semaphore(20)

    async def open_chat(n: int):  # type: ignore[no-untyped-def]
        async with sem:
            ws = await load.open_widget(await load.visitor())
            await ws.send(json.dumps({"type": "message", "client_id": f"open-{n}", "body": f"chat {n}"}))
            while json.loads(await ws.recv())["type"] != "ack":
                pass
            return ws

    widgets = list(await asyncio.gather(*(open_chat(n) for n in range(conversations))))
    while None in conversation_ids:
        await asyncio.sleep(0.05)
    to_widget: list[float] = []
    errors = 0
    refused: dict[str, int] = {}

    closed: list[str] = []

    async def widget_reader(ws) -> None:  # type: ignore[no-untyped-def]
        try:
            await read_widget(ws)
        except websockets.ConnectionClosed as exc:  # counted: an overloaded run says so instead of crashing
            closed.append(str(exc.rcvd.reason if exc.rcvd else exc))

    async def read_widget(ws) -> None:  # type: ignore[no-untyped-def]
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "error":
                refused[frame.get("code", "?")] = refused.get(frame.get("code", "?"), 0) + 1
            if frame["type"] == "message" and frame["author"] == "agent" and frame["body"].startswith("reply-"):
                t = sent.pop(frame["body"], None)
                if t is not None:
                    to_widget.append(time.perf_counter() - t)

    readers = [asyncio.create_task(widget_reader(ws)) for ws in widgets]

    async def agent_send(n: int) -> None:
        nonlocal errors
        body = f"reply-{n}"
        sent[body] = time.perf_counter()
        try:
            r = await load.agent_http.post(f"/api/v1/conversations/{conversation_ids[n % conversations]}/messages",
                                     json={"body": body}, headers={"Authorization": f"Bearer {load.token}"})
        except Exception:  # a refused or dropped request counts, it does not stop the run
            errors += 1
            return
        if r.status_code != 201:
            errors += 1

    async def widget_send(n: int) -> None:
        body = f"ask-{n}"
        sent[body] = time.perf_counter()
        with contextlib.suppress(websockets.ConnectionClosed):  # counted by its reader
            await widgets[n % conversations].send(json.dumps({"type": "message", "client_id": body, "body": body}))

    async def drive(send, total: int) -> float:  # type: ignore[no-untyped-def]
        print(f"driving {send.__name__} at {rate:g}/s for {seconds:g} s", file=sys.stderr, flush=True)
        start = time.perf_counter()
        tasks = []
        for n in range(total):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(n)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - start

    total = int(rate * seconds)
    agent_elapsed = widget_elapsed = float("nan")
    if directions in ("both", "to-widget"):
        agent_elapsed = await drive(agent_send, total)
        await asyncio.sleep(3)
    lost_to_widget = sum(1 for k in sent if k.startswith("reply-"))
    if directions in ("both", "to-agent"):
        widget_elapsed = await drive(widget_send, total)
        await asyncio.sleep(3)
    lost_to_agent = sum(1 for k in sent if k.startswith("ask-"))
    for task in [*readers, agent_task]:
        task.cancel()
    await agent.close()
    await asyncio.gather(*(ws.close() for ws in widgets), return_exceptions=True)
    return {"rate": rate, "messages": total, "conversations": conversations, "http_errors": errors,
            "widget_errors": refused, "widgets_closed": len(closed),
            "agent_to_widget": {**summary(to_widget), "offered_per_s": round(total / agent_elapsed, 1),
                                "not_arrived": lost_to_widget},
            "widget_to_agent": {**summary(to_agent), "offered_per_s": round(total / widget_elapsed, 1),
                                "not_arrived": lost_to_agent}}


async def main_async(args: argparse.Namespace, bases: list[str], token: str, pid: int) -> dict[str, object]:
    load = Load(bases[0], token, agent_base=bases[1] if len(bases) > 1 else None)
    results: dict[str, object] = {}
    if args.idle:
        results["idle"] = await idle_phase(load, pid, args.idle, args.warmup)
    for rate in args.rate:
        results[f"latency_{rate:g}"] = await latency_phase(load, rate=rate, seconds=args.seconds,
                                                          conversations=args.conversations,
                                                          directions=args.directions)
        print(json.dumps({f"latency_{rate:g}": results[f"latency_{rate:g}"]}), file=sys.stderr, flush=True)
    await load.http.aclose()
    if load.agent_http is not load.http:
        await load.agent_http.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=2000, help="idle widget connections to hold (0: skip)")
    parser.add_argument("--warmup", type=int, default=500,
                        help="sockets opened and closed before the idle measure (allocator, pools, caches)")
    parser.add_argument("--rate", type=float, nargs="*", default=[50.0], help="messages per second, each way")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--directions", choices=("both", "to-widget", "to-agent"), default="both",
                        help="to-widget: agent replies only; to-agent: widget messages only")
    parser.add_argument("--ws", default="auto",
                        help="uvicorn's WebSocket implementation (auto, websockets, websockets-sansio, wsproto)")
    parser.add_argument("--ws-deflate", action="store_true",
                        help="let the server accept permessage-deflate (the client always offers it)")
    parser.add_argument("--via", choices=("cli", "uvicorn"), default="cli",
                        help="start the server with `cartdesk serve` (as deployed) or bare uvicorn")
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1,
                        help="2: widgets on process A, the agent on process B (needs --redis-url)")
    parser.add_argument("--redis-url", help="the realtime hub's Redis (CARTDESK_REDIS_URL)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    if args.processes == 2 and not args.redis_url:
        parser.error("--processes 2 needs --redis-url: without Redis the processes cannot hear each other")

    tmp = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    token = seed(database_url)
    # Few malloc arenas: the thread pool's threads would otherwise each keep their own.
    env = {**os.environ, "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"), "CARTDESK_DATABASE_URL": database_url, "CARTDESK_DATA_DIR": str(tmp),
           "CARTDESK_SECRET_KEY": "chat-bench-secret-key-0123456789", "CARTDESK_LOG_LEVEL": "WARNING",
           "CARTDESK_CHAT_SESSIONS_PER_IP_PER_MINUTE": "1000000"}  # all visitors come from 127.0.0.1
    if args.redis_url:
        env["CARTDESK_REDIS_URL"] = args.redis_url
    servers, bases = [], []
    try:
        for n in range(args.processes):
            port = free_port()
            servers.append(start_server(args, port, env, tmp / f"server-{n}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        results = asyncio.run(main_async(args, bases, token, servers[0].pid))
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    print(json.dumps({"ws": args.ws, "ws_deflate": args.ws_deflate, "via": args.via, "processes": args.processes,
                      "database": database_url.split(":", 1)[0], "hub": "redis" if args.redis_url else "memory",
                      **results}, indent=2))


def start_server(args: argparse.Namespace, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    if args.via == "cli":
        command = [str(Path(sys.executable).with_name("cartdesk")), "serve", "--host", "127.0.0.1",
                   "--port", str(port), "--ws", args.ws, "--no-access-log",
                   "--ws-deflate" if args.ws_deflate else "--no-ws-deflate"]
    else:
        command = [sys.executable, "-m", "uvicorn", "--factory", "cartdesk.app:create_app", "--host", "127.0.0.1",
                   "--port", str(port), "--ws", args.ws, "--log-level", "warning", "--loop", "uvloop",
                   "--http", "httptools", "--ws-per-message-deflate", str(args.ws_deflate).lower()]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=open(log, "w"))  # noqa: SIM115 - lives as long as the server
    print(f"server log: {log}", file=sys.stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not start; see {log}")


if __name__ == "__main__":
    main()
