"""Help-center speed at 5,000 articles: search-as-you-type p95 and article page render p95.

    python bench/kb_perf.py                                  # SQLite in a temp dir
    python bench/kb_perf.py --database-url postgresql+psycopg://postgres@127.0.0.1/kb_perf

Articles are the Bitext responses (and FAQ answers) cycled to the wanted count, written
through the knowledge service. Searches are what a visitor sends while typing: each
Bitext instruction cut at several lengths. Two measurements, one request at a time:

1. **Over HTTP** (the figures the targets are read from): ``cartdesk serve`` on loopback
   (uvicorn, httptools, uvloop) and wrk at concurrency 1 cycling through the same URLs;
   wrk's latency is from the request written to the response read.
2. **In-process**: each request handed to the app as an ASGI call, the way the server
   hands it over (middleware, routing, session, templates, the database), timed around
   that call, with the process's CPU time per request beside it. Starlette's TestClient
   is not used for timing: its HTTP client and thread hops cost 3-5 ms a request on
   this machine, more than some of the pages measured.

``--in-process-only`` skips (1), for a machine without wrk.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))

from fastapi.testclient import TestClient  # noqa: E402

from cartdesk.app import create_app  # noqa: E402
from cartdesk.auth import service as auth_service  # noqa: E402
from cartdesk.auth.models import Role  # noqa: E402
from cartdesk.auth.schemas import UserCreate  # noqa: E402
from cartdesk.brands import service as brands_service  # noqa: E402
from cartdesk.config import Settings  # noqa: E402
from cartdesk.db.engine import create_database  # noqa: E402
from cartdesk.db.migrate import upgrade  # noqa: E402
from cartdesk.events.schemas import SYSTEM  # noqa: E402
from cartdesk.knowledge import service as kb_service  # noqa: E402
from cartdesk.knowledge.schemas import ArticleCreate, CategoryCreate  # noqa: E402


def texts() -> tuple[list[str], list[str]]:
    rows = list(csv.DictReader((DATA / "bitext_intents" / "bitext_llm_tagged_4514_train.csv").open(encoding="utf-8")))
    pairs = json.loads((DATA / "ecommerce_faq" / "Ecommerce_FAQ_Chatbot_dataset.json").read_text())["questions"]
    bodies = [r["response"] for r in rows] + [p["answer"] for p in pairs]
    titles = [r["instruction"][:120] for r in rows] + [p["question"] for p in pairs]
    return titles, bodies


def seed(db, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    titles, bodies = texts()
    slugs = []
    with db.transaction() as session:
        brand = brands_service.create(session, slug="perf", name="Perf store")
        user = auth_service.create_user(session, actor=SYSTEM, user_in=UserCreate(
            email="perf@example.com", name="Perf", role=Role.supervisor))
        writer = auth_service.principal_for(user)
        top = kb_service.create_category(session, actor=SYSTEM, category_in=CategoryCreate(brand=brand.id, name="All"))
        sections = [kb_service.create_category(session, actor=SYSTEM, category_in=CategoryCreate(
            brand=brand.id, name=f"Section {i}", parent_id=top.id)) for i in range(20)]
        for i in range(count):
            slug = f"article-{i}"
            kb_service.create_article(session, principal=writer, brand=brand, article_in=ArticleCreate(
                section_id=sections[i % 20].id, title=titles[i % len(titles)], body_md=bodies[i % len(bodies)],
                slug=slug, status="published"))
            slugs.append(slug)
    return slugs


def seeded(db) -> list[str]:  # type: ignore[no-untyped-def]
    """The slugs of the perf brand's articles, when an earlier ``--reuse`` run left them."""
    from sqlalchemy import select

    from cartdesk.brands.models import Brand
    from cartdesk.knowledge.models import Article

    with db.transaction(read_only=True) as session:
        return list(session.scalars(select(Article.slug).join(Brand, Brand.id == Article.brand_id)
                                    .where(Brand.slug == "perf").order_by(Article.id)))


async def asgi_get(app, url: str, headers: dict[str, str]) -> tuple[int, float, float]:  # type: ignore[no-untyped-def]
    """One GET handed to the app as a server would: (status, wall ms, CPU ms) until the
    last byte of the response was handed to the server, as the visitor's wait ends there."""
    path, _, query = url.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
             "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1", **headers}.items()]}
    status, sent = 0, (0.0, 0.0)

    async def receive() -> dict:  # type: ignore[type-arg]
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        nonlocal status, sent
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            sent = (time.perf_counter(), time.process_time())  # the visitor has the whole page now

    start, start_cpu = time.perf_counter(), time.process_time()
    await app(scope, receive, send)  # returns after the response's background tasks, if any
    return status, (sent[0] - start) * 1000, (sent[1] - start_cpu) * 1000


def timed(client: TestClient, urls: list[str], headers: dict[str, str]) -> dict[str, float]:
    """Wall time per request, and this process's CPU time per request (the app's, and on
    SQLite the database's too): on a shared machine the wall time mostly measures how long
    we waited for a core, the CPU time what a request costs. ``client`` only runs the app's
    lifespan and event loop; requests are ASGI calls on that loop."""
    app = client.app
    for url in urls[:20]:  # warm-up: templates compiled, vocabulary cached
        client.portal.call(asgi_get, app, url, headers)  # type: ignore[union-attr]
    took, cpu = [], []
    for url in urls:
        status, wall, used = client.portal.call(asgi_get, app, url, headers)  # type: ignore[union-attr]
        took.append(wall)
        cpu.append(used)
        assert status == 200, (url, status)
    took.sort()
    cpu.sort()
    return {"requests": len(took), "p50_ms": round(statistics.median(took), 2),
            "p95_ms": round(took[int(len(took) * 0.95)], 2), "max_ms": round(took[-1], 2),
            "cpu_p50_ms": round(statistics.median(cpu), 2), "cpu_p95_ms": round(cpu[int(len(cpu) * 0.95)], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--in-process-only", action="store_true", help="skip the HTTP measurement (needs wrk)")
    parser.add_argument("--seconds", type=int, default=15, help="wrk's run per operation over HTTP")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the articles an earlier run seeded into --database-url (seed only if none)")
    args = parser.parse_args()
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/perf.db"
        db = create_database(url)
        upgrade(db.engine)
        start = time.perf_counter()
        slugs = seeded(db) if args.reuse else []
        if not slugs:
            slugs = seed(db, args.articles)
            print(f"seeded {args.articles} articles in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        if db.dialect == "postgresql":  # what autovacuum would have done by now
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        titles, _ = texts()
        typed = []
        for title in rng.sample(titles, args.requests):
            cut = rng.choice([len(title), max(4, len(title) // 2), max(4, 2 * len(title) // 3)])
            typed.append(title[:cut])
        settings = Settings(database_url=url, data_dir=Path(tmp), secret_key="perf-bench-secret-key-0123456789",
                            run_jobs_in_process=False)
        hx = {"HX-Request": "true", "Accept": "text/html"}
        operations = [
            ("help-center search (htmx fragment)", [f"/hc/perf/en/search?view=instant&q={quote(q)}" for q in typed], hx),
            ("search API (JSON)", [f"/api/v1/kb/search?brand=perf&q={quote(q)}" for q in typed], {}),
            ("article page (full HTML)",
             [f"/hc/perf/en/articles/{rng.choice(slugs)}" for _ in range(args.requests)], {"Accept": "text/html"}),
            ("help-center home (full HTML)", ["/hc/perf/en"] * max(50, args.requests // 4), {"Accept": "text/html"}),
        ]
        over_http = {} if args.in_process_only else http(url, Path(tmp), operations, seconds=args.seconds)
        with TestClient(create_app(settings, database=db)) as client:
            in_process = {name: timed(client, urls, headers) for name, urls, headers in operations}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs after the run")
    if over_http:
        print("\nOver HTTP: cartdesk serve on loopback, wrk -c1, "
              f"{args.seconds} s per operation after a 3 s warm-up")
        print("| operation | requests | p50 ms | p95 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|---|")
        for name, r in over_http.items():
            print(f"| {name} | {r['requests']} | {r['p50_us'] / 1000:.2f} | {r['p95_us'] / 1000:.2f} "
                  f"| {r['p99_us'] / 1000:.2f} | {r['max_us'] / 1000:.2f} |")
    print("\nIn-process: ASGI calls, one at a time")
    print("| operation | requests | p50 ms | p95 ms | max ms | CPU p50 ms | CPU p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, r in in_process.items():
        print(f"| {name} | {r['requests']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} "
              f"| {r['cpu_p50_ms']} | {r['cpu_p95_ms']} |")


def http(database_url: str, tmp: Path, operations: list, *, seconds: int) -> dict[str, dict]:  # type: ignore[type-arg]
    """Each operation's URLs over real HTTP: one ``cartdesk serve``, wrk at concurrency 1."""
    import shutil
    import signal
    import subprocess

    from http_bench import cartdesk_bin, free_port, run_wrk, wait_http

    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk); or pass --in-process-only")
    port = free_port()
    env = {**os.environ, "CARTDESK_DATABASE_URL": database_url, "CARTDESK_DATA_DIR": str(tmp / "serve"),
           "CARTDESK_SECRET_KEY": "perf-bench-secret-key-0123456789", "CARTDESK_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([cartdesk_bin(), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              start_new_session=True)
    results = {}
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        for name, urls, headers in operations:
            paths = tmp / "paths.txt"
            paths.write_text("\n".join(urls) + "\n")
            wenv = {**env, "CARTDESK_BENCH_PATHS": str(paths),
                    "CARTDESK_BENCH_HEADERS": "|".join(f"{k}: {v}" for k, v in headers.items())}
            run_wrk(f"http://127.0.0.1:{port}", "paths", connections=1, seconds=3, env=wenv)
            results[name] = run_wrk(f"http://127.0.0.1:{port}", "paths", connections=1, seconds=seconds, env=wenv)
            if results[name]["errors"]:
                raise SystemExit(f"{name}: {results[name]['errors']} errors over HTTP")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return results

if __name__ == "__main__":
    main()
