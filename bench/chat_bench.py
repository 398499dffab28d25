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
  request to the widget receiving the message frame (the reply goes through the
  delivery job and the chat adapter, as in production).
- widget → agent: message frames sent by the widgets at --rate; latency is from the
  frame leaving to the agent's /realtime/ws receiving its message.created event.
"""

from __future__ import annotations

import argparse
import asyncio
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
    """A brand, an online agent and their API token; returns the token."""
    from cartdesk.auth import service as auth_service
    from cartdesk.auth.models import Availability, Role
    from cartdesk.auth.schemas import TokenCreate, UserCreate
    from cartdesk.brands import service as brands_service
    from cartdesk.db.engine import create_database
    from cartdesk.db.migrate import upgrade
    from cartdesk.events.schemas import SYSTEM

    db = create_database(database_url)
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
    def __init__(self, base: str, token: str) -> None:
        import httpx

        self.base, self.ws_base, self.token = base, base.replace("http", "ws", 1), token
        self.http = httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=64))

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


async def idle_phase(load: Load, pid: int, count: int) -> dict[str, float]:
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
    warm = await asyncio.gather(*(connect(tokens[i // 5]) for i in range(min(count, 500))))
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
    result = {"connections": count, "open_seconds": round(opened_in, 1), "rss_before_mib": round(before / 1024, 1),
              "rss_after_mib": round(after / 1024, 1), "kib_per_connection": round((after - before) / count, 1)}
    await asyncio.gather(*(ws.close() for ws in sockets))
    return result


async def latency_phase(load: Load, *, rate: float, seconds: float, conversations: int) -> dict[str, object]:
    import websockets

    widgets, conversation_ids = [], []
    agent = await websockets.connect(f"{load.ws_base}/realtime/ws?token={load.token}", ping_interval=None)
    for n in range(conversations):
        ws = await load.open_widget(await load.visitor())
        await ws.send(json.dumps({"type": "message", "client_id": f"open-{n}", "body": f"chat {n}"}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "ack":
                break
        widgets.append(ws)
        conversation_ids.append(None)
    # Which conversation each widget opened: from the agent's stream of created events.
    while None in conversation_ids:
        frame = json.loads(await agent.recv())
        if frame["type"] == "event" and frame["event"]["verb"] == "message.created":
            preview = frame["event"]["data"].get("preview", "")
            if preview.startswith("chat "):
                conversation_ids[int(preview.split()[1])] = frame["event"]["conversation_id"]

    sent: dict[str, float] = {}
    to_widget: list[float] = []
    to_agent: list[float] = []
    errors = 0

    async def widget_reader(ws) -> None:  # type: ignore[no-untyped-def]
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "message" and frame["author"] == "agent" and frame["body"].startswith("reply-"):
                t = sent.pop(frame["body"], None)
                if t is not None:
                    to_widget.append(time.perf_counter() - t)

    async def agent_reader() -> None:
        async for raw in agent:
            frame = json.loads(raw)
            if frame["type"] == "event" and frame["event"]["verb"] == "message.created":
                preview = frame["event"]["data"].get("preview", "")
                t = sent.pop(preview, None) if preview.startswith("ask-") else None
                if t is not None:
                    to_agent.append(time.perf_counter() - t)

    readers = [asyncio.create_task(widget_reader(ws)) for ws in widgets] + [asyncio.create_task(agent_reader())]

    async def agent_send(n: int) -> None:
        nonlocal errors
        body = f"reply-{n}"
        sent[body] = time.perf_counter()
        try:
            r = await load.http.post(f"/api/v1/conversations/{conversation_ids[n % conversations]}/messages",
                                     json={"body": body}, headers={"Authorization": f"Bearer {load.token}"})
        except Exception:  # a refused or dropped request counts, it does not stop the run
            errors += 1
            return
        if r.status_code != 201:
            errors += 1

    async def widget_send(n: int) -> None:
        body = f"ask-{n}"
        sent[body] = time.perf_counter()
        await widgets[n % conversations].send(json.dumps({"type": "message", "client_id": body, "body": body}))

    async def drive(send, total: int) -> float:  # type: ignore[no-untyped-def]
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
    agent_elapsed = await drive(agent_send, total)
    await asyncio.sleep(3)
    lost_to_widget = sum(1 for k in sent if k.startswith("reply-"))
    widget_elapsed = await drive(widget_send, total)
    await asyncio.sleep(3)
    lost_to_agent = sum(1 for k in sent if k.startswith("ask-"))
    for task in readers:
        task.cancel()
    await agent.close()
    await asyncio.gather(*(ws.close() for ws in widgets), return_exceptions=True)
    return {"rate": rate, "messages": total, "conversations": conversations, "http_errors": errors,
            "agent_to_widget": {**summary(to_widget), "offered_per_s": round(total / agent_elapsed, 1),
                                "not_arrived": lost_to_widget},
            "widget_to_agent": {**summary(to_agent), "offered_per_s": round(total / widget_elapsed, 1),
                                "not_arrived": lost_to_agent}}


async def main_async(args: argparse.Namespace, base: str, token: str, pid: int) -> dict[str, object]:
    load = Load(base, token)
    results: dict[str, object] = {}
    if args.idle:
        results["idle"] = await idle_phase(load, pid, args.idle)
    for rate in args.rate:
        results[f"latency_{rate:g}"] = await latency_phase(load, rate=rate, seconds=args.seconds,
                                                          conversations=args.conversations)
        print(json.dumps({f"latency_{rate:g}": results[f"latency_{rate:g}"]}), file=sys.stderr, flush=True)
    await load.http.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=2000, help="idle widget connections to hold (0: skip)")
    parser.add_argument("--rate", type=float, nargs="*", default=[50.0], help="messages per second, each way")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--ws", default="auto",
                        help="uvicorn's WebSocket implementation (auto, websockets, websockets-sansio, wsproto)")
    parser.add_argument("--via", choices=("cli", "uvicorn"), default="cli",
                        help="start the server with `cartdesk serve` (as deployed) or bare uvicorn")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    database_url = f"sqlite:///{tmp / 'bench.db'}"
    token = seed(database_url)
    port = free_port()
    # Few malloc arenas: the thread pool's threads would otherwise each keep their own.
    env = {**os.environ, "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"), "CARTDESK_DATABASE_URL": database_url, "CARTDESK_DATA_DIR": str(tmp),
           "CARTDESK_SECRET_KEY": "chat-bench-secret-key-0123456789", "CARTDESK_LOG_LEVEL": "WARNING",
           "CARTDESK_CHAT_SESSIONS_PER_IP_PER_MINUTE": "1000000"}  # all visitors come from 127.0.0.1
    if args.via == "cli":
        command = [str(Path(sys.executable).with_name("cartdesk")), "serve", "--host", "127.0.0.1",
                   "--port", str(port), "--ws", args.ws, "--no-access-log"]
    else:
        command = [sys.executable, "-m", "uvicorn", "--factory", "cartdesk.app:create_app", "--host", "127.0.0.1",
                   "--port", str(port), "--ws", args.ws, "--log-level", "warning", "--loop", "uvloop",
                   "--http", "httptools"]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=open(tmp / "server.log", "w"))  # noqa: SIM115 - lives as long as the server
    print(f"server log: {tmp / 'server.log'}", file=sys.stderr)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        results = asyncio.run(main_async(args, base, token, server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    print(json.dumps({"ws": args.ws, "via": args.via, **results}, indent=2))


if __name__ == "__main__":
    main()
