""""Test connection": log in to the mailbox's IMAP and SMTP servers and say what happened."""

from __future__ import annotations

from dataclasses import dataclass

from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.models import Mailbox

TEST_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool | None  # None: not configured
    detail: str


def check_imap(mailbox: Mailbox, *, secret_key: str) -> Check:
    if not mailbox.has_imap:
        return Check(None, "No IMAP server configured.")
    from cartdesk.channels.email.imap import connect

    try:
        client, selected = connect(mailbox, email_service.password(mailbox, "imap", secret_key=secret_key),
                                   timeout=TEST_TIMEOUT)
    except Exception as exc:
        return Check(False, f"{type(exc).__name__}: {_text(exc)}")
    try:
        idle = client.has_capability("IDLE")
        count = selected.get(b"EXISTS", 0)
    finally:
        client.logout()
    return Check(True, f"Logged in; {mailbox.imap_folder} holds {count} message(s); "
                       f"{'IDLE supported (mail arrives in seconds)' if idle else 'no IDLE: polled'}.")


def check_smtp(mailbox: Mailbox, *, secret_key: str) -> Check:
    if not mailbox.has_smtp:
        return Check(None, "No SMTP server configured.")
    from cartdesk.channels.email.adapter import connect_smtp

    try:
        smtp = connect_smtp(mailbox, email_service.password(mailbox, "smtp", secret_key=secret_key))
    except Exception as exc:
        return Check(False, f"{type(exc).__name__}: {_text(exc)}")
    try:
        code, _ = smtp.noop()
    finally:
        smtp.quit()
    return Check(code == 250, f"Connected to {mailbox.smtp_host}:{mailbox.smtp_port}; the server answered {code}.")


def _text(exc: Exception) -> str:
    value = str(exc)
    return value[2:-1] if value.startswith(("b'", 'b"')) else value
