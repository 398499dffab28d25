"""Job handlers register here by name; the runner looks them up.

Domains register their handlers (platform code never imports a domain):

    @job("messages.deliver")
    def deliver(session: Session, payload: dict) -> None: ...

A handler runs inside its own transaction, receives ids in ``payload`` and must be
idempotent: a crash after its work but before the job is marked done re-runs it. A
handler whose slow step talks to the outside world returns :class:`Outside` to run
that step between two short transactions instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from cartdesk.config import Settings
    from cartdesk.db.engine import Database

@dataclass(frozen=True, slots=True)
class Outside:
    """What a handler returns when part of its work must not run inside a transaction.

    A call to a provider (an SMTP server) can take seconds; inside the job's transaction
    on SQLite it would hold the database's single write lock all that time, and every
    request and mail of the process would wait. The runner commits the handler's
    transaction (the job stays claimed under its lease), calls ``work()`` outside any
    transaction, then calls ``record(session, result)`` in a new one, and the job is
    done when that commits. ``work`` should return failures as values for ``record`` to
    judge; an exception from either is a failed attempt, retried with backoff. A crash
    between the two transactions re-runs the whole handler when the lease runs out, the
    same as a crash inside one transaction did: the work may be done twice, never lost.
    """

    work: Callable[[], Any]
    record: Callable[[Session, Any], None]


Handler = Callable[[Session, dict[str, Any]], "Outside | None"]
_HANDLERS: dict[str, Handler] = {}
_QUICK: set[str] = set()


class BackgroundService(Protocol):
    """Long-running work beside the job threads (mailbox pollers, a mail receiver)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 30.0) -> None: ...


# A factory returns None when settings leave the service off.
ServiceFactory = Callable[["Database", "Settings"], BackgroundService | None]
_SERVICES: dict[str, ServiceFactory] = {}


def job(name: str, *, quick: bool = False) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of jobs named ``name``.

    ``quick``: the handler only reads and writes the database, a few statements, and
    returns :class:`Outside` for anything slow. A web process on SQLite then runs these
    jobs on its event loop, between its requests, instead of in the runner's thread
    (``jobs.loop_runner``): a second Python thread doing database work made every job
    wait for the GIL while it held SQLite's one write lock (docs/performance.md).
    """
    def decorator(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        if quick:
            _QUICK.add(name)
        else:
            _QUICK.discard(name)
        return fn

    return decorator


def quick_names() -> frozenset[str]:
    """The names registered with ``quick=True``."""
    return frozenset(_QUICK)


def get_handler(name: str) -> Handler | None:
    return _HANDLERS.get(name)


def registered() -> dict[str, Handler]:
    return dict(_HANDLERS)


def service(name: str) -> Callable[[ServiceFactory], ServiceFactory]:
    """Register a background service; the job runner starts it with its threads
    (in the web process, or in `cartdesk worker`) and stops it with them."""

    def decorator(fn: ServiceFactory) -> ServiceFactory:
        _SERVICES[name] = fn
        return fn

    return decorator


def services() -> dict[str, ServiceFactory]:
    return dict(_SERVICES)
