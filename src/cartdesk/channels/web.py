"""The help center's contact form as a channel: conversations it opens are answered by email.

The form collects the visitor's email address, so an agent's reply goes out through
whatever adapter the registry holds for ``email`` (a connected mailbox, or the dev
outbox), threaded like any email reply. The customer's answer then arrives by email
into the same conversation (the reply token and Message-ID threading do that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cartdesk.channels import registry
from cartdesk.channels.base import InboundMessage, SendFailed, SendResult, Transmission

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cartdesk.conversations.models import Conversation, Message

EMAIL = "email"


class WebFormAdapter:
    name = "web"

    def send(
        self, session: Session, *, message: Message, conversation: Conversation
    ) -> SendResult | Transmission:
        email = registry.get(EMAIL)
        if email is None:
            raise SendFailed("No email channel is set up to answer contact-form conversations; "
                             "add a mailbox under Mail.", retryable=False)
        if not conversation.customer.email:
            raise SendFailed("The customer left no email address.", retryable=False)
        return email.send(session, message=message, conversation=conversation)

    def parse_inbound(
        self, payload: bytes | str | Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Sequence[InboundMessage]:
        # The form files its conversations through the conversations service directly.
        return []
