"""`cartdesk email …`: fetch a mailbox now, file a raw mail, run the SMTP receiver."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from cartdesk.cli.common import CommandError, err, load_settings, open_database, out

email_app = typer.Typer(help="The email channel: mailboxes, fetching and receiving mail.", no_args_is_help=True)


@email_app.command("poll")
def poll(
    mailbox: Annotated[int, typer.Option(help="Mailbox id (see the admin pages or the API).")],
    once: Annotated[bool, typer.Option(help="Fetch what is there and exit, instead of waiting for more.")] = False,
) -> None:
    """Fetch one mailbox over IMAP now (the worker does this for every mailbox on its own)."""
    from cartdesk.channels.email import service as email_service
    from cartdesk.channels.email.imap import MailboxPoller
    from cartdesk.channels.email.tasks import imap_config

    settings = load_settings()
    database = open_database(settings)
    try:
        with database.transaction(read_only=True) as session:
            found = email_service.get(session, mailbox_id=mailbox)
            if found is None or not found.has_imap:
                raise CommandError(f"Mailbox {mailbox} does not exist or has no IMAP server configured.")
        poller = MailboxPoller(database, mailbox_id=mailbox, config=imap_config(settings))
        if once:
            try:
                count = poller.run_once()
            finally:
                poller.close()
            out.print(f"{count} message(s) handled")
        else:
            logging.basicConfig(level=settings.log_level.upper())
            err.print(f"Polling mailbox {mailbox}; Ctrl+C stops.")
            stop = threading.Event()
            try:
                poller.run(stop)
            except KeyboardInterrupt:
                stop.set()
    finally:
        database.dispose()


@email_app.command("receive")
def receive(
    path: Annotated[Path | None, typer.Argument(help="A raw .eml file; standard input when omitted.")] = None,
    mailbox: Annotated[int | None, typer.Option(help="File into this mailbox (default: by recipient).")] = None,
) -> None:
    """File one raw mail, as if it had arrived (e.g. from a mail server's pipe)."""
    from cartdesk.channels.email import ingest
    from cartdesk.channels.email.tasks import limits
    from cartdesk.kit.storage import create_store

    raw = path.read_bytes() if path else sys.stdin.buffer.read()
    settings = load_settings()
    database = open_database(settings)
    try:
        result = ingest.receive(database, raw=raw, source="cli", store=create_store(settings), limits=limits(settings),
                                mailbox_id=mailbox)
    finally:
        database.dispose()
    out.print(f"{result.outcome} conversation={result.conversation_id} message={result.message_id} "
              f"quarantine={result.quarantine_id} reason={result.reason}")
