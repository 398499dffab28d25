from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from cartdesk.channels import registry as channels_registry
from cartdesk.channels.base import FakeAdapter
from cartdesk.config import Settings
from cartdesk.db.engine import Database
from cartdesk.jobs.runner import JobRunner
from cartdesk.kit.clock import utcnow

_channel_seq = itertools.count(1)


class FakeClock:
    """A frozen clock tests move by hand, so backoff and leases need no sleeping.

    It starts a minute ahead of the wall clock, so that jobs the test enqueues
    (stamped with the real time) are already due.
    """

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runner(bound_db: Database, settings: Settings, clock: FakeClock) -> JobRunner:
    return JobRunner(bound_db, settings=settings, clock=clock, worker_id="test-runner")


@pytest.fixture
def fake_channel() -> Iterator[FakeAdapter]:
    adapter = FakeAdapter(f"fake{next(_channel_seq)}")
    channels_registry.register(adapter)
    try:
        yield adapter
    finally:
        channels_registry.unregister(adapter.name)
