"""Runners in threads and processes, against committed rows (no shared test transaction).

These tests commit for real, so they clean up their jobs afterwards and never
use the rolled-back ``session``/``bound_db`` fixtures (on SQLite those hold the
write lock for the whole test).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from cartdesk.config import Settings
from cartdesk.db.engine import Database, create_database
from cartdesk.db.session import CartdeskSession
from cartdesk.jobs import service as jobs_service
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.jobs.registry import job
from cartdesk.jobs.runner import JobRunner, run_worker

_seen: Counter[int] = Counter()
_seen_lock = threading.Lock()
_signals: dict[str, threading.Event] = {}


@job("tests.threads.track")
def _track(session: Session, payload: dict[str, Any]) -> None:
    session.execute(select(Job.id).where(Job.id == payload["n"]))  # some real work in the transaction
    with _seen_lock:
        _seen[payload["n"]] += 1


@job("tests.threads.signal")
def _signal(session: Session, payload: dict[str, Any]) -> None:
    _signals[payload["key"]].set()


@pytest.fixture
def committed(database: Database) -> Iterator[Database]:
    _seen.clear()
    yield database
    # Every job these tests committed goes, the recurring ones the started runners
    # scheduled too: a "done" purge job for this hour would otherwise make a later test's
    # schedule_recurring() find this period already handled.
    with database.transaction() as s:
        s.execute(delete(Job))


def _url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


def _enqueue(database: Database, name: str, payloads: list[dict[str, Any]]) -> list[int]:
    with database.transaction() as s:
        jobs = [jobs_service.enqueue(s, name, payload) for payload in payloads]
        s.flush()
        return [job.id for job in jobs]


def _statuses(database: Database, ids: list[int]) -> list[JobStatus]:
    with database.transaction(read_only=True) as s:
        return [s.get_one(Job, i).status for i in ids]


def test_concurrent_runners_never_run_the_same_job(committed: Database, settings: Settings) -> None:
    ids = _enqueue(committed, "tests.threads.track", [{"n": n} for n in range(60)])
    runners = [JobRunner(committed, settings=settings, worker_id=f"racer-{i}") for i in range(4)]
    barrier = threading.Barrier(len(runners))
    ran: dict[str, int] = {}

    def race(runner: JobRunner) -> None:
        barrier.wait()
        ran[runner.worker_id] = runner.run_pending()

    threads = [threading.Thread(target=race, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(ran.values()) == len(ids)
    assert sorted(_seen) == list(range(60))
    assert set(_seen.values()) == {1}  # every job exactly once
    assert set(_statuses(committed, ids)) == {JobStatus.done}


def test_postgres_claim_skips_rows_locked_by_another_claimer(
    committed: Database, settings: Settings, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises whole claims instead")
    first, second = _enqueue(committed, "tests.threads.track", [{"n": 1}, {"n": 2}])
    # Without SKIP LOCKED the claim below would wait on the locked row; make waiting an error.
    engine = create_engine(_url(committed), connect_args={"options": "-c lock_timeout=3s"})
    factory = sessionmaker(bind=engine, class_=CartdeskSession, expire_on_commit=False)
    impatient = Database(engine=engine, sessionmaker=factory, read_sessionmaker=factory)
    try:
        with committed.engine.connect() as other:
            other.begin()
            other.execute(select(Job.id).where(Job.id == first).with_for_update())
            claimed = JobRunner(impatient, settings=settings, worker_id="skipper").claim()
            assert claimed is not None and claimed.id == second
            other.rollback()
    finally:
        impatient.dispose()


def test_in_process_runner_thread_runs_jobs_when_woken(committed: Database, settings: Settings) -> None:
    # A long poll interval: only the after-commit wake-up can make this job run promptly.
    settings = settings.model_copy(update={"job_poll_interval": 300.0})
    own = create_database(_url(committed))
    runner = JobRunner(own, settings=settings, worker_id="in-process")
    own.configure_info(job_wakeup=runner.wake)
    _signals["woken"] = threading.Event()
    runner.start()
    try:
        assert runner.running
        _enqueue(own, "tests.threads.signal", [{"key": "woken"}])
        assert _signals["woken"].wait(30), "the runner thread did not pick up the job after wake()"
    finally:
        runner.stop()
        own.dispose()
    assert not runner.running


def test_run_worker_runs_jobs_and_stops_gracefully_on_sigterm(committed: Database, settings: Settings) -> None:
    settings = settings.model_copy(update={"database_url": _url(committed), "job_poll_interval": 0.05})
    _signals["worker"] = done = threading.Event()
    [job_id] = _enqueue(committed, "tests.threads.signal", [{"key": "worker"}])
    previous = signal.getsignal(signal.SIGTERM)

    def terminate_when_done() -> None:
        done.wait(30)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_when_done, daemon=True).start()
    run_worker(settings, concurrency=2)  # returns once SIGTERM arrives

    assert done.is_set()
    assert _statuses(committed, [job_id]) == [JobStatus.done]
    assert signal.getsignal(signal.SIGTERM) is previous  # handlers restored


def test_run_worker_stops_on_stop_event_from_another_thread(committed: Database, settings: Settings) -> None:
    settings = settings.model_copy(update={"database_url": _url(committed), "job_poll_interval": 0.05})
    _signals["evented"] = done = threading.Event()
    stop = threading.Event()
    [job_id] = _enqueue(committed, "tests.threads.signal", [{"key": "evented"}])
    worker = threading.Thread(target=run_worker, args=(settings,), kwargs={"stop_event": stop})
    worker.start()
    assert done.wait(30)
    stop.set()
    worker.join(30)
    assert not worker.is_alive()
    assert _statuses(committed, [job_id]) == [JobStatus.done]


def test_handlers_load_in_a_bare_worker_process() -> None:
    # A worker imports no routes: loading handlers alone must make every model usable.
    code = (
        "from sqlalchemy.orm import configure_mappers\n"
        "from cartdesk.jobs.runner import load_handlers\n"
        "from cartdesk.jobs.registry import registered\n"
        "load_handlers()\n"
        "configure_mappers()\n"
        "print(' '.join(sorted(registered())))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "messages.deliver" in result.stdout.split()
