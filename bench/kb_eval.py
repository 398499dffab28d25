"""Retrieval quality of the knowledge-base search: recall@1, recall@5 and MRR@10.

    python bench/kb_eval.py                      # both sets, SQLite in a temp dir
    python bench/kb_eval.py --database-url postgresql+psycopg://postgres@127.0.0.1/kb_eval
    python bench/kb_eval.py --hybrid             # also BM25 fused with embeddings (needs the ml extra)

Two evaluations, from ../shared/data, through the real services and search code:

- **bitext**: the Bitext tagged customer-support set. Its responses are the articles;
  a held-out sample of its instructions are the queries (their own responses are not
  indexed). A hit is an article of the same intent (27 intents).
- **faq**: the e-commerce FAQ (79 pairs). The answers are the articles (the question
  is not indexed, it would give the answer away); each question must find its answer.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))

from cartdesk.auth import service as auth_service  # noqa: E402
from cartdesk.auth.models import Role  # noqa: E402
from cartdesk.auth.schemas import UserCreate  # noqa: E402
from cartdesk.brands import service as brands_service  # noqa: E402
from cartdesk.db.engine import Database, create_database  # noqa: E402
from cartdesk.db.migrate import upgrade  # noqa: E402
from cartdesk.events.schemas import SYSTEM  # noqa: E402
from cartdesk.knowledge import lookup  # noqa: E402
from cartdesk.knowledge import service as kb_service  # noqa: E402
from cartdesk.knowledge.schemas import ArticleCreate, CategoryCreate  # noqa: E402


@dataclass
class Doc:
    title: str
    body: str
    label: str  # what a hit must share with the query


@dataclass
class Query:
    text: str
    label: str


def bitext(queries: int, seed: int, max_docs: int | None = None) -> tuple[list[Doc], list[Query]]:
    path = DATA / "bitext_intents" / "bitext_llm_tagged_4514_train.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rng = random.Random(seed)
    held = set(rng.sample(range(len(rows)), queries))
    docs = [Doc(title="-", body=r["response"], label=r["intent"]) for i, r in enumerate(rows) if i not in held]
    if max_docs is not None and max_docs < len(docs):  # embedding every response takes minutes on a CPU
        docs = rng.sample(docs, max_docs)
    return docs, [Query(text=rows[i]["instruction"], label=rows[i]["intent"]) for i in sorted(held)]


def faq() -> tuple[list[Doc], list[Query]]:
    pairs = json.loads((DATA / "ecommerce_faq" / "Ecommerce_FAQ_Chatbot_dataset.json").read_text())["questions"]
    docs = [Doc(title="-", body=p["answer"], label=str(i)) for i, p in enumerate(pairs)]
    return docs, [Query(text=p["question"], label=str(i)) for i, p in enumerate(pairs)]


def load(db: Database, name: str, docs: list[Doc]) -> tuple[str, dict[int, str]]:
    """Index the documents as published articles of a fresh brand; returns (brand slug, id → label)."""
    labels: dict[int, str] = {}
    with db.transaction() as session:
        brand = brands_service.create(session, slug=f"eval-{name}", name=f"Eval {name}")
        user = auth_service.create_user(session, actor=SYSTEM, user_in=UserCreate(
            email=f"eval-{name}@example.com", name="Eval", role=Role.supervisor))
        writer = auth_service.principal_for(user)
        top = kb_service.create_category(session, actor=SYSTEM, category_in=CategoryCreate(brand=brand.id, name="All"))
        section = kb_service.create_category(session, actor=SYSTEM, category_in=CategoryCreate(
            brand=brand.id, name="Docs", parent_id=top.id))
        for i, doc in enumerate(docs):
            article = kb_service.create_article(session, principal=writer, brand=brand, article_in=ArticleCreate(
                section_id=section.id, title=doc.title, body_md=doc.body, slug=f"doc-{i}", status="published"))
            labels[article.id] = doc.label
    return f"eval-{name}", labels


def evaluate(db: Database, slug: str, labels: dict[int, str], queries: list[Query], *, hybrid: bool) -> dict:
    r1 = r5 = 0
    rr = 0.0
    took: list[float] = []
    with db.transaction(read_only=True) as session:
        brand = brands_service.resolve(session, ref=slug)
        for q in queries:
            start = time.perf_counter()
            hits = lookup.search_articles(session, brand=brand, q=q.text + " ", limit=10, hybrid=hybrid).hits
            took.append(time.perf_counter() - start)
            ranks = [i for i, h in enumerate(hits, 1) if labels.get(h.article_id) == q.label]
            first = ranks[0] if ranks else None
            r1 += first == 1
            r5 += first is not None and first <= 5
            rr += 1 / first if first else 0.0
    n = len(queries)
    took.sort()
    return {"queries": n, "recall@1": round(r1 / n, 3), "recall@5": round(r5 / n, 3), "mrr@10": round(rr / n, 3),
            "p50_ms": round(took[n // 2] * 1000, 2), "p95_ms": round(took[int(n * 0.95)] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    parser.add_argument("--queries", type=int, default=500, help="held-out Bitext instructions (default 500)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--docs", type=int, help="index only this many Bitext responses (a random sample)")
    parser.add_argument("--hybrid", action="store_true", help="also evaluate BM25 + embeddings (needs the ml extra)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = create_database(args.database_url or f"sqlite:///{tmp}/eval.db")
        upgrade(db.engine)
        results = {}
        for name, (docs, queries) in {"bitext": bitext(args.queries, args.seed, args.docs), "faq": faq()}.items():
            start = time.perf_counter()
            slug, labels = load(db, name, docs)
            if args.hybrid:
                from cartdesk.knowledge import semantic

                with db.transaction() as session:
                    semantic.index_brand(session, brand_id=brands_service.resolve(session, ref=slug).id)
            loaded = time.perf_counter() - start
            if db.dialect == "postgresql":  # what autovacuum would have done by now: without
                # statistics the planner ranked every article (~220 ms a query instead of ~18)
                with db.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
            for mode in ("bm25", "hybrid") if args.hybrid else ("bm25",):
                results[f"{name}/{mode}"] = {"documents": len(docs), "load_s": round(loaded, 1),
                                             **evaluate(db, slug, labels, queries, hybrid=mode == "hybrid")}
        db.dispose()
    print("| set / mode | docs | queries | recall@1 | recall@5 | MRR@10 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for key, r in results.items():
        print(f"| {key} | {r['documents']} | {r['queries']} | {r['recall@1']} | {r['recall@5']} | {r['mrr@10']} "
              f"| {r['p50_ms']} | {r['p95_ms']} |")


if __name__ == "__main__":
    main()
