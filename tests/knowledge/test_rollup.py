"""Old views and searches are folded into daily counts; insights read raw and rolled alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.brands.models import Brand
from cartdesk.config import Settings, get_settings
from cartdesk.db.engine import Database
from cartdesk.jobs import recurring
from cartdesk.jobs.runner import JobRunner
from cartdesk.knowledge import insights
from cartdesk.knowledge import tasks as kb_tasks  # noqa: F401  (registers kb.rollup)
from cartdesk.knowledge.models import ArticleView, ArticleViewDaily, Category, SearchDaily, SearchLog
from cartdesk.knowledge.rollup import roll_up
from tests.factories.knowledge import make_article

NOW = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)


def _view(session: Session, article, at: datetime) -> None:  # type: ignore[no-untyped-def]
    session.add(ArticleView(brand_id=article.brand_id, article_id=article.id, created_at=at))


def _search(session: Session, brand: Brand, q: str, at: datetime, *, results: int, clicked: int | None = None) -> None:
    session.add(SearchLog(brand_id=brand.id, query=q, normalized=q, language="en", source="helpcenter",
                          visitor="v", result_count=results, clicked_article_id=clicked, created_at=at))


@pytest.fixture
def activity(session: Session, brand: Brand, writer: Principal, section: Category):  # type: ignore[no-untyped-def]
    a = make_article(session, writer=writer, section=section, title="Tracking a parcel", body="Use the link.")
    b = make_article(session, writer=writer, section=section, title="Returns", body="Within 30 days.")
    for days_ago, hour, article in [(40, 1, a), (40, 23, a), (40, 12, b), (35, 8, a), (3, 9, a), (3, 10, b)]:
        _view(session, article, NOW - timedelta(days=days_ago) + timedelta(hours=hour - 15))
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=2)
    for at in (old, old + timedelta(hours=1), recent):
        _search(session, brand, "gift wrap", at, results=0)
    _search(session, brand, "parcel", old, results=4)  # no click
    _search(session, brand, "parcel", recent, results=4)
    _search(session, brand, "returns", old, results=2, clicked=b.id)
    session.flush()
    return a, b


def _snapshot(session: Session, brand: Brand) -> tuple[dict, dict, dict]:
    since = NOW - timedelta(days=60)
    days = {d.day: d.views for d in insights.daily(session, brand_id=brand.id, days=60, now=NOW) if d.views}
    none = {g.label: g.count for g in insights.searches_without_results(session, brand_id=brand.id, since=since)}
    noclick = {g.label: g.count for g in insights.searches_without_clicks(session, brand_id=brand.id, since=since)}
    return days, none, noclick


def test_old_rows_become_daily_counts_and_insights_do_not_change(session: Session, brand: Brand, activity) -> None:  # type: ignore[no-untyped-def]
    a, b = activity
    before = _snapshot(session, brand)
    assert sum(before[0].values()) == 6 and before[1] == {"gift wrap": 3} and before[2] == {"parcel": 2}

    result = roll_up(session, now=NOW, raw_days=30)

    assert (result.days, result.views, result.searches) == (2, 4, 4)
    assert session.scalar(select(func.count()).select_from(ArticleView)) == 2  # the two recent ones
    assert session.scalar(select(func.count()).select_from(SearchLog)) == 2
    daily = {(r.article_id, r.day): r.views for r in session.scalars(select(ArticleViewDaily))}
    day40, day35 = (NOW - timedelta(days=40)).date(), (NOW - timedelta(days=35)).date()
    assert daily == {(a.id, day40): 2, (b.id, day40): 1, (a.id, day35): 1}
    searches = {(r.normalized, r.outcome): r.searches for r in session.scalars(select(SearchDaily))}
    assert searches == {("gift wrap", "none"): 2, ("parcel", "noclick"): 1, ("returns", "clicked"): 1}
    assert _snapshot(session, brand) == before


def test_a_second_run_adds_late_rows_without_counting_twice(session: Session, brand: Brand, activity) -> None:  # type: ignore[no-untyped-def]
    a, _ = activity
    roll_up(session, now=NOW, raw_days=30)
    assert roll_up(session, now=NOW, raw_days=30).days == 0  # nothing left: idempotent
    late = NOW - timedelta(days=40) + timedelta(hours=3)
    _view(session, a, late)  # e.g. imported after the day was rolled
    _search(session, brand, "gift wrap", late, results=0)
    session.flush()
    roll_up(session, now=NOW, raw_days=30)
    assert session.get(ArticleViewDaily, (a.id, late.date())).views == 3
    assert session.get(SearchDaily, (brand.id, late.date(), "gift wrap", "none")).searches == 3


def test_rows_newer_than_the_retention_stay_raw(session: Session, brand: Brand, activity) -> None:  # type: ignore[no-untyped-def]
    assert roll_up(session, now=NOW, raw_days=60).days == 0
    assert session.scalar(select(func.count()).select_from(ArticleView)) == 6


def test_the_hourly_job_rolls_up_with_the_configured_retention(
    bound_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, brand: Brand, activity, session: Session  # type: ignore[no-untyped-def]
) -> None:
    assert recurring.registered()["kb.rollup"].every == timedelta(hours=1)
    session.commit()
    monkeypatch.setenv("CARTDESK_KB_ACTIVITY_RAW_DAYS", "30")
    get_settings.cache_clear()
    try:
        # The job reads the real clock: rows 40 days before NOW are old enough today too.
        runner = JobRunner(bound_db, settings=settings, worker_id="kb-rollup-test")
        assert "kb.rollup" in runner.schedule_recurring()
        runner.run_pending()
    finally:
        get_settings.cache_clear()
    with bound_db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ArticleView).where(
            ArticleView.brand_id == brand.id)) == 0  # NOW is in the past: all 40/35/3-day-old rows are > 30 days old
        assert s.scalar(select(func.sum(ArticleViewDaily.views)).where(ArticleViewDaily.brand_id == brand.id)) == 6
