"""Quick jobs on the event loop (jobs/loop_runner.py), against committed rows.

Like test_runner_threads.py these commit for real and clean up their jobs. Writes
from the test itself go through a worker thread: a synchronous write on the loop
while a job holds a writer turn would wait blocking the loop it waits for.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cartdesk.config import Settings
from cartdesk.db.engine import Database, create_database
from cartdesk.jobs import registry
from cartdesk.jobs import service as jobs_service
from cartdesk.jobs.loop_runner import LoopRunner
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.jobs.registry import Outside, job
from cartdesk.jobs.runner import JobRunner, load_handlers

# Which thread ran each job, by payload key.
_ran_on: dict[str, int] = {}
_worked_on: dict[str, int] = {}
_failures: dict[str, int] = {}
_order: list[str] = []  # writers in the order they wrote


@job("tests.loop.quick", quick=True)
def _quick(session: Session, payload: dict[str, Any]) -> None:
    session.execute(select(Job.id).limit(1))
    _ran_on[payload["key"]] = threading.get_ident()
    _order.append(payload["key"])


@job("tests.loop.slow")
def _slow(session: Session, payload: dict[str, Any]) -> None:
    _ran_on[payload["key"]] = threading.get_ident()


@job("tests.loop.outside", quick=True)
def _outside(session: Session, payload: dict[str, Any]) -> Outside:
    _ran_on[payload["key"]] = threading.get_ident()

    def work() -> str:
        _worked_on[payload["key"]] = threading.get_ident()
        return "sent"

    def record(session: Session, result: str) -> None:
        session.execute(select(Job.id).limit(1))
        _ran_on[payload["key"] + ":recorded"] = threading.get_ident()
        assert result == "sent"

    return Outside(work=work, record=record)


@job("tests.loop.fails", quick=True)
def _fails(session: Session, payload: dict[str, Any]) -> None:
    _failures[payload["key"]] = _failures.get(payload["key"], 0) + 1
    raise RuntimeError("the provider said no")


QUICK = frozenset({"tests.loop.quick", "tests.loop.outside", "tests.loop.fails"})


@pytest.fixture
def own(database: Database) -> Iterator[Database]:
    """A database of its own (file engine: writer turns on SQLite), emptied of jobs after."""
    _ran_on.clear()
    _worked_on.clear()
    _failures.clear()
    _order.clear()
    db = create_database(database.engine.url.render_as_string(hide_password=False))
    yield db
    with db.transaction() as s:
        s.execute(delete(Job))
    db.dispose()


def _enqueue(database: Database, name: str, key: str) -> int:
    with database.transaction() as s:
        job_row = jobs_service.enqueue(s, name, {"key": key})
        s.flush()
        return job_row.id


def _job(database: Database, job_id: int) -> Job:
    with database.transaction(read_only=True) as s:
        return s.get_one(Job, job_id)


async def _until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_quick_names_are_the_jobs_registered_quick() -> None:
    load_handlers()
    assert registry.quick_names() >= QUICK
    assert "tests.loop.slow" not in registry.quick_names()
    assert "messages.deliver" in registry.quick_names()  # a reply's delivery: a few statements


async def test_quick_jobs_run_on_the_loop_and_the_others_in_the_runners_thread(
    own: Database, settings: Settings
) -> None:
    # A long poll interval: only the wake-up after the enqueuing commit runs them promptly.
    settings = settings.model_copy(update={"job_poll_interval": 300.0})
    threads = JobRunner(own, settings=settings, worker_id="threads", skip=QUICK)
    loop_runner = LoopRunner(JobRunner(own, settings=settings, worker_id="loop", names=QUICK))

    def wake(name: str | None = None) -> None:
        threads.wake(name)
        loop_runner.wake(name)

    own.configure_info(job_wakeup=wake)
    loop_runner.start()
    threads.start()
    try:
        quick_id = await asyncio.to_thread(_enqueue, own, "tests.loop.quick", "q")
        slow_id = await asyncio.to_thread(_enqueue, own, "tests.loop.slow", "s")
        await _until(lambda: "q" in _ran_on and "s" in _ran_on)
    finally:
        await loop_runner.stop()
        await asyncio.to_thread(threads.stop)
    assert _ran_on["q"] == threading.get_ident()  # this test's event loop
    assert _ran_on["s"] != threading.get_ident()  # the runner's thread
    for job_id, by in ((quick_id, "loop"), (slow_id, "threads")):
        row = await asyncio.to_thread(_job, own, job_id)
        assert row.status == JobStatus.done
        assert row.locked_by is None
        assert by in ("loop", "threads")
    assert not loop_runner.running


async def test_an_outside_step_runs_in_a_thread_and_is_recorded_on_the_loop(
    own: Database, settings: Settings
) -> None:
    loop_runner = LoopRunner(JobRunner(own, settings=settings, worker_id="loop", names=QUICK))
    job_id = await asyncio.to_thread(_enqueue, own, "tests.loop.outside", "o")
    assert await loop_runner.run_pending() == 1
    loop_thread = threading.get_ident()
    assert _ran_on["o"] == loop_thread
    assert _worked_on["o"] != loop_thread  # the slow step never blocks the loop
    assert _ran_on["o:recorded"] == loop_thread
    assert (await asyncio.to_thread(_job, own, job_id)).status == JobStatus.done


async def test_a_failing_quick_job_is_retried_later_without_stalling_the_loop(
    own: Database, settings: Settings
) -> None:
    # The failure is recorded in a transaction of its own, in a writer turn of its own: a
    # second transaction in the job's turn would wait for the lock blocking the loop.
    loop_runner = LoopRunner(JobRunner(own, settings=settings, worker_id="loop", names=QUICK))
    job_id = await asyncio.to_thread(_enqueue, own, "tests.loop.fails", "f")
    hold = asyncio.Event()

    async def request(n: int) -> None:  # writers waiting their turn while the job fails
        async with own.writer_turn():
            _order.append(f"r{n}")
            if n == 0:
                await hold.wait()

    requests = [asyncio.create_task(request(n)) for n in range(4)]
    # On SQLite the other three now wait for r0's turn; PostgreSQL has no turns to wait for,
    # and there the test is of the retry alone.
    await _until(lambda: _order[:1] == ["r0"])
    started = asyncio.get_running_loop().time()
    jobs = asyncio.create_task(loop_runner.run_pending())
    await asyncio.sleep(0.02)
    hold.set()
    assert await jobs == 1
    await asyncio.gather(*requests)
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 5, "recording the failure waited for the writer lock"
    row = await asyncio.to_thread(_job, own, job_id)
    assert _failures["f"] == 1
    assert row.status == JobStatus.queued  # back in the queue, with backoff
    assert row.attempts == 1
    assert row.run_at > row.created_at
    assert "the provider said no" in (row.last_error or "")


async def test_a_runner_stays_asleep_for_jobs_it_does_not_take(own: Database, settings: Settings) -> None:
    threads = JobRunner(own, settings=settings, skip=QUICK)
    assert not threads.takes("tests.loop.quick") and threads.takes("tests.loop.slow")
    threads.wake("tests.loop.quick")
    assert not threads._wakeup.is_set()
    threads.wake("tests.loop.slow")
    assert threads._wakeup.is_set()

    loop_runner = LoopRunner(JobRunner(own, settings=settings, names=QUICK))
    loop_runner.start()
    try:
        assert loop_runner._event is not None
        await asyncio.sleep(0.05)  # its first look for ready jobs: none
        loop_runner._event.clear()
        loop_runner.wake("tests.loop.slow")
        assert not loop_runner._event.is_set()
        loop_runner.wake("tests.loop.quick")
        assert loop_runner._event.is_set()
    finally:
        await loop_runner.stop()


async def test_loop_jobs_take_turns_with_waiting_requests(own: Database, settings: Settings) -> None:
    # Requests wait for the writer lock in a line of their own, one of them in the lock's
    # queue; the loop's runner stands in that queue directly, so with many requests
    # waiting its jobs still get every other turn rather than one in many.
    if not own.has_writer_turns:
        pytest.skip("writer turns are SQLite's; PostgreSQL has no single write lock")
    loop_runner = LoopRunner(JobRunner(own, settings=settings, worker_id="loop", names=QUICK))
    for n in range(3):
        await asyncio.to_thread(_enqueue, own, "tests.loop.quick", f"j{n}")
    hold = asyncio.Event()

    async def request(n: int) -> None:
        async with own.writer_turn():
            _order.append(f"r{n}")
            if n == 0:
                await hold.wait()  # the first request holds the lock while the rest line up

    requests = [asyncio.create_task(request(n)) for n in range(6)]
    await _until(lambda: _order == ["r0"])
    jobs = asyncio.create_task(loop_runner.run_pending())
    await asyncio.sleep(0.05)
    hold.set()
    await asyncio.gather(*requests)
    assert await jobs == 3
    # The claim and each job came after one request each, not after all five waiting.
    assert sorted(_order) == ["j0", "j1", "j2", "r0", "r1", "r2", "r3", "r4", "r5"]
    assert _order.index("j2") < _order.index("r5"), _order
    assert not any(a.startswith("j") and b.startswith("j") for a, b in zip(_order, _order[1:], strict=False)), _order


async def test_a_woken_runner_claims_without_peeking_and_stops_when_its_last_claim_found_none(
    own: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each look for ready jobs is a transaction; a busy runner woken after every reply made
    # two of them per job beside its claim.
    inner = JobRunner(own, settings=settings, worker_id="loop", names=QUICK)
    peeks: list[int] = []
    real_peek = inner._any_ready
    monkeypatch.setattr(inner, "_any_ready", lambda now: peeks.append(1) or real_peek(now))
    inner._last_sweep = inner.clock()  # no lease sweep due: it would claim regardless
    loop_runner = LoopRunner(inner)
    for n in range(2):
        await asyncio.to_thread(_enqueue, own, "tests.loop.quick", f"w{n}")
    assert await loop_runner.run_pending(peek=False) == 2
    assert peeks == []  # claimed at once; the last job's claim found none, so it stopped
    assert await loop_runner.run_pending() == 0
    assert peeks == [1]  # a poll looks first, and finds nothing to take a writer turn for


async def test_a_quick_job_is_written_claimed_and_handed_to_the_loops_runner_without_a_claim(
    own: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.model_copy(update={"job_poll_interval": 300.0})
    inner = JobRunner(own, settings=settings, worker_id="loop", names=QUICK)
    loop_runner = LoopRunner(inner)
    looks: list[str] = []
    real_claim, real_peek = inner._claim_in, inner._any_ready
    monkeypatch.setattr(inner, "_claim_in", lambda *a, **k: looks.append("claim") or real_claim(*a, **k))
    monkeypatch.setattr(inner, "_any_ready", lambda now: looks.append("peek") or real_peek(now))
    own.configure_info(job_wakeup=loop_runner.wake, job_taker=loop_runner)
    loop_runner.start()
    try:
        await asyncio.sleep(0.05)  # its first poll at start
        looks.clear()

        def enqueue_and_read_back() -> Job:
            with own.transaction() as s:
                job_row = jobs_service.enqueue(s, "tests.loop.quick", {"key": "t"})
                s.flush()
                written = s.connection().execute(
                    select(Job.status, Job.locked_by, Job.attempts).where(Job.id == job_row.id)).one()
            assert tuple(written) == (JobStatus.running, "loop", 1)  # claimed as it was written
            return job_row.id

        job_id = await asyncio.to_thread(enqueue_and_read_back)
        await _until(lambda: "t" in _ran_on)
        await _until(lambda: _job(own, job_id).status == JobStatus.done)
    finally:
        await loop_runner.stop()
    assert _ran_on["t"] == threading.get_ident()
    assert looks == []  # no claiming transaction, no look in the table


async def test_jobs_taken_but_not_begun_go_back_to_the_queue_when_the_runner_stops(
    own: Database, settings: Settings
) -> None:
    loop_runner = LoopRunner(JobRunner(own, settings=settings, worker_id="loop", names=QUICK))
    # Running, but busy with a long job: what it takes now waits in its hands.
    loop_runner._loop, loop_runner._loop_thread = asyncio.get_running_loop(), threading.get_ident()
    loop_runner._event = asyncio.Event()
    loop_runner._task = asyncio.create_task(asyncio.sleep(30))
    own.configure_info(job_taker=loop_runner)
    job_id = await asyncio.to_thread(_enqueue, own, "tests.loop.quick", "left")
    assert (await asyncio.to_thread(_job, own, job_id)).locked_by == "loop"
    await loop_runner.stop(timeout=0.1)
    row = await asyncio.to_thread(_job, own, job_id)
    assert (row.status, row.locked_by, row.attempts) == (JobStatus.queued, None, 0)
    assert "left" not in _ran_on
    # Nobody's hands now: a plain runner claims and runs it.
    assert await asyncio.to_thread(JobRunner(own, settings=settings, worker_id="next").run_pending) == 1
    assert (await asyncio.to_thread(_job, own, job_id)).status == JobStatus.done


async def test_a_rolled_back_enqueue_hands_nothing_over(own: Database, settings: Settings) -> None:
    loop_runner = LoopRunner(JobRunner(own, settings=settings, worker_id="loop", names=QUICK))
    own.configure_info(job_taker=loop_runner)
    loop_runner.start()
    try:
        def enqueue_then_fail() -> None:
            with pytest.raises(RuntimeError), own.transaction() as s:
                jobs_service.enqueue(s, "tests.loop.quick", {"key": "gone"})
                raise RuntimeError("the request failed")

        await asyncio.to_thread(enqueue_then_fail)
        assert not loop_runner._taken
    finally:
        await loop_runner.stop()
    assert "gone" not in _ran_on
