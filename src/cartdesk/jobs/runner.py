"""Claiming and running durable jobs: in-process threads, `cartdesk worker`, or inline in tests.

A job moves queued → running → done, or back to queued with a later ``run_at``
after a failure, or to failed once ``max_attempts`` runs have failed. Claiming
stamps a few ready rows (up to ``claim_batch_size``) with this worker's id and a
lease (``locked_until``); running is a transaction in which the handler's work and
the "done" mark commit together. The first claim is a short transaction of its own;
after that, the transaction of a batch's last job also claims the next batch, so a
busy runner pays no claiming transactions at all. A worker that dies mid-job leaves its lease to
expire, and the job is claimed again — so handlers must be idempotent.

Claiming uses ``SELECT .. FOR UPDATE SKIP LOCKED`` on PostgreSQL, so many workers
take different jobs without waiting on each other; on SQLite the SELECT and the
``UPDATE .. RETURNING`` run inside one ``BEGIN IMMEDIATE`` transaction, and SQLite
runs one writer at a time. A claimed job whose lease is half gone before its turn in
the batch comes is handed back to the queue instead of being run late.
"""

from __future__ import annotations

import importlib
import logging
import os
import random
import signal
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from cartdesk.config import Settings
from cartdesk.db.engine import Database, create_database
from cartdesk.jobs import recurring, registry
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.jobs.service import CONTEXT_KEY, JobContext, purge_finished
from cartdesk.kit.clock import utcnow

log = logging.getLogger(__name__)

# A job holds its claim this long; a worker that has not finished by then is presumed
# dead. Handlers are short (a send, a sync call); anything longer splits itself up.
DEFAULT_LEASE = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0
# Done jobs are evidence for a while, then clutter.
KEEP_DONE_JOBS = timedelta(days=7)
_PURGE_EVERY = timedelta(hours=1)
# How often a claim also fails the jobs whose worker died on their last attempt (they are
# never claimed again, see ``_ready``, so they only wait a little longer to be marked).
_SWEEP_EVERY = timedelta(seconds=30)
_MAX_ERROR_CHARS = 4000


def handler_modules() -> list[str]:
    """Every domain's ``tasks`` module, by name, found on disk under the package.

    The platform never imports a domain at module level; instead it imports these
    names when a runner starts, and each module registers its handlers with
    :func:`cartdesk.jobs.registry.job`. Adding ``<domain>/tasks.py`` is enough.
    """
    root = Path(__file__).resolve().parents[1]
    names = []
    for path in sorted(root.rglob("tasks.py")):
        parts = path.relative_to(root).with_suffix("").parts
        names.append(".".join(("cartdesk", *parts)))
    return names


def load_handlers(modules: Iterable[str] | None = None) -> list[str]:
    """Import the handler modules (idempotent); returns the names imported.

    Every model is imported first: a ``cartdesk worker`` process loads no routes,
    and a handler touching one model needs the models its relationships name.
    """
    importlib.import_module("cartdesk.db.models")
    names = list(modules) if modules is not None else handler_modules()
    for name in names:
        importlib.import_module(name)
    return names


def backoff_delay(attempt: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with jitter: about 5 s, 10 s, 20 s .. capped at an hour.

    The jitter (50–100 % of the step) spreads out retries of jobs that failed
    together, e.g. every delivery while a mail server was down.
    """
    step = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return timedelta(seconds=step * (0.5 + rng() / 2))


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    name: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    locked_until: datetime | None = None


def _ready(now: Any) -> Any:
    """Queued and due, or claimed by a worker whose lease has run out with attempts left
    (one without is failed by ``_fail_exhausted_leases``). ``now`` is a time or a bind
    parameter (the prebuilt statements below)."""
    return or_(
        (Job.status == JobStatus.queued) & (Job.run_at <= now),
        (Job.status == JobStatus.running) & (Job.locked_until < now) & (Job.attempts < Job.max_attempts),
    )


@dataclass(frozen=True, slots=True)
class _ClaimStatements:
    any_ready: Any
    pick: Any
    pick_skip_locked: Any
    claim: Any


@cache
def _claim_statements(names: frozenset[str] | None, skip: frozenset[str]) -> _ClaimStatements:
    """The claim's statements for a runner that takes only ``names`` (None: any) and never
    ``skip``, built once with bind parameters and run on the connection: built per claim
    (an OR of two conditions, an IN list) and run through the ORM, a claim of one job cost
    ~3 ms of CPU, more than the job itself (docs/performance.md)."""
    ready = _ready(bindparam("now"))
    if names is not None:
        ready = ready & Job.name.in_(sorted(names))
    if skip:
        ready = ready & Job.name.not_in(sorted(skip))
    pick = select(Job.id).where(ready).order_by(Job.run_at, Job.id).limit(bindparam("limit"))
    claim = (
        update(Job)
        .where(Job.id.in_(bindparam("ids", expanding=True)), ready)
        .values(status=JobStatus.running, locked_by=bindparam("worker"), locked_until=bindparam("until"),
                attempts=Job.attempts + 1)
        .returning(Job.id, Job.name, Job.payload, Job.attempts, Job.max_attempts)
    )
    return _ClaimStatements(any_ready=select(Job.id).where(ready).limit(1), pick=pick,
                            pick_skip_locked=pick.with_for_update(skip_locked=True), claim=claim)


@dataclass(slots=True)
class _Step:
    """What one transaction of a job came to: the next batch it claimed, the slow step to
    run outside any transaction, or the error of a failed attempt (recorded by
    ``_finish_failed`` in a transaction of its own)."""

    following: list[_Claimed] = field(default_factory=list)
    outside: registry.Outside | None = None
    error: str | None = None
    looked: bool = False  # it also looked for more jobs (``following`` is all there were)


# Built once (building it per job cost about as much as running it).
_MARK_DONE = (
    update(Job)
    .where(Job.id == bindparam("job_id"), Job.locked_by == bindparam("worker"), Job.status == JobStatus.running)
    .values(status=JobStatus.done, finished_at=bindparam("finished_at"), locked_by=None, locked_until=None)
    .execution_options(synchronize_session=False)
)


class LeaseLost(Exception):
    """Our lease expired and another worker claimed the job; our run is rolled back."""


class JobRunner:
    """Runs jobs from the table. One per process; ``concurrency`` threads when started.

    ``run_pending`` drains ready jobs in the calling thread (tests, the CLI);
    ``start`` runs the same loop in daemon threads that wake on :meth:`wake` (called
    after a commit that enqueued a job) or every ``settings.job_poll_interval``.
    ``names`` limits the runner to jobs of those names, and it never claims jobs named
    in ``skip`` (the web process's threads skip the quick jobs its event loop runs,
    ``jobs.loop_runner``).
    """

    def __init__(
        self,
        database: Database,
        *,
        settings: Settings,
        concurrency: int = 1,
        lease: timedelta = DEFAULT_LEASE,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        claim_batch_size: int = 8,
        names: Collection[str] | None = None,
        skip: Collection[str] = (),
    ) -> None:
        self.database = database
        self.settings = settings
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._services: list[registry.BackgroundService] = []
        self._handlers_loaded = False
        self._last_purge: datetime | None = None
        self._last_sweep: datetime | None = None
        self._recurring_seen: dict[str, int] = {}
        self.claim_batch_size = claim_batch_size
        self.names = None if names is None else frozenset(names)
        self.skip = frozenset(skip)

    @property
    def _statements(self) -> _ClaimStatements:
        return _claim_statements(self.names, self.skip)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._ensure_handlers()
        self._stopping.clear()
        for n in range(self.concurrency):
            thread = threading.Thread(target=self._loop, name=f"cartdesk-jobs-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._start_services()
        log.info("job runner %s started with %d thread(s)", self.worker_id, self.concurrency)

    def _start_services(self) -> None:
        for name, factory in registry.services().items():
            try:
                service = factory(self.database, self.settings)
                if service is not None:
                    service.start()
                    self._services.append(service)
            except Exception:  # one service failing to start must not stop the jobs
                log.exception("background service %s did not start", name)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the jobs in hand, then stop; a job still running at ``timeout`` is left
        to its lease (it will run again elsewhere)."""
        self._stopping.set()
        self._wakeup.set()
        for service in self._services:
            service.stop(timeout)
        self._services = []
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def wake(self, name: str | None = None) -> None:
        """Look for ready jobs now (after a commit that enqueued one). A runner that would
        not claim a job named ``name`` stays asleep."""
        if name is None or self.takes(name):
            self._wakeup.set()

    def takes(self, name: str) -> bool:
        """Whether this runner claims jobs named ``name``."""
        return name not in self.skip and (self.names is None or name in self.names)

    def poke_services(self) -> None:
        """Tell the background services that their configuration changed (a mailbox was added)."""
        for service in self._services:
            poke = getattr(service, "poke", None)
            if poke is not None:
                poke()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                self.schedule_recurring()
                self.run_pending(stop=self._stopping)
                self._maybe_purge()
            except Exception:  # the loop outlives a database hiccup
                log.exception("job runner loop failed; retrying after the poll interval")
            self._wakeup.wait(self.settings.job_poll_interval)

    # --- running ---------------------------------------------------------------------

    def run_pending(self, limit: int | None = None, *, stop: threading.Event | None = None) -> int:
        """Run ready jobs one after another until none is left (or ``limit``); returns how many ran.

        Jobs that a handler enqueues are run in the same call, which is what makes
        "jobs run inline in tests" work. A failed job is rescheduled into the future,
        so it is not retried within the same call. Jobs are claimed a few at a time
        (``claim_batch``): one claiming transaction per batch instead of one per job.
        """
        self._ensure_handlers()
        count = 0
        batch: list[_Claimed] = []
        while limit is None or count < limit:
            if not batch:
                batch = self.claim_batch(self._want(limit, count))
            if not batch:
                break
            following: list[_Claimed] = []
            for n, claimed in enumerate(batch):
                if (stop is not None and stop.is_set()) or self.lease_half_gone(claimed):
                    self._release(batch[n:])
                    if stop is not None and stop.is_set():
                        return count
                    break
                # The batch's last job also claims the next one, in its own transaction.
                last = n == len(batch) - 1
                following = self._run(claimed, claim_next=self._want(limit, count + 1) if last else 0)
                count += 1
            batch = following
        return count

    def _want(self, limit: int | None, count: int) -> int:
        return self.claim_batch_size if limit is None else max(0, min(self.claim_batch_size, limit - count))

    def claim(self) -> _Claimed | None:
        """Take the next ready job (or one whose lease has expired) for this worker."""
        batch = self.claim_batch(1)
        return batch[0] if batch else None

    def claim_batch(self, limit: int) -> list[_Claimed]:
        """Take up to ``limit`` ready jobs, oldest first, in one short transaction."""
        now = self.clock()
        if not self._sweep_due(now) and self.database.dialect == "sqlite" and not self._any_ready(now):
            # Nothing to claim: no write transaction, so SQLite's one writer lock stays with
            # the requests (the runner wakes after every commit that enqueued a job).
            return []
        with self.database.transaction() as session:
            return self._claim_in(session, now, limit)

    def _sweep_due(self, now: datetime) -> bool:
        return self._last_sweep is None or now - self._last_sweep >= _SWEEP_EVERY

    def _claim_in(self, session: Session, now: datetime, limit: int) -> list[_Claimed]:
        """Claim up to ``limit`` ready jobs in ``session``'s (write) transaction (a claim of
        its own, or the transaction of the job before them)."""
        if self._sweep_due(now):
            self._fail_exhausted_leases(session, now)
            self._last_sweep = now
        connection = session.connection()
        # On PostgreSQL, rows another worker is claiming right now are skipped, not waited
        # for; our row locks last until this claim commits. On SQLite the transaction
        # already holds the write lock (BEGIN IMMEDIATE), so nobody can claim the picked
        # rows between the SELECT and the UPDATE.
        statements = self._statements
        pick = statements.pick_skip_locked if connection.dialect.name == "postgresql" else statements.pick
        ids = list(connection.execute(pick, {"now": now, "limit": max(1, limit)}).scalars())
        if not ids:
            return []
        until = now + self.lease
        rows = connection.execute(
            statements.claim, {"ids": ids, "now": now, "worker": self.worker_id, "until": until}
        ).all()
        order = {job_id: n for n, job_id in enumerate(ids)}
        return [
            _Claimed(id=row.id, name=row.name, payload=row.payload or {}, attempt=row.attempts,
                     max_attempts=row.max_attempts, locked_until=until)
            for row in sorted(rows, key=lambda r: order[r.id])
        ]

    def _any_ready(self, now: datetime) -> bool:
        with self.database.transaction(read_only=True) as session:
            return session.connection().execute(self._statements.any_ready, {"now": now}).first() is not None

    def _release(self, claimed: list[_Claimed]) -> None:
        """Hand claimed jobs we will not run back to the queue, as if never claimed."""
        if not claimed:
            return
        with self.database.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.id.in_([c.id for c in claimed]), Job.locked_by == self.worker_id,
                       Job.status == JobStatus.running)
                .values(status=JobStatus.queued, locked_by=None, locked_until=None, attempts=Job.attempts - 1)
                .execution_options(synchronize_session=False)
            )

    def _fail_exhausted_leases(self, session: Session, now: datetime) -> None:
        # A job whose worker died on its last attempt is never claimed again (``_ready``);
        # this marks it failed, so that it does not sit as 'running' for ever.
        session.execute(
            update(Job)
            .where(Job.status == JobStatus.running, Job.locked_until < now, Job.attempts >= Job.max_attempts)
            .values(
                status=JobStatus.failed,
                finished_at=now,
                locked_by=None,
                locked_until=None,
                last_error="Gave up: the worker running the last attempt stopped before finishing.",
            )
            .execution_options(synchronize_session=False)
        )

    def _run(self, claimed: _Claimed, *, claim_next: int = 0) -> list[_Claimed]:
        """Run one claimed job. With ``claim_next``, the transaction that marks it done also
        claims up to that many more (returned), sparing a claiming transaction of its own:
        that transaction cost about as much as a short job (docs/performance.md).

        Each step below is one transaction; ``jobs.loop_runner`` runs the same steps on the
        event loop, each in a writer turn of its own."""
        handler = registry.get_handler(claimed.name)
        if handler is None:
            self._finish_failed(claimed, self._no_handler(claimed), final=True)
            return []
        context = self._context(claimed)
        step = self._handler_step(claimed, handler, context, claim_next)
        if step.outside is not None:
            # Committed; the job is still ours under its lease. The slow step runs
            # holding no transaction, then its result is recorded and the job done.
            try:
                result = step.outside.work()
            except Exception as exc:
                step = self._attempt_failed(claimed, exc)
            else:
                step = self._record_step(claimed, step.outside, result, context, claim_next)
        if step.error is not None:
            self._finish_failed(claimed, step.error, final=claimed.attempt >= claimed.max_attempts)
        return step.following

    @staticmethod
    def _no_handler(claimed: _Claimed) -> str:
        return (f"No handler is registered for job {claimed.name!r}. Handlers are found in each "
                f"domain's tasks.py (loaded: {', '.join(handler_modules()) or 'none'}).")

    @staticmethod
    def _context(claimed: _Claimed) -> JobContext:
        return JobContext(id=claimed.id, name=claimed.name, attempt=claimed.attempt,
                          max_attempts=claimed.max_attempts)

    def _handler_step(
        self, claimed: _Claimed, handler: registry.Handler, context: JobContext, claim_next: int
    ) -> _Step:
        """The handler's transaction: its work and the done mark (and the next claim), or,
        when it hands back :class:`Outside`, its work alone with the job still claimed."""
        try:
            with self.database.transaction() as session:
                session.info[CONTEXT_KEY] = context
                outside = handler(session, dict(claimed.payload))
                if isinstance(outside, registry.Outside):
                    return _Step(outside=outside)
                return self._finish(session, claimed, claim_next)
        except LeaseLost:
            return self._lease_lost(claimed)
        except Exception as exc:
            return self._attempt_failed(claimed, exc)

    def _record_step(
        self, claimed: _Claimed, outside: registry.Outside, result: Any, context: JobContext, claim_next: int
    ) -> _Step:
        """The second transaction of an :class:`Outside` job: its outcome and the done mark."""
        try:
            with self.database.transaction() as session:
                session.info[CONTEXT_KEY] = context
                outside.record(session, result)
                return self._finish(session, claimed, claim_next)
        except LeaseLost:
            return self._lease_lost(claimed)
        except Exception as exc:
            return self._attempt_failed(claimed, exc)

    def _finish(self, session: Session, claimed: _Claimed, claim_next: int) -> _Step:
        self._mark_done(session, claimed)
        if not claim_next:
            return _Step()
        return _Step(following=self._claim_in(session, self.clock(), claim_next), looked=True)

    @staticmethod
    def _lease_lost(claimed: _Claimed) -> _Step:
        log.warning("job %s (%s) ran past its lease and was claimed elsewhere; rolled back",
                    claimed.id, claimed.name)
        return _Step()

    @staticmethod
    def _attempt_failed(claimed: _Claimed, exc: Exception) -> _Step:
        log.warning("job %s (%s) attempt %d/%d failed: %s", claimed.id, claimed.name, claimed.attempt,
                    claimed.max_attempts, exc, exc_info=True)
        return _Step(error=_describe(exc))

    def lease_half_gone(self, claimed: _Claimed) -> bool:
        """A job whose lease is half gone by the time its turn comes (slow jobs ahead of it)
        goes back to the queue rather than risk running twice."""
        return claimed.locked_until is not None and self.clock() > claimed.locked_until - self.lease / 2

    def _mark_done(self, session: Session, claimed: _Claimed) -> None:
        # Same transaction as the handler's work: either both commit or neither.
        finished = session.connection().execute(  # Core: the handler's changes flush at commit
            _MARK_DONE, {"job_id": claimed.id, "worker": self.worker_id, "finished_at": self.clock()}
        ).rowcount
        if finished != 1:
            raise LeaseLost(claimed.id)

    def _finish_failed(self, claimed: _Claimed, error: str, *, final: bool) -> None:
        now = self.clock()
        values: dict[str, Any] = {"locked_by": None, "locked_until": None, "last_error": error[:_MAX_ERROR_CHARS]}
        if final:
            values.update(status=JobStatus.failed, finished_at=now)
        else:
            values.update(status=JobStatus.queued, run_at=now + backoff_delay(claimed.attempt))
        with self.database.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.id == claimed.id, Job.locked_by == self.worker_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        if final:
            log.error("job %s (%s) failed for good after %d attempt(s): %s", claimed.id, claimed.name,
                      claimed.attempt, error.splitlines()[0] if error else "")

    def schedule_recurring(self) -> dict[str, int]:
        """Enqueue the recurring jobs whose new period has begun (see ``recurring.py``)."""
        self._ensure_handlers()
        now = self.clock()
        due = recurring.registered()
        if all(r.period(now) == self._recurring_seen.get(n) for n, r in due.items()):
            return {}  # nothing new: no write transaction at all
        with self.database.transaction() as session:
            enqueued = recurring.enqueue_due(session, now=now, seen=self._recurring_seen)
        self._recurring_seen.update(enqueued)  # only once committed
        return enqueued

    def _maybe_purge(self) -> None:
        now = self.clock()
        if self._last_purge is not None and now - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = now
        with self.database.transaction() as session:
            removed = purge_finished(session, older_than=now - KEEP_DONE_JOBS)
        if removed:
            log.info("purged %d finished jobs", removed)

    def _ensure_handlers(self) -> None:
        if not self._handlers_loaded:
            load_handlers()
            self._handlers_loaded = True


def _describe(exc: BaseException) -> str:
    """The error for ``last_error``: the message first, then where it was raised."""
    head = f"{type(exc).__name__}: {exc}"
    frames = "".join(traceback.format_tb(exc.__traceback__)[-5:])
    return f"{head}\n{frames}".strip()


def run_worker(settings: Settings, *, concurrency: int = 1, stop_event: threading.Event | None = None) -> None:
    """The ``cartdesk worker`` process: run jobs until SIGTERM/SIGINT (or ``stop_event``).

    Events recorded by handlers reach web processes through Redis when
    ``settings.redis_url`` is set; without Redis, run jobs in the web process
    instead (the default, ``run_jobs_in_process``).
    """
    from cartdesk.realtime.hub import create_hub

    stop_event = stop_event or threading.Event()
    database = create_database(settings.database_url)
    hub = create_hub(settings)
    runner = JobRunner(database, settings=settings, concurrency=concurrency)
    database.configure_info(event_sinks=[hub.publish_events], job_wakeup=runner.wake)
    if not settings.redis_url:
        log.warning("no CARTDESK_REDIS_URL: events from this worker will not reach web processes live")
    restore = _install_signal_handlers(stop_event)
    try:
        database.start_background()
        runner.start()
        log.info("worker %s running; Ctrl-C or SIGTERM stops it after the jobs in hand", runner.worker_id)
        while not stop_event.wait(1.0):  # a timed wait keeps the main thread responsive to signals
            pass
    finally:
        runner.stop()
        hub.close_publisher()
        database.dispose()
        restore()
        log.info("worker %s stopped", runner.worker_id)


def _install_signal_handlers(stop_event: threading.Event) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals can only be handled in the main thread
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handle(signum: int, _frame: object) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop_event.set()

    for sig in previous:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
