"""Keep help-center activity from growing without bound.

Every article view and finished search is a row (``kb_article_views``, ``kb_searches``):
insights need them that fine-grained only for recent days (a visitor's keystrokes collapse
into one search, a later click is credited to it). Once a whole UTC day is older than
``kb_activity_raw_days``, its rows are added into daily counts (``kb_article_views_daily``
per article, ``kb_searches_daily`` per wording and outcome) and deleted, in the same
transaction, so a count is never lost or added twice: a re-run finds no raw rows left.
Insights read both (``insights.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from cartdesk.knowledge.models import ArticleView, ArticleViewDaily, SearchDaily, SearchLog

# Days rolled per run: the first run after an upgrade may find months; the hourly job
# finishes the rest on later runs rather than holding one long transaction.
MAX_DAYS_PER_RUN = 62

OUTCOME = case((SearchLog.result_count == 0, "none"),
               (SearchLog.clicked_article_id.is_(None), "noclick"), else_="clicked")


@dataclass
class RollupResult:
    days: int = 0
    views: int = 0  # raw view rows folded into daily counts (and deleted)
    searches: int = 0  # raw search rows folded likewise


def cutoff(*, now: datetime, raw_days: int) -> datetime:
    """Start of the oldest UTC day still kept raw: rows before it are rolled up."""
    return datetime.combine((now - timedelta(days=raw_days)).date(), time.min, tzinfo=UTC)


def roll_up(session: Session, *, now: datetime, raw_days: int, max_days: int = MAX_DAYS_PER_RUN) -> RollupResult:
    """Fold whole UTC days older than ``raw_days`` into daily counts; flushes, the caller commits."""
    before = cutoff(now=now, raw_days=raw_days)
    result = RollupResult()
    while result.days < max_days:
        oldest = _oldest(session, before)
        if oldest is None:
            break
        day = oldest.astimezone(UTC).date()
        start = datetime.combine(day, time.min, tzinfo=UTC)
        end = min(start + timedelta(days=1), before)
        result.views += _roll_views(session, day, start, end)
        result.searches += _roll_searches(session, day, start, end)
        result.days += 1
    session.flush()
    return result


def _oldest(session: Session, before: datetime) -> datetime | None:
    found = [session.scalar(select(func.min(m.created_at)).where(m.created_at < before))
             for m in (ArticleView, SearchLog)]
    found = [f for f in found if f is not None]
    return min(found) if found else None


def _roll_views(session: Session, day: date, start: datetime, end: datetime) -> int:
    window = (ArticleView.created_at >= start, ArticleView.created_at < end)
    counts = session.execute(select(ArticleView.article_id, ArticleView.brand_id, func.count())
                             .where(*window).group_by(ArticleView.article_id, ArticleView.brand_id)).all()
    if not counts:
        return 0
    existing = {r.article_id: r for r in session.scalars(select(ArticleViewDaily).where(
        ArticleViewDaily.day == day, ArticleViewDaily.article_id.in_([c[0] for c in counts])))}
    for article_id, brand_id, n in counts:
        if article_id in existing:
            existing[article_id].views += n
        else:
            session.add(ArticleViewDaily(article_id=article_id, day=day, brand_id=brand_id, views=n))
    session.execute(delete(ArticleView).where(*window).execution_options(synchronize_session=False))
    return sum(c[2] for c in counts)


def _roll_searches(session: Session, day: date, start: datetime, end: datetime) -> int:
    window = (SearchLog.created_at >= start, SearchLog.created_at < end)
    outcome = OUTCOME.label("outcome")
    counts = session.execute(select(SearchLog.brand_id, SearchLog.normalized, outcome, func.count())
                             .where(*window).group_by(SearchLog.brand_id, SearchLog.normalized, outcome)).all()
    if not counts:
        return 0
    existing = {(r.brand_id, r.normalized, r.outcome): r for r in session.scalars(
        select(SearchDaily).where(SearchDaily.day == day, SearchDaily.brand_id.in_({c[0] for c in counts})))}
    for brand_id, normalized, kind, n in counts:
        row = existing.get((brand_id, normalized, kind))
        if row is not None:
            row.searches += n
        else:
            row = SearchDaily(brand_id=brand_id, day=day, normalized=normalized, outcome=kind, searches=n)
            session.add(row)
            existing[(brand_id, normalized, kind)] = row
    session.execute(delete(SearchLog).where(*window).execution_options(synchronize_session=False))
    return sum(c[3] for c in counts)
