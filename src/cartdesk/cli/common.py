"""What every command shares: settings, the database, readable errors and the two output streams.

Results a script may capture go to stdout; progress, hints and errors go to stderr,
so ``TOKEN=$(cartdesk token create ...)`` captures the token and nothing else.

Heavy modules (SQLAlchemy, the models, the services) are imported inside the
commands that use them, so that ``cartdesk --help`` answers at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape as rich_escape
from typer.core import TyperGroup

if TYPE_CHECKING:
    from cartdesk.config import Settings
    from cartdesk.db.engine import Database
    from cartdesk.events.schemas import Actor

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class CommandError(Exception):
    """A failure the user can act on: printed as one readable message, exit status 1."""


def cli_actor() -> Actor:
    # The CLI acts as the system; the audit log names it so a person can tell it apart.
    from cartdesk.events.schemas import Actor

    return Actor(type="system", id=None, name="cartdesk CLI")


def describe(exc: BaseException) -> str | None:
    """A one-paragraph explanation of an expected failure, or None for a real bug."""
    from pydantic import ValidationError
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    from cartdesk.kit.errors import AppError

    if isinstance(exc, CommandError):
        return str(exc)
    if isinstance(exc, AppError):
        return exc.message + _details(exc.details)
    if isinstance(exc, ValidationError):
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error.get("loc", ()))
            problems.append(f"{field}: {error.get('msg')}" if field else str(error.get("msg")))
        return "Invalid input: " + "; ".join(problems)
    if isinstance(exc, IntegrityError | OperationalError | ProgrammingError):
        text = (str(exc.orig) if exc.orig is not None else str(exc)).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            return "The database has no Cartdesk tables yet: run `cartdesk migrate` first."
        if isinstance(exc, IntegrityError):
            return f"This conflicts with data already stored ({first})."
        return f"Database error: {first}"
    return None


def _details(details: Any) -> str:
    if not details:
        return ""
    if isinstance(details, list):
        parts = [", ".join(f"{k}={v}" for k, v in d.items()) if isinstance(d, dict) else str(d) for d in details]
        return " (" + "; ".join(parts) + ")"
    if isinstance(details, dict):
        return " (" + ", ".join(f"{k}={v}" for k, v in details.items()) + ")"
    return f" ({details})"


class FriendlyGroup(TyperGroup):
    """The top-level group: expected failures in any command become one readable line.

    Typer would otherwise print a traceback for them; a traceback is for bugs only.
    """

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if type(exc).__module__.startswith(("typer", "click")):
                raise  # --help, usage errors, Exit, Abort: Typer reports those itself
            message = describe(exc)
            if message is None:
                raise
            err.print(f"[bold red]Error:[/] {rich_escape(message)}")
            raise typer.Exit(1) from exc


def load_settings() -> Settings:
    from cartdesk.config import Settings

    # A fresh Settings per invocation: the environment of this process is the truth.
    return Settings()


def safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    from cartdesk.db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def open_database(settings: Settings, *, require_schema: bool = True) -> Database:
    """The database, checked to be reachable and (by default) migrated to head."""
    from sqlalchemy.exc import OperationalError

    from cartdesk.db.engine import create_database
    from cartdesk.db.migrate import current_revision

    database = create_database(settings.database_url)
    try:
        current = current_revision(database.engine)
    except OperationalError as exc:
        database.dispose()
        raise CommandError(f"Cannot open the database {safe_url(settings)}: {exc.orig}") from exc
    if require_schema:
        head = head_revision()
        if current is None:
            database.dispose()
            raise CommandError(f"The database {safe_url(settings)} is empty: run `cartdesk migrate` first.")
        if current != head:
            database.dispose()
            raise CommandError(
                f"The database is at revision {current} but the code expects {head}: run `cartdesk migrate`."
            )
    return database
