"""The job table and runner, inline (run_pending) inside the test's rolled-back transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.db.engine import Database
from cartdesk.events import service as events_service
from cartdesk.events.models import Event
from cartdesk.events.schemas import SYSTEM
from cartdesk.jobs import service as jobs_service
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.jobs.registry import Outside, job
from cartdesk.jobs.runner import BACKOFF_BASE_SECONDS, DEFAULT_LEASE, JobRunner, backoff_delay
from tests.platform.conftest import FakeClock

RAN: list[Any] = []


@job("tests.platform.record")
def _record(session: Session, payload: dict[str, Any]) -> None:
    # Work that must commit together with the job's "done" mark.
    RAN.append(payload["n"])
    events_service.record(session, verb="tests.job_ran", actor=SYSTEM, subject_type="job_test",
                          subject_id=payload["n"], data={"context": jobs_service.context(session).attempt})


@job("tests.platform.fail_after_write")
def _fail_after_write(session: Session, payload: dict[str, Any]) -> None:
    events_service.record(session, verb="tests.job_ran", actor=SYSTEM, subject_type="job_test",
                          subject_id=payload["n"])
    raise RuntimeError(f"boom {payload['n']}")


@job("tests.platform.chain")
def _chain(session: Session, payload: dict[str, Any]) -> None:
    jobs_service.enqueue(session, "tests.platform.record", {"n": payload["n"] + 1})


def _enqueue(db: Database, name: str, payload: dict[str, Any], **options: Any) -> int:
    with db.transaction() as s:
        queued = jobs_service.enqueue(s, name, payload, **options)
        s.flush()
        return queued.id


def _job(db: Database, job_id: int) -> Job:
    with db.transaction(read_only=True) as s:
        return s.get_one(Job, job_id)


def _ran_events(db: Database, n: int) -> int:
    with db.transaction(read_only=True) as s:
        return s.scalar(select(func.count()).select_from(Event).where(
            Event.verb == "tests.job_ran", Event.subject_id == n)) or 0


def test_enqueue_in_rolled_back_transaction_leaves_no_job_and_no_wakeup(bound_db: Database) -> None:
    wakeups: list[str] = []
    bound_db.configure_info(job_wakeup=wakeups.append)  # called with the job's name
    with pytest.raises(RuntimeError), bound_db.transaction() as s:
        jobs_service.enqueue(s, "tests.platform.record", {"n": 1}, dedupe_key="rolled-back")
        s.flush()
        raise RuntimeError("request failed")
    with bound_db.transaction() as s:
        assert s.scalar(select(Job).where(Job.dedupe_key == "rolled-back")) is None
    assert wakeups == []

    _enqueue(bound_db, "tests.platform.record", {"n": 2})
    assert wakeups == ["tests.platform.record"]  # woken once, after the commit


def test_dedupe_key_makes_enqueue_idempotent(bound_db: Database) -> None:
    first = _enqueue(bound_db, "tests.platform.record", {"n": 3}, dedupe_key="dedupe-3")
    again = _enqueue(bound_db, "tests.platform.record", {"n": 3}, dedupe_key="dedupe-3")
    with bound_db.transaction() as s:
        same_tx = jobs_service.enqueue(s, "tests.platform.record", {"n": 3}, dedupe_key="dedupe-3").id
        count = s.scalar(select(func.count()).select_from(Job).where(Job.dedupe_key == "dedupe-3"))
    assert first == again == same_tx
    assert count == 1


def test_run_pending_runs_handler_and_commits_work_with_done_mark(bound_db: Database, runner: JobRunner) -> None:
    job_id = _enqueue(bound_db, "tests.platform.record", {"n": 10})
    assert runner.run_pending() == 1
    done = _job(bound_db, job_id)
    assert done.status == JobStatus.done
    assert done.attempts == 1 and done.finished_at is not None and done.locked_by is None
    assert _ran_events(bound_db, 10) == 1
    assert runner.run_pending() == 0  # done jobs are not run again


def test_jobs_enqueued_by_a_handler_run_in_the_same_drain(bound_db: Database, runner: JobRunner) -> None:
    _enqueue(bound_db, "tests.platform.chain", {"n": 20})
    assert runner.run_pending() == 2
    assert _ran_events(bound_db, 21) == 1


def test_failure_rolls_back_work_retries_with_backoff_then_fails(
    bound_db: Database, runner: JobRunner, clock: FakeClock
) -> None:
    job_id = _enqueue(bound_db, "tests.platform.fail_after_write", {"n": 30}, max_attempts=3)
    start = clock.now

    assert runner.run_pending() == 1
    first = _job(bound_db, job_id)
    assert first.status == JobStatus.queued and first.attempts == 1
    assert "RuntimeError: boom 30" in (first.last_error or "")
    delay = first.run_at - start
    assert timedelta(seconds=BACKOFF_BASE_SECONDS / 2) <= delay <= timedelta(seconds=BACKOFF_BASE_SECONDS)
    assert _ran_events(bound_db, 30) == 0  # the handler's write went with the failure

    assert runner.run_pending() == 0  # not due yet
    clock.now = first.run_at
    assert runner.run_pending() == 1
    second = _job(bound_db, job_id)
    assert second.status == JobStatus.queued and second.attempts == 2
    assert second.run_at - clock.now >= timedelta(seconds=BACKOFF_BASE_SECONDS)  # the step doubled

    clock.now = second.run_at
    assert runner.run_pending() == 1
    last = _job(bound_db, job_id)
    assert last.status == JobStatus.failed and last.attempts == 3
    assert last.finished_at is not None and "boom 30" in (last.last_error or "")
    clock.advance(days=1)
    assert runner.run_pending() == 0


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    low = [backoff_delay(n, rng=lambda: 0.0).total_seconds() for n in range(1, 6)]
    high = [backoff_delay(n, rng=lambda: 1.0).total_seconds() for n in range(1, 6)]
    assert low == [2.5, 5.0, 10.0, 20.0, 40.0]
    assert high == [5.0, 10.0, 20.0, 40.0, 80.0]
    assert backoff_delay(30, rng=lambda: 1.0) == timedelta(hours=1)


def test_unknown_handler_fails_at_once_with_a_clear_error(bound_db: Database, runner: JobRunner) -> None:
    job_id = _enqueue(bound_db, "tests.platform.no_such_handler", {})
    assert runner.run_pending() == 1
    failed = _job(bound_db, job_id)
    assert failed.status == JobStatus.failed
    assert "No handler is registered for job 'tests.platform.no_such_handler'" in (failed.last_error or "")


def test_job_of_a_dead_worker_is_rerun_after_its_lease(
    bound_db: Database, runner: JobRunner, settings: Any, clock: FakeClock
) -> None:
    job_id = _enqueue(bound_db, "tests.platform.record", {"n": 40})
    dead = JobRunner(bound_db, settings=settings, clock=clock, worker_id="dead-worker")
    claimed = dead.claim()  # ... and the process dies before running it
    assert claimed is not None and claimed.id == job_id
    assert _job(bound_db, job_id).locked_by == "dead-worker"

    assert runner.run_pending() == 0  # the lease still holds
    clock.advance(seconds=DEFAULT_LEASE.total_seconds() + 1)
    assert runner.run_pending() == 1
    rerun = _job(bound_db, job_id)
    assert rerun.status == JobStatus.done and rerun.attempts == 2
    assert _ran_events(bound_db, 40) == 1


def test_worker_that_outlived_its_lease_does_not_commit(
    bound_db: Database, runner: JobRunner, settings: Any, clock: FakeClock
) -> None:
    job_id = _enqueue(bound_db, "tests.platform.record", {"n": 50})
    slow = JobRunner(bound_db, settings=settings, clock=clock, worker_id="slow-worker")
    claimed = slow.claim()
    assert claimed is not None
    clock.advance(seconds=DEFAULT_LEASE.total_seconds() + 1)
    assert runner.run_pending() == 1  # taken over and finished elsewhere

    slow._run(claimed)  # the slow worker finally gets to it: its work must roll back
    assert _ran_events(bound_db, 50) == 1
    assert _job(bound_db, job_id).status == JobStatus.done


def test_job_whose_worker_died_on_the_last_attempt_is_failed(
    bound_db: Database, runner: JobRunner, settings: Any, clock: FakeClock
) -> None:
    job_id = _enqueue(bound_db, "tests.platform.record", {"n": 60}, max_attempts=1)
    JobRunner(bound_db, settings=settings, clock=clock, worker_id="dead").claim()
    clock.advance(seconds=DEFAULT_LEASE.total_seconds() + 1)
    assert runner.run_pending() == 0
    failed = _job(bound_db, job_id)
    assert failed.status == JobStatus.failed
    assert "stopped before finishing" in (failed.last_error or "")
    assert _ran_events(bound_db, 60) == 0


def test_limit_and_retry_of_failed_job(bound_db: Database, runner: JobRunner) -> None:
    ids = [_enqueue(bound_db, "tests.platform.record", {"n": 70 + i}) for i in range(3)]
    assert runner.run_pending(limit=2) == 2
    assert [_job(bound_db, i).status for i in ids] == [JobStatus.done, JobStatus.done, JobStatus.queued]

    failing = _enqueue(bound_db, "tests.platform.no_such_handler", {})
    runner.run_pending()
    with bound_db.transaction() as s:
        jobs_service.retry(s, job=jobs_service.get_or_raise(s, job_id=failing))
    again = _job(bound_db, failing)
    assert again.status == JobStatus.queued and again.attempts == 0
    with bound_db.transaction() as s:
        counts = jobs_service.counts_by_status(s)
    assert counts["queued"] >= 1 and counts["done"] >= 3


@job("tests.platform.slow")
def _slow(session: Session, payload: dict[str, Any]) -> None:
    # Stands for a job that takes most of its lease: the test's clock moves while it "runs".
    RAN.append(payload["n"])
    payload_clock = SLOW_CLOCK[0]
    payload_clock.advance(seconds=DEFAULT_LEASE.total_seconds() * 0.6)


SLOW_CLOCK: list[FakeClock] = []


def test_jobs_are_claimed_in_batches_oldest_first(bound_db: Database, runner: JobRunner) -> None:
    ids = [_enqueue(bound_db, "tests.platform.record", {"n": 300 + k}) for k in range(5)]
    batch = runner.claim_batch(3)
    assert [c.id for c in batch] == ids[:3]
    assert all(_job(bound_db, i).status == JobStatus.running for i in ids[:3])
    assert all(_job(bound_db, i).status == JobStatus.queued for i in ids[3:])
    # Another worker cannot take what this one holds.
    other = JobRunner(bound_db, settings=runner.settings, clock=runner.clock, worker_id="other")
    assert [c.id for c in other.claim_batch(10)] == ids[3:]


def test_a_batched_job_whose_lease_is_half_gone_goes_back_to_the_queue(
    bound_db: Database, runner: JobRunner, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    SLOW_CLOCK[:] = [clock]
    RAN.clear()
    slow = _enqueue(bound_db, "tests.platform.slow", {"n": 400})
    behind = _enqueue(bound_db, "tests.platform.record", {"n": 401})
    released: list[list[int]] = []
    real_release = runner._release
    monkeypatch.setattr(runner, "_release", lambda batch: (released.append([c.id for c in batch]),
                                                           real_release(batch)))
    # Both are claimed in one batch; the slow one uses 60% of the lease, so the one behind it
    # is handed back (not run late on a lease another worker may already be taking over) and
    # claimed again with a fresh lease.
    assert runner.run_pending() == 2
    assert RAN == [400, 401]
    assert released == [[behind]]
    done = _job(bound_db, behind)
    assert done.status == JobStatus.done and done.attempts == 1
    assert _job(bound_db, slow).status == JobStatus.done


OUTSIDE: list[str] = []


@job("tests.platform.outside")
def _outside(session: Session, payload: dict[str, Any]) -> Outside:
    # Step one commits with the job still claimed; the slow step runs between transactions.
    events_service.record(session, verb="tests.job_ran", actor=SYSTEM, subject_type="job_test",
                          subject_id=payload["n"])

    def work() -> str:
        OUTSIDE.append("work")
        if payload.get("fail"):
            raise RuntimeError("provider down")
        return "receipt-7"

    def record(session: Session, result: str) -> None:
        OUTSIDE.append(f"record:{result}")
        events_service.record(session, verb="tests.job_recorded", actor=SYSTEM, subject_type="job_test",
                              subject_id=payload["n"], data={"result": result})

    return Outside(work=work, record=record)


def test_a_handler_can_run_its_slow_step_between_two_transactions(bound_db: Database, runner: JobRunner) -> None:
    OUTSIDE.clear()
    job_id = _enqueue(bound_db, "tests.platform.outside", {"n": 71})
    assert runner.run_pending() == 1
    assert OUTSIDE == ["work", "record:receipt-7"]
    assert _job(bound_db, job_id).status == JobStatus.done
    assert _ran_events(bound_db, 71) == 1
    with bound_db.transaction(read_only=True) as s:
        [recorded] = s.scalars(select(Event).where(Event.verb == "tests.job_recorded", Event.subject_id == 71)).all()
    assert recorded.data == {"result": "receipt-7"}


def test_a_failing_slow_step_is_retried_and_the_first_step_stays_committed(
    bound_db: Database, runner: JobRunner
) -> None:
    OUTSIDE.clear()
    job_id = _enqueue(bound_db, "tests.platform.outside", {"n": 72, "fail": True})
    assert runner.run_pending() == 1
    assert OUTSIDE == ["work"]  # never recorded
    failed = _job(bound_db, job_id)
    assert failed.status == JobStatus.queued and "provider down" in (failed.last_error or "")
    assert _ran_events(bound_db, 72) == 1  # step one committed before the slow step


def test_the_last_job_of_a_batch_claims_the_next_batch_in_its_own_transaction(
    bound_db: Database, runner: JobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    RAN.clear()
    ids = [_enqueue(bound_db, "tests.platform.record", {"n": 500 + k}) for k in range(20)]
    claims: list[int] = []
    claim_batch = runner.claim_batch

    def counted(limit: int) -> list[Any]:
        batch = claim_batch(limit)
        claims.append(len(batch))
        return batch

    monkeypatch.setattr(runner, "claim_batch", counted)
    assert runner.run_pending() == 20
    assert [500 + k for k in range(20)] == RAN  # oldest first, each once
    # One claim of its own (8 jobs) and the last, empty one; batches 2 and 3 came with jobs 8 and 16.
    assert claims == [8, 0]
    assert all(_job(bound_db, i).status == JobStatus.done for i in ids)


def test_a_failing_last_job_claims_nothing_and_the_runner_claims_afresh(
    bound_db: Database, runner: JobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    RAN.clear()
    ids = [_enqueue(bound_db, "tests.platform.record", {"n": 600 + k}) for k in range(2)]
    failing = _enqueue(bound_db, "tests.platform.fail_after_write", {"n": 602})
    later = [_enqueue(bound_db, "tests.platform.record", {"n": 603 + k}) for k in range(3)]
    runner.claim_batch_size = 3
    claims: list[int] = []
    claim_batch = runner.claim_batch
    monkeypatch.setattr(runner, "claim_batch", lambda limit: claims.append(limit) or claim_batch(limit))
    assert runner.run_pending() == 6
    assert RAN == [600, 601, 603, 604, 605]
    assert len(claims) == 3  # the first, the one after the failure (its claim rolled back), the empty last
    assert _job(bound_db, failing).status == JobStatus.queued  # retried later, with backoff
    assert _ran_events(bound_db, 602) == 0  # its work rolled back
    assert all(_job(bound_db, i).status == JobStatus.done for i in ids + later)
