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
