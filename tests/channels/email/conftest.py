from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from cartdesk.channels import registry as channels_registry
from cartdesk.channels.email.adapter import EmailAdapter
from cartdesk.kit.storage import LocalStore
from tests.factories.email import SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "attachments")


@pytest.fixture
def email_adapter(store: LocalStore) -> Iterator[EmailAdapter]:
    adapter = EmailAdapter(secret_key=SECRET, store=store)
    previous = channels_registry.get("email")
    channels_registry.register(adapter, replace=True)
    yield adapter
    if previous is not None:
        channels_registry.register(previous, replace=True)
    else:
        channels_registry.unregister("email")


@dataclass
class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    port: int
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse_rcpt: str | None = None  # e.g. "550 5.1.1 No such user"
    fail_data: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_data:
            return self.fail_data
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 Message accepted"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


__all__ = ["SmtpSink", "asyncio", "free_port"]


@pytest.fixture
def fresh_db(database: Any, tmp_path: Path) -> Iterator[Any]:
    """A committed database of our own (threads and processes share it): a new SQLite
    file, or a new schema in the PostgreSQL test database, dropped afterwards."""
    import uuid

    from sqlalchemy import text

    from cartdesk.db.engine import create_database
    from cartdesk.db.migrate import upgrade

    if database.dialect == "sqlite":
        url = f"sqlite:///{tmp_path}/fresh.db"
        schema = None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with database.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        base = database.engine.url.render_as_string(hide_password=False)
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    db = create_database(url)
    upgrade(db.engine)
    db.url = url  # type: ignore[attr-defined]
    try:
        yield db
    finally:
        db.dispose()
        if schema is not None:
            with database.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


from tests.channels.email.servers import dovecot, dovecot_basic  # noqa: E402, F401
