"""Cartdesk's own SMTP receiver (aiosmtpd) for forwarding addresses.

A mail is accepted (250) only after it was committed — filed, or quarantined with
its error — so a sending server that gets no 250 keeps the mail and retries:
nothing is lost on a crash. Recipients that belong to no mailbox are refused at
RCPT (550), so we never accept mail we would have to drop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from cartdesk.channels.email import ingest
from cartdesk.channels.email import service as email_service
from cartdesk.db.engine import Database
from cartdesk.kit.storage import AttachmentStore

log = logging.getLogger(__name__)


class InboundHandler:
    # A recipient found recently is accepted without asking the database again (a busy
    # forwarding address gets every mail through RCPT). Only "known" is remembered: a
    # mailbox added a moment ago is found at once. A mailbox removed within this window
    # still gets its mail accepted, and filing then quarantines it ("no mailbox"), so
    # nothing is lost either way.
    KNOWN_FOR_SECONDS = 30.0

    def __init__(self, database: Database, *, store: AttachmentStore, limits: ingest.Limits) -> None:
        self.database = database
        self.store = store
        self.limits = limits
        self._known_until: dict[str, float] = {}

    def _known(self, address: str) -> bool:
        with self.database.transaction(read_only=True) as session:
            return email_service.resolve_recipient(session, addresses=[address]) is not None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        key = address.lower()
        now = time.monotonic()
        if self._known_until.get(key, 0.0) < now:
            if not await asyncio.to_thread(self._known, address):
                return "550 5.1.1 No such mailbox here"
            if len(self._known_until) > 10_000:
                self._known_until.clear()
            self._known_until[key] = now + self.KNOWN_FOR_SECONDS
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        try:
            result = await asyncio.to_thread(
                ingest.receive, self.database, raw=raw, source="smtp", store=self.store, limits=self.limits,
                recipients=[a.lower() for a in envelope.rcpt_tos])
        except Exception:
            log.exception("could not store an inbound mail; the sender will retry")
            return "451 4.3.0 Temporary failure, please try again later"
        return f"250 OK {result.outcome}"


# ``<local@domain>`` in its plain form: a dot-atom local part and an ordinary host name,
# then the command's parameters. Anything else (quoted local parts, comments, source
# routes, the null sender ``<>``) goes to aiosmtpd's full RFC 5322 parser.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ANGLE_ADDR = re.compile(
    rf"<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)>"
)


class _Smtp(SMTP):
    """aiosmtpd's server with a fast path for plain envelope addresses.

    aiosmtpd parses every ``MAIL FROM``/``RCPT TO`` address with the standard library's
    RFC 5322 header parser, which builds a token tree (and a class) per call: 40 µs an
    address. The plain ``<local@domain>`` form, which is what mail servers send, is
    matched with one regular expression (0.6 µs); the result is the same
    (tests/channels/email/test_transports.py compares both on many forms).
    """

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        stripped = arg.lstrip()
        match = _PLAIN_ANGLE_ADDR.match(stripped)
        rest = stripped[match.end():] if match else ""
        if match is None or "(" in rest:  # a comment after the address: the full parser
            return super()._getaddr(arg)
        address = match.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest.lstrip(" \t")  # as the full parser, which takes the whitespace after ">"


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Smtp(self.handler, **self.SMTP_kwargs)


class SmtpReceiver:
    """The receiver as a background service (started beside the job runner)."""

    def __init__(self, database: Database, *, host: str, port: int, store: AttachmentStore,
                 limits: ingest.Limits) -> None:
        self.handler = InboundHandler(database, store=store, limits=limits)
        self.host, self.port, self.limits = host, port, limits
        self._controller: Any = None

    def start(self) -> None:
        self._controller = _Controller(self.handler, hostname=self.host, port=self.port,
                                      data_size_limit=self.limits.max_message_bytes)
        self._controller.start()
        log.info("SMTP receiver listening on %s:%s", self.host, self.port)

    def stop(self, timeout: float = 30.0) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
