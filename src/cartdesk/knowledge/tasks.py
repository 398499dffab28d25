"""Background work of the knowledge base: embeddings for semantic search (``ml`` extra)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cartdesk.jobs.registry import job
from cartdesk.knowledge import semantic
from cartdesk.knowledge.models import Article, ArticleTranslation


@job("kb.embed")
def embed(session: Session, payload: dict[str, Any]) -> None:
    """Idempotent: a vector already current for the translation's version is left alone."""
    translation = session.get(ArticleTranslation, payload["translation_id"])
    if translation is None or not semantic.installed():
        return  # deleted since, or the extra was uninstalled: search falls back to BM25
    article = session.get(Article, translation.article_id)
    assert article is not None
    semantic.embed_translations(session, [translation], brand_id=article.brand_id)
