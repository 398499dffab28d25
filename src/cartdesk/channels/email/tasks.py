"""Background work of the email channel, started beside the job runner.

``email.imap`` keeps a poller per mailbox (``supervisor.py``); ``email.smtp`` runs
the SMTP receiver when ``CARTDESK_EMAIL_SMTP_LISTEN`` names an address. Both run in
the web process with in-process jobs, or in `cartdesk worker`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.ingest import Limits
from cartdesk.config import Settings, get_settings
from cartdesk.db.engine import Database
from cartdesk.jobs.recurring import recurring
from cartdesk.jobs.registry import BackgroundService, service

if TYPE_CHECKING:
    from cartdesk.channels.email.imap import PollerConfig


def limits(settings: Settings) -> Limits:
    return Limits(max_message_bytes=settings.email_max_message_bytes,
                  max_attachment_bytes=settings.max_attachment_bytes)


def imap_config(settings: Settings) -> PollerConfig:
    from cartdesk.channels.email.imap import PollerConfig
    from cartdesk.kit.storage import create_store

    return PollerConfig(secret_key=settings.resolved_secret_key(), store=create_store(settings),
                        limits=limits(settings), poll_interval=settings.email_imap_poll_interval,
                        idle_timeout=settings.email_imap_idle_timeout)


@service("email.imap")
def imap_pollers(database: Database, settings: Settings) -> BackgroundService | None:
    if not settings.email_imap_polling:
        return None
    from cartdesk.channels.email.supervisor import ImapSupervisor

    return ImapSupervisor(database, config=imap_config(settings))


@service("email.smtp")
def smtp_receiver(database: Database, settings: Settings) -> BackgroundService | None:
    if not settings.email_smtp_listen:
        return None
    from cartdesk.channels.email.smtp_server import SmtpReceiver
    from cartdesk.kit.storage import create_store

    host, _, port = settings.email_smtp_listen.rpartition(":")
    return SmtpReceiver(database, host=host or "127.0.0.1", port=int(port), store=create_store(settings),
                        limits=limits(settings))


@recurring("email.purge_quarantine", every=timedelta(hours=1))
def purge_quarantine(session: Session, payload: dict[str, Any]) -> None:
    """Hourly: drop quarantined mail past ``CARTDESK_EMAIL_QUARANTINE_DAYS``, in batches."""
    days = int(payload.get("days", get_settings().email_quarantine_days))
    email_service.purge_quarantine(session, older_than_days=days)
