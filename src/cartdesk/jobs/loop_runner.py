"""Quick jobs on the web process's event loop, between its requests (SQLite).

On SQLite one writer at a time holds the database's write lock. With the job runner in
a thread of its own, every job held that lock while it also waited for the GIL, which
the event loop's thread was holding for the requests; each hand-over of the lock to the
runner's thread cost about 1 ms before the job began, and every statement of the job
could wait again. Replies at concurrency 32 were bound by the lock held 99 % of the
time, half of it by jobs (docs/performance.md).

So the web process on SQLite runs the jobs registered ``quick`` (``@job(..., quick=True)``:
a few statements, anything slow returned as :class:`~cartdesk.jobs.registry.Outside`)
here, as one asyncio task: it waits for a writer turn like a request does (beside the
one waiting request of the loop, so that jobs and requests alternate), runs one
transaction of the job in it, and lets the next writer go. An ``Outside`` step (an SMTP
conversation) runs in a worker thread, awaited, holding no turn. The jobs are the same
rows, claimed, leased and retried the same way (``JobRunner``); only where they run
changes. The runner's threads take every other job, and ``cartdesk worker`` processes
take all of them.

While it runs, a quick job enqueued in this process is written already claimed by it
(``jobs.service.Taker``) and handed to it after the commit, so no claiming transaction
is spent on it; if the process dies first, the lease runs out and any runner claims the
job again, and :meth:`LoopRunner.stop` puts the ones it has not begun back in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

import anyio

from cartdesk.jobs import registry
from cartdesk.jobs.runner import JobRunner, _Claimed, _Step

log = logging.getLogger(__name__)


class LoopRunner:
    """Runs ``runner``'s jobs (a :class:`JobRunner` limited to the quick names) on the loop
    that calls :meth:`start`; :meth:`wake` may be called from any thread."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self.database = runner.database
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Jobs written already claimed by us (``take``), waiting for their turn.
        self._taken: deque[_Claimed] = deque()
        self._look = False  # a job was queued for us the usual way: claim from the table

    # --- jobs handed over as they are enqueued (jobs.service.Taker) -----------------------

    @property
    def worker_id(self) -> str:
        return self.runner.worker_id

    @property
    def lease(self) -> timedelta:
        return self.runner.lease

    def takes_now(self, name: str) -> bool:
        return self.running and not self._stopping and self.runner.takes(name)

    def take(self, *, id: int, name: str, payload: dict[str, Any], max_attempts: int,
             locked_until: datetime) -> None:
        """After the commit that wrote the job claimed by us (any thread)."""
        self._taken.append(_Claimed(id=id, name=name, payload=payload, attempt=1, max_attempts=max_attempts,
                                    locked_until=locked_until))
        loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            self._set(loop, event)

    def start(self) -> None:
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._event = asyncio.Event()
        self._stopping = False
        self._task = self._loop.create_task(self._main(), name="cartdesk-loop-jobs")
        log.info("quick jobs (%s) run on the event loop", ", ".join(sorted(self.runner.names or ())) or "none")

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish the job in hand, then stop; one still running at ``timeout`` is left to its lease."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self.wake()
        try:
            await asyncio.wait_for(task, timeout)
        except TimeoutError:
            log.warning("the loop's job runner did not finish within %.0f s; its job is left to its lease", timeout)
        # Taken but not begun: back to the queue now, for whichever runner comes next.
        taken = [self._taken.popleft() for _ in range(len(self._taken))]
        if taken:
            async with self.database.writer_turn(jump_line=True):
                self.runner._release(taken)

    def wake(self, name: str | None = None) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed() or (name is not None and not self.runner.takes(name)):
            return
        self._look = True
        self._set(loop, event)

    def _set(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        if threading.get_ident() == self._loop_thread:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _main(self) -> None:
        assert self._event is not None
        polled = True
        while not self._stopping:
            self._event.clear()
            # Woken by ``take`` alone, the jobs are in hand; by a job queued the usual way, one
            # is there to claim; on a poll, look in a read transaction before claiming.
            look, self._look = self._look or polled, False
            try:
                await self.run_pending(look=look, peek=polled)
            except Exception:  # the loop outlives a database hiccup
                log.exception("the loop's job runner failed; retrying after the poll interval")
            if self._stopping:
                break
            polled = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), self.runner.settings.job_poll_interval)
                polled = False

    async def run_pending(self, *, look: bool = True, peek: bool = True) -> int:
        """Run the jobs handed over (``take``) and, with ``look``, ready jobs from the table,
        until none is left (or the runner stops); returns how many ran.

        From the table it goes as ``JobRunner.run_pending`` does: the batch's last job
        claims the next batch in its own transaction, and when that finds none the run
        ends there. ``peek``: first look for a ready job in a read transaction, so that a
        poll that finds nothing takes no writer turn."""
        runner = self.runner
        count = 0
        batch: list[_Claimed] = []
        while not self._stopping:
            if not batch and self._taken:
                batch = [self._taken.popleft() for _ in range(len(self._taken))]
                claim_next = 0  # handed over: nothing says the table has more
            elif not batch and look:
                now = runner.clock()
                if peek and not runner._sweep_due(now) and not runner._any_ready(now):
                    break  # a read transaction: no writer turn for nothing
                async with self.database.writer_turn(jump_line=True):
                    with self.database.transaction() as session:
                        batch = runner._claim_in(session, now, runner.claim_batch_size)
                if not batch:
                    break
                claim_next = runner.claim_batch_size
            elif not batch:
                break
            following: list[_Claimed] = []
            for n, claimed in enumerate(batch):
                if self._stopping or runner.lease_half_gone(claimed):
                    async with self.database.writer_turn(jump_line=True):
                        runner._release(batch[n:])
                    if self._stopping:
                        return count
                    break
                last = n == len(batch) - 1
                step = await self._run(claimed, claim_next=claim_next if last else 0)
                following = step.following
                count += 1
            else:
                if step.looked and not step.following:
                    look = False  # the last job's transaction found no more in the table
            batch = following
            peek = True
        return count

    async def _run(self, claimed: _Claimed, *, claim_next: int) -> _Step:
        """``JobRunner._run``, one writer turn per transaction."""
        runner = self.runner
        handler = registry.get_handler(claimed.name)
        if handler is None:
            await self._turn(runner._finish_failed, claimed, runner._no_handler(claimed), final=True)
            return _Step()
        context = runner._context(claimed)
        step: _Step = await self._turn(runner._handler_step, claimed, handler, context, claim_next)
        if step.outside is not None:
            try:
                result = await anyio.to_thread.run_sync(step.outside.work)
            except Exception as exc:
                step = runner._attempt_failed(claimed, exc)
            else:
                step = await self._turn(runner._record_step, claimed, step.outside, result, context, claim_next)
        if step.error is not None:
            await self._turn(runner._finish_failed, claimed, step.error,
                             final=claimed.attempt >= claimed.max_attempts)
        return step

    async def _turn(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        # One transaction per turn (Database.writer_turn).
        async with self.database.writer_turn(jump_line=True):
            return fn(*args, **kwargs)
