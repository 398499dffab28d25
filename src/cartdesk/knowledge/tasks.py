"""Background work of the knowledge base: embeddings for semantic search (``ml`` extra) and
the hourly roll-up of help-center activity into daily counts."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from cartdesk.config import get_settings
from cartdesk.jobs.recurring import recurring
from cartdesk.jobs.registry import job
from cartdesk.kit.clock import utcnow
from cartdesk.knowledge import semantic
from cartdesk.knowledge.models import Article, ArticleTranslation
from cartdesk.knowledge.rollup import roll_up

log = logging.getLogger(__name__)


@job("kb.embed")
def embed(session: Session, payload: dict[str, Any]) -> None:
    """Idempotent: a vector already current for the translation's version is left alone."""
    translation = session.get(ArticleTranslation, payload["translation_id"])
    if translation is None or not semantic.installed():
        return  # deleted since, or the extra was uninstalled: search falls back to BM25
    article = session.get(Article, translation.article_id)
    assert article is not None
    semantic.embed_translations(session, [translation], brand_id=article.brand_id)


@recurring("kb.rollup", every=timedelta(hours=1))
def rollup(session: Session, payload: dict[str, Any]) -> None:
    """Hourly; idempotent by construction (rolled rows are deleted in the same transaction)."""
    result = roll_up(session, now=utcnow(), raw_days=get_settings().kb_activity_raw_days)
    if result.days:
        log.info("kb.rollup: %d day(s), %d views, %d searches folded into daily counts",
                 result.days, result.views, result.searches)
