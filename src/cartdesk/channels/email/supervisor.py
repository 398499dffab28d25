"""Keeps one IMAP poller thread per enabled mailbox, following the mailbox table.

Every ``refresh`` seconds it reads the mailboxes: a new or re-configured mailbox gets
a fresh poller, a disabled or deleted one has its poller stopped. Pollers share
nothing but the database, so one stuck connection never delays another mailbox.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import select

from cartdesk.channels.email.imap import MailboxPoller, PollerConfig
from cartdesk.channels.email.models import Mailbox
from cartdesk.db.engine import Database

log = logging.getLogger(__name__)


@dataclass
class _Running:
    fingerprint: tuple[object, ...]
    stop: threading.Event
    thread: threading.Thread


def _fingerprint(m: Mailbox) -> tuple[object, ...]:
    return (m.imap_host, m.imap_port, m.imap_security, m.imap_username, m.imap_password_enc, m.imap_folder,
            m.imap_done_folder)


class ImapSupervisor:
    def __init__(self, database: Database, *, config: PollerConfig, refresh: float = 30.0) -> None:
        self.database = database
        self.config = config
        self.refresh = refresh
        self._running: dict[int, _Running] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="cartdesk-imap-supervisor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for running in self._running.values():
            running.stop.set()
        for running in self._running.values():
            running.thread.join(timeout)
        self._running.clear()

    def poke(self) -> None:
        """Re-read the mailboxes now (after an admin changed one)."""
        self._wake.set()

    @property
    def polled(self) -> list[int]:
        return sorted(i for i, r in self._running.items() if r.thread.is_alive())

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.sync()
            except Exception:
                log.exception("could not read the mailboxes; trying again later")
            self._wake.wait(self.refresh)

    def sync(self) -> None:
        with self.database.transaction(read_only=True) as session:
            wanted = {m.id: _fingerprint(m) for m in session.scalars(select(Mailbox).where(Mailbox.enabled.is_(True)))
                      if m.has_imap}
        for mailbox_id in list(self._running):
            running = self._running[mailbox_id]
            if wanted.get(mailbox_id) != running.fingerprint or not running.thread.is_alive():
                running.stop.set()  # the thread ends after its current step; a new one takes over
                del self._running[mailbox_id]
        for mailbox_id, fingerprint in wanted.items():
            if mailbox_id not in self._running and not self._stop.is_set():
                stop = threading.Event()
                poller = MailboxPoller(self.database, mailbox_id=mailbox_id, config=self.config)
                thread = threading.Thread(target=poller.run, args=(stop,), name=f"cartdesk-imap-{mailbox_id}",
                                          daemon=True)
                thread.start()
                self._running[mailbox_id] = _Running(fingerprint, stop, thread)
