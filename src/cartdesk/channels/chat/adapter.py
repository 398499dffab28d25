"""The chat channel adapter: how an agent's reply reaches the visitor.

``send`` runs in the ``messages.deliver`` job's transaction. It adds the reply to
the visitor's chat log; when that transaction commits, the job's
``message.delivery_updated`` event travels over the realtime hub (memory or Redis)
and each process's chat relay wakes the visitor's widget, which reads the new log
entries. Nothing reaches the widget before the commit.

When the visitor is not connected and the customer has an email address, the reply
goes out through the ``email`` channel adapter as well (the continuity the issue
asks for): whatever adapter the registry holds for email (SMTP, or the dev outbox).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cartdesk.channels import registry
from cartdesk.channels.base import InboundIdentity, InboundMessage, SendFailed, SendResult, Transmission
from cartdesk.channels.chat import service as chat_service
from cartdesk.conversations.models import DeliveryStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cartdesk.conversations.models import Conversation, Message

EMAIL = "email"


class ChatAdapter:
    name = chat_service.CHANNEL

    def send(
        self, session: Session, *, message: Message, conversation: Conversation
    ) -> SendResult | Transmission:
        visitor = chat_service.visitor_for_conversation(session, conversation_id=conversation.id)
        if visitor is not None and chat_service.is_live(visitor):
            chat_service.log_append(session, visitor=visitor, message=message, via=self.name)
            return SendResult(external_id=f"chat-{message.id}", status=DeliveryStatus.sent)
        email = registry.get(EMAIL)
        if email is None or not conversation.customer.email:
            if visitor is None:  # a chat imported or made over the API: no widget to show it in
                raise SendFailed("The customer has no chat session and no email address.", retryable=False)
            # Nobody to email: it waits in the widget for the visitor's return.
            chat_service.log_append(session, visitor=visitor, message=message, via=self.name)
            return SendResult(external_id=f"chat-{message.id}", status=DeliveryStatus.sent)
        # Raises SendFailed like any adapter; the job retries, and the log entry below is
        # written only with a successful send.
        result = email.send(session, message=message, conversation=conversation)

        def sent_by_email(session: Session, message: Message) -> None:
            if visitor is not None:
                chat_service.log_append(session, visitor=visitor, message=message, via=EMAIL)  # uses its id
            message.meta = {**(message.meta or {}), "delivered_via": EMAIL}

        if isinstance(result, Transmission):  # SMTP: after the mail server took it
            return Transmission(transmit=result.transmit, on_sent=sent_by_email)
        sent_by_email(session, message)
        return result

    def send_in_transaction(
        self, session: Session, *, message: Message, conversation: Conversation
    ) -> SendResult | None:
        """A connected visitor gets the reply in the transaction that saves it (one write to
        their chat log); a reply that may go out by email waits for the delivery job."""
        visitor = chat_service.visitor_for_conversation(session, conversation_id=conversation.id)
        if visitor is None or not chat_service.is_live(visitor):
            return None
        # Called by send_or_enqueue for a reply saved in this transaction.
        chat_service.log_new_message(session, visitor=visitor, message=message, via=self.name)
        return SendResult(external_id=f"chat-{message.id}", status=DeliveryStatus.sent)

    def parse_inbound(
        self, payload: bytes | str | Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Sequence[InboundMessage]:
        """A widget message frame as the shared inbound shape (the widget socket files it
        through ``chat_service.post_message``, which also keeps the chat log)."""
        if not isinstance(payload, Mapping):
            raise ValueError("a chat frame is a JSON object")
        return [InboundMessage(
            channel=self.name,
            external_id=f"{payload['visitor']}:{payload['client_id']}",
            customer=InboundIdentity(kind="chat", value=str(payload["visitor"])),
            body_text=str(payload.get("body") or ""),
        )]
