"""Recurring jobs: work that runs every so often, once per period across all workers.

A domain declares one next to its other handlers:

    @recurring("search.merge_index", every=timedelta(minutes=1))
    def merge_index(session: Session, payload: dict) -> None: ...

Each runner loop calls :func:`enqueue_due`, which enqueues the current period's run
of every recurring job with the period in its dedupe key. However many web and
worker processes ask, a period's run is enqueued once and then claimed like any
other job: durable, leased, never run twice at the same time by two workers. A
period in which no runner was alive is skipped, not caught up — recurring work is
"keep things tidy", never a per-period obligation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from cartdesk.jobs import registry
from cartdesk.jobs import service as jobs_service


@dataclass(frozen=True, slots=True)
class Recurring:
    name: str
    every: timedelta

    def period(self, now: datetime) -> int:
        return int(now.timestamp() // self.every.total_seconds())

    def period_start(self, period: int) -> datetime:
        return datetime.fromtimestamp(period * self.every.total_seconds(), UTC)


_RECURRING: dict[str, Recurring] = {}


def recurring(name: str, *, every: timedelta) -> Callable[[registry.Handler], registry.Handler]:
    """Register ``fn`` as the handler of job ``name`` and run it once every ``every``."""
    if every < timedelta(seconds=1):
        raise ValueError("recurring jobs run at most once a second")

    def decorator(fn: registry.Handler) -> registry.Handler:
        registry.job(name)(fn)
        _RECURRING[name] = Recurring(name=name, every=every)
        return fn

    return decorator


def registered() -> dict[str, Recurring]:
    return dict(_RECURRING)


def enqueue_due(session: Session, *, now: datetime, seen: Mapping[str, int] | None = None) -> dict[str, int]:
    """Enqueue this period's run of each recurring job; returns {name: period} of those enqueued (or found).

    ``seen`` is what this process already enqueued, so that a runner polling every
    second writes nothing until a new period starts.
    """
    done: dict[str, int] = {}
    for item in _RECURRING.values():
        period = item.period(now)
        if seen is not None and seen.get(item.name) == period:
            continue
        # One attempt: a failed run is not retried, the next period runs anyway.
        jobs_service.enqueue(
            session, item.name, {"period": period}, dedupe_key=f"recurring:{item.name}:{period}",
            run_at=item.period_start(period), max_attempts=1,
        )
        done[item.name] = period
    return done
