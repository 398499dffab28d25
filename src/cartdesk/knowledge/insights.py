"""What the support lead should write next: searches that found nothing or that nobody
clicked, articles readers say did not help, and views and deflections over time.

Searches are grouped by similarity ("gift wrap", "gift wrapping", "giftwrap") with
rapidfuzz's token-set ratio, so one missing article shows as one line, not five.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from rapidfuzz import fuzz
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.kit.clock import utcnow
from cartdesk.knowledge.models import (
    Article,
    ArticleView,
    ArticleViewDaily,
    Deflection,
    Feedback,
    SearchDaily,
    SearchLog,
)

SIMILAR = 80  # token-set ratio (0-100) at which two searches are the same question


@dataclass
class SearchGroup:
    label: str  # the most frequent wording
    count: int = 0
    variants: dict[str, int] = field(default_factory=dict)


def group_similar(counts: dict[str, int], *, threshold: int = SIMILAR) -> list[SearchGroup]:
    """Greedy clustering, most frequent first: each query joins the first group whose
    label it resembles, or starts a new one."""
    groups: list[SearchGroup] = []
    for query, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        home = next((g for g in groups if _similar(query, g.label, threshold)), None)
        if home is None:
            home = SearchGroup(label=query)
            groups.append(home)
        home.count += n
        home.variants[query] = n
    return sorted(groups, key=lambda g: (-g.count, g.label))


def _similar(a: str, b: str, threshold: int) -> bool:
    """Same words (in any order), nearly the same letters, or one's words beginning the
    other's ("price match" / "price matching guarantee")."""
    if fuzz.token_set_ratio(a, b) >= threshold or fuzz.ratio(a.replace(" ", ""), b.replace(" ", "")) >= threshold:
        return True
    short, long_ = sorted((a.split(), b.split()), key=len)
    return len(short) >= 2 and all(any(w.startswith(s) for w in long_) for s in short)


def _search_counts(session: Session, *, brand_id: int, since: datetime, no_results: bool) -> dict[str, int]:
    stmt = (select(SearchLog.normalized, func.count()).where(SearchLog.brand_id == brand_id,
                                                             SearchLog.created_at >= since)
            .group_by(SearchLog.normalized))
    if no_results:
        stmt = stmt.where(SearchLog.result_count == 0)
    else:
        stmt = stmt.where(SearchLog.result_count > 0, SearchLog.clicked_article_id.is_(None))
    counts = {q: n for q, n in session.execute(stmt) if q}
    # Older days live as daily counts (rollup.py); a day is either raw or rolled, never both.
    rolled = session.execute(
        select(SearchDaily.normalized, func.sum(SearchDaily.searches)).where(
            SearchDaily.brand_id == brand_id, SearchDaily.day >= since.date(),
            SearchDaily.outcome == ("none" if no_results else "noclick"))
        .group_by(SearchDaily.normalized))
    for q, n in rolled:
        if q:
            counts[q] = counts.get(q, 0) + int(n)
    return counts


def searches_without_results(session: Session, *, brand_id: int, since: datetime) -> list[SearchGroup]:
    return group_similar(_search_counts(session, brand_id=brand_id, since=since, no_results=True))


def searches_without_clicks(session: Session, *, brand_id: int, since: datetime) -> list[SearchGroup]:
    return group_similar(_search_counts(session, brand_id=brand_id, since=since, no_results=False))


@dataclass
class RatedArticle:
    article: Article
    helpful: int
    unhelpful: int
    comments: list[str]

    @property
    def score(self) -> float:
        return self.helpful / max(1, self.helpful + self.unhelpful)


def poorly_rated(session: Session, *, brand_id: int, since: datetime, min_votes: int = 3,
                 limit: int = 10) -> list[RatedArticle]:
    """Articles where at most 60% of recent votes say "helpful", worst first, with their comments."""
    votes = session.execute(
        select(Feedback.article_id, Feedback.helpful, func.count())
        .join(Article, Article.id == Feedback.article_id)
        .where(Article.brand_id == brand_id, Feedback.created_at >= since)
        .group_by(Feedback.article_id, Feedback.helpful)
    ).all()
    tally: dict[int, list[int]] = {}
    for article_id, helpful, n in votes:
        tally.setdefault(article_id, [0, 0])[0 if helpful else 1] += n
    weak = {aid: t for aid, t in tally.items() if sum(t) >= min_votes and t[0] / sum(t) <= 0.6}
    if not weak:
        return []
    articles = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(weak)))}
    comments: dict[int, list[str]] = {}
    for article_id, comment in session.execute(
        select(Feedback.article_id, Feedback.comment).where(
            Feedback.article_id.in_(weak), Feedback.comment != "", Feedback.created_at >= since)
        .order_by(Feedback.id.desc())
    ):
        if len(comments.setdefault(article_id, [])) < 3 and comment not in comments[article_id]:
            comments[article_id].append(comment)
    rated = [RatedArticle(article=articles[aid], helpful=t[0], unhelpful=t[1], comments=comments.get(aid, []))
             for aid, t in weak.items()]
    return sorted(rated, key=lambda r: (r.score, -r.unhelpful))[:limit]


@dataclass
class Day:
    day: date
    views: int = 0
    deflections: int = 0


def daily(session: Session, *, brand_id: int, days: int = 30, now: datetime | None = None) -> list[Day]:
    """Views and deflections per UTC day, oldest first, with empty days present."""
    now = now or utcnow()
    first = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    out = {first + timedelta(days=i): Day(day=first + timedelta(days=i)) for i in range(days)}
    for model, attr in ((ArticleView, "views"), (Deflection, "deflections")):
        day = func.date(model.created_at)
        for value, n in session.execute(select(day, func.count()).where(
                model.brand_id == brand_id, model.created_at >= since).group_by(day)):
            key = value if isinstance(value, date) else date.fromisoformat(str(value))
            if key in out:
                setattr(out[key], attr, n)
    for key, n in session.execute(select(ArticleViewDaily.day, func.sum(ArticleViewDaily.views)).where(
            ArticleViewDaily.brand_id == brand_id, ArticleViewDaily.day >= first).group_by(ArticleViewDaily.day)):
        if key in out:
            out[key].views += int(n)
    return list(out.values())
