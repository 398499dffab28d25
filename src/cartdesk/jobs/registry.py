"""Job handlers register here by name; the runner looks them up.

Domains register their handlers (platform code never imports a domain):

    @job("messages.deliver")
    def deliver(session: Session, payload: dict) -> None: ...

A handler runs inside its own transaction, receives ids in ``payload`` and must be
idempotent: a crash after its work but before the job is marked done re-runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[[Session, dict[str, Any]], None]
_HANDLERS: dict[str, Handler] = {}


def job(name: str) -> Callable[[Handler], Handler]:
    def decorator(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return decorator


def get_handler(name: str) -> Handler | None:
    return _HANDLERS.get(name)


def registered() -> dict[str, Handler]:
    return dict(_HANDLERS)
