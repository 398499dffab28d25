"""What visitors do with the help center: rate articles, read them, search, and leave
satisfied instead of writing to us. These rows feed the insights page.

Feedback and deflections are state changes a supervisor may audit, so they write an
event. Views and search logs are measurements (one per page view or typing burst):
they are counted, not audited.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cartdesk.db.engine import Database
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow
from cartdesk.knowledge import search
from cartdesk.knowledge.models import Article, ArticleView, Deflection, Feedback, SearchLog
from cartdesk.knowledge.schemas import FeedbackIn

VISITOR = Actor(type="visitor", id=None, name="Help center visitor")
# Keystrokes within this long of each other, each extending the last, are one search.
TYPING_BURST = timedelta(seconds=60)
# A click on a result this soon after the search counts for it.
CLICK_WINDOW = timedelta(minutes=30)


def record_feedback(session: Session, *, article: Article, feedback_in: FeedbackIn) -> Feedback:
    feedback = Feedback(article_id=article.id, language=feedback_in.language, helpful=feedback_in.helpful,
                        comment=feedback_in.comment.strip(), created_at=utcnow())
    session.add(feedback)
    # Counted in SQL so two visitors rating at once both count; updated_at is kept as is
    # (it means "the content changed", and the search vocabulary cache keys on it).
    column = Article.helpful_count if feedback_in.helpful else Article.unhelpful_count
    session.execute(update(Article).where(Article.id == article.id).values({column: column + 1, Article.updated_at: Article.updated_at}))
    session.flush()
    events_service.record(session, verb="kb.feedback", actor=VISITOR, subject_type="kb_article",
                          subject_id=article.id, brand_id=article.brand_id,
                          data={"helpful": feedback_in.helpful, "feedback_id": feedback.id,
                                "has_comment": bool(feedback.comment)})
    return feedback


def record_view(session: Session, *, article: Article, visitor: str = "", query: str = "") -> None:
    now = utcnow()
    session.add(ArticleView(brand_id=article.brand_id, article_id=article.id, created_at=now))
    session.execute(update(Article).where(Article.id == article.id).values(view_count=Article.view_count + 1, updated_at=Article.updated_at))
    if query:
        _credit_click(session, article=article, visitor=visitor, query=query, now=now)
    session.flush()


def _credit_click(session: Session, *, article: Article, visitor: str, query: str, now) -> None:  # type: ignore[no-untyped-def]
    normalized = search.parse(query).normalized
    row = None
    if visitor:
        row = session.scalar(select(SearchLog).where(
            SearchLog.brand_id == article.brand_id, SearchLog.visitor == visitor,
            SearchLog.normalized == normalized, SearchLog.created_at >= now - CLICK_WINDOW,
        ).order_by(SearchLog.id.desc()).limit(1))
    if row is None:
        session.add(SearchLog(brand_id=article.brand_id, query=query[:300], normalized=normalized[:300],
                              language=article.default_language, source="helpcenter", visitor=visitor,
                              result_count=1, clicked_article_id=article.id, created_at=now))
    elif row.clicked_article_id is None:
        row.clicked_article_id = article.id


def log_search(session: Session, *, brand_id: int, query: str, language: str, source: str, result_count: int,
               visitor: str = "") -> SearchLog | None:
    """Record a search; a visitor's keystrokes ("whe", "where is", "where is my parcel")
    become one row that keeps the latest words."""
    parsed = search.parse(query)
    if parsed.empty:
        return None
    now = utcnow()
    normalized = parsed.normalized[:300]
    if visitor:
        last = session.scalar(select(SearchLog).where(
            SearchLog.brand_id == brand_id, SearchLog.visitor == visitor, SearchLog.source == source,
        ).order_by(SearchLog.id.desc()).limit(1))
        if (last is not None and last.created_at >= now - TYPING_BURST and last.clicked_article_id is None
                and _continues(query, last.query)):
            last.query, last.normalized, last.result_count, last.created_at = query[:300], normalized, result_count, now
            session.flush()
            return last
    row = SearchLog(brand_id=brand_id, query=query[:300], normalized=normalized, language=language, source=source,
                    result_count=result_count, visitor=visitor, created_at=now)
    session.add(row)
    session.flush()
    return row


def _continues(new: str, old: str) -> bool:
    """One is the other with more (or fewer) letters typed: the same search in progress."""
    a, b = " ".join(new.lower().split()), " ".join(old.lower().split())
    return a.startswith(b) or b.startswith(a)


def log_search_after_commit(database: Database, **fields: object) -> None:
    """Search pages are read-only requests; their log row is written in its own short
    transaction once the response has been sent (a background task of the response), so
    a visitor typing never waits for it. A failure here never fails the search."""
    try:
        with database.transaction() as session:
            log_search(session, **fields)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - analytics must never break the page
        import logging

        logging.getLogger(__name__).exception("could not log a help-center search")


def record_deflection(session: Session, *, brand_id: int, article_id: int | None, query: str) -> Deflection:
    deflection = Deflection(brand_id=brand_id, article_id=article_id, query=query.strip()[:1000], created_at=utcnow())
    session.add(deflection)
    session.flush()
    events_service.record(session, verb="kb.deflection", actor=VISITOR, subject_type="kb_article",
                          subject_id=article_id or 0, brand_id=brand_id, data={"deflection_id": deflection.id})
    return deflection
