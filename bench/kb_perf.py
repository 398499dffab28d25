"""Help-center speed at 5,000 articles: search-as-you-type p95 and article page render p95.

    python bench/kb_perf.py                                  # SQLite in a temp dir
    python bench/kb_perf.py --database-url postgresql+psycopg://postgres@127.0.0.1/kb_perf

Articles are the Bitext responses (and FAQ answers) cycled to the wanted count, written
through the knowledge service. Requests go through the whole app in-process
(Starlette's TestClient: routing, session middleware, templates, the database) with
no network in between, one at a time. Searches are what a visitor sends while typing:
each Bitext instruction cut at several lengths.
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


def timed(client: TestClient, urls: list[str], headers: dict[str, str]) -> dict[str, float]:
    """Wall time per request, and this process's CPU time per request (client and app,
    and on SQLite the database too): on a shared machine the wall time mostly measures
    how long we waited for a core, the CPU time what a request costs."""
    for url in urls[:20]:  # warm-up: templates compiled, vocabulary cached
        client.get(url, headers=headers)
    took, cpu = [], []
    for url in urls:
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        took.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
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
        with TestClient(create_app(settings, database=db)) as client:
            from urllib.parse import quote

            hx = {"HX-Request": "true", "Accept": "text/html"}
            search = timed(client, [f"/hc/perf/en/search?view=instant&q={quote(q)}" for q in typed], hx)
            api = timed(client, [f"/api/v1/kb/search?brand=perf&q={quote(q)}" for q in typed], {})
            pages = timed(client, [f"/hc/perf/en/articles/{rng.choice(slugs)}" for _ in range(args.requests)],
                          {"Accept": "text/html"})
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs after the run")
    print("| operation | requests | p50 ms | p95 ms | max ms | CPU p50 ms | CPU p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, r in (("help-center search (htmx fragment)", search), ("search API (JSON)", api),
                    ("article page (full HTML)", pages)):
        print(f"| {name} | {r['requests']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} "
              f"| {r['cpu_p50_ms']} | {r['cpu_p95_ms']} |")


if __name__ == "__main__":
    main()
