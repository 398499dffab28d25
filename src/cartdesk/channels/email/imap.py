"""IMAP polling with IDLE: one thread and one connection per mailbox.

A poller files every message not yet marked as filed, one transaction per message
(``ingest.receive``), and only after that commit marks it on the server (our
``$CartdeskFiled`` keyword plus ``\\Seen``, and a move to ``imap_done_folder`` when
set). A crash between the commit and the mark leaves the message unmarked; the
next fetch files it again, which Message-ID dedupe turns into a no-op, and marks
it then. Nothing is lost and nothing is stored twice.

When the server offers IDLE, the poller waits in IDLE and fetches as soon as the
server announces new mail; otherwise it polls every ``poll_interval`` seconds. A
broken or slow mailbox only ever stalls its own thread; errors are recorded on the
mailbox (for the health page) and retried with a growing delay.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from imapclient import IMAPClient

from cartdesk.channels.email import ingest
from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.models import Mailbox, Security
from cartdesk.db.engine import Database
from cartdesk.kit.storage import AttachmentStore

log = logging.getLogger(__name__)
FILED = b"$CartdeskFiled"
SEEN = b"\\Seen"
CONNECT_TIMEOUT = 30.0
_MAX_BACKOFF = 300.0


@dataclass(frozen=True, slots=True)
class PollerConfig:
    secret_key: str
    store: AttachmentStore
    limits: ingest.Limits = ingest.Limits()
    poll_interval: float = 60.0
    idle_timeout: float = 25.0  # re-issue IDLE this often (RFC 2177 asks for < 29 minutes)
    batch_size: int = 25


def connect(mailbox: Mailbox, password: str | None, *, timeout: float = CONNECT_TIMEOUT) -> tuple[IMAPClient, dict]:
    """Log in and select the mailbox's folder (also used by "test connection").

    Returns the client and the SELECT response (EXISTS, PERMANENTFLAGS ...)."""
    context = ssl.create_default_context()
    client = IMAPClient(mailbox.imap_host or "", port=mailbox.imap_port, ssl=mailbox.imap_security == Security.ssl,
                        ssl_context=context, timeout=timeout)
    try:
        if mailbox.imap_security == Security.starttls:
            client.starttls(context)
        client.login(mailbox.imap_username or "", password or "")
        selected = client.select_folder(mailbox.imap_folder)
    except BaseException:
        _close(client)
        raise
    return client, selected


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


class MailboxPoller:
    def __init__(self, database: Database, *, mailbox_id: int, config: PollerConfig) -> None:
        self.database = database
        self.mailbox_id = mailbox_id
        self.config = config
        self._client: IMAPClient | None = None
        self._mailbox: Mailbox | None = None
        self._marker = FILED
        # Keyword-less servers: (UIDVALIDITY, highest UID committed) or None when unknown.
        self._position: tuple[int, int | None] | None = None

    # --- one pass --------------------------------------------------------------------

    def _connect(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        with self.database.transaction(read_only=True) as session:
            mailbox = email_service.get_or_raise(session, mailbox_id=self.mailbox_id)
            password = email_service.password(mailbox, "imap", secret_key=self.config.secret_key)
        client, selected = connect(mailbox, password)
        permanent = tuple(selected.get(b"PERMANENTFLAGS", ()))
        # Servers that refuse keywords of our own get \Seen as the "filed" mark instead.
        self._marker = FILED if (b"\\*" in permanent or FILED in permanent) else SEEN
        validity = int(selected.get(b"UIDVALIDITY", 0))
        known = mailbox.imap_last_uid if mailbox.imap_uid_validity == validity else None
        self._position = (validity, known)
        self._client, self._mailbox = client, mailbox
        return client

    def run_once(self) -> int:
        """File every unfiled message in the folder; returns how many were handled."""
        fresh = self._client is None
        client = self._connect()
        if not fresh:
            # A server brings a selected folder up to date only between commands (Dovecot: after
            # each one), so without NOOP the SEARCH of a kept connection misses mail that arrived
            # since the last command, and a server without IDLE delivered it a poll interval late.
            client.noop()
        last = self._position[1] if self._position else None
        if self._marker == FILED:
            criteria: list[Any] = ["NOT", "KEYWORD", self._marker.decode()]
        elif last is not None:
            # No keyword of ours: resume after the last UID we committed, read or unread.
            criteria = ["UID", f"{last + 1}:*"]
        else:
            # First look at this folder (or its UIDs were reset): everything since the mailbox was
            # added; anything already stored is a Message-ID duplicate, filed at no cost.
            criteria = ["ALL"]
        if self._mailbox is not None:
            # Connecting a mailbox must not import its years of history: only mail that arrived
            # from the day before it was added on (IMAP's SINCE has day granularity).
            criteria += ["SINCE", (self._mailbox.created_at - timedelta(days=1)).date()]
        uids = sorted(uid for uid in client.search(criteria) if last is None or uid > last)  # "n:*" includes the top
        handled = 0
        for start in range(0, len(uids), self.config.batch_size):
            batch = uids[start:start + self.config.batch_size]
            # BODY.PEEK: reading must not set \Seen before the message is committed.
            fetched = client.fetch(batch, ["BODY.PEEK[]"])
            for uid in batch:
                raw = fetched.get(uid, {}).get(b"BODY[]")
                if raw is None:
                    continue  # expunged meanwhile
                ingest.receive(self.database, raw=raw, source="imap", store=self.config.store,
                               limits=self.config.limits, mailbox_id=self.mailbox_id)
                self._mark_filed(client, uid)
                handled += 1
            self._save_position(batch[-1])
        return handled

    def _save_position(self, uid: int) -> None:
        if self._marker == FILED or self._position is None:
            return
        validity = self._position[0]
        with self.database.transaction() as session:
            email_service.record_imap_position(session, mailbox_id=self.mailbox_id, uid_validity=validity, last_uid=uid)
        self._position = (validity, uid)

    def _mark_filed(self, client: IMAPClient, uid: int) -> None:
        client.add_flags([uid], [self._marker, SEEN] if self._marker == FILED else [SEEN])
        done = self._mailbox.imap_done_folder if self._mailbox else None
        if done:
            if client.has_capability("MOVE"):
                client.move([uid], done)
            else:
                client.copy([uid], done)
                client.delete_messages([uid])
                client.expunge([uid]) if client.has_capability("UIDPLUS") else client.expunge()

    def wait_for_mail(self, stop: threading.Event) -> None:
        """IDLE until the server announces something (or the timeout), else sleep the poll interval."""
        client = self._client
        if client is None or not client.has_capability("IDLE"):
            stop.wait(self.config.poll_interval)
            return
        client.idle()
        try:
            deadline = time.monotonic() + self.config.idle_timeout
            while not stop.is_set() and time.monotonic() < deadline:
                if client.idle_check(timeout=min(1.0, self.config.idle_timeout)):
                    break
        finally:
            client.idle_done()

    def close(self) -> None:
        if self._client is not None:
            _close(self._client)
        self._client = None

    # --- the thread ------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        backoff = 5.0
        while not stop.is_set():
            try:
                count = self.run_once()
                self._record(count=count, idle=self._client.has_capability("IDLE") if self._client else None)
                backoff = 5.0
                self.wait_for_mail(stop)
            except Exception as exc:
                log.warning("mailbox %s: fetch failed: %s", self.mailbox_id, exc)
                self.close()
                try:
                    self._record(count=0, error=f"{type(exc).__name__}: {exc}")
                except Exception:
                    log.exception("mailbox %s: could not record the error", self.mailbox_id)
                stop.wait(backoff)
                backoff = min(_MAX_BACKOFF, backoff * 2)
        self.close()

    def _record(self, *, count: int, error: str | None = None, idle: bool | None = None) -> None:
        with self.database.transaction() as session:
            email_service.record_fetch(session, mailbox_id=self.mailbox_id, count=count, error=error,
                                       idle_supported=idle)
