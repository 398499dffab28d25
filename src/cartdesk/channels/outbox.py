"""A development outbox: outbound messages are written to a file instead of being sent.

Channels that are not connected yet (no mailbox, no SMS provider) would fail every
reply. For the demo and for local development, ``CARTDESK_DEV_OUTBOX_CHANNELS``
names channels whose replies are appended as JSON lines to
``<data_dir>/outbox/<channel>.jsonl`` and marked sent — the same idea as Django's
file e-mail backend. Real channel adapters replace these when they are registered.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from cartdesk.channels.base import SendResult
from cartdesk.conversations.models import DeliveryStatus
from cartdesk.kit.clock import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cartdesk.conversations.models import Conversation, Message

_write_lock = threading.Lock()


class OutboxAdapter:
    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.path = directory / f"{name}.jsonl"

    def send(self, session: Session, *, message: Message, conversation: Conversation) -> SendResult:
        record = {
            "at": utcnow().isoformat(),
            "message_id": message.id,
            "conversation_id": conversation.id,
            "conversation_number": conversation.number,
            "to_customer_id": conversation.customer_id,
            "subject": conversation.subject,
            "body_text": message.body_text,
        }
        with _write_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        return SendResult(external_id=f"outbox-{message.id}", status=DeliveryStatus.sent)

    def parse_inbound(self, payload, *, headers=None):  # type: ignore[no-untyped-def]
        raise NotImplementedError(f"the {self.name} dev outbox receives nothing")
