"""The ``email`` channel adapter: replies leave through the conversation's mailbox's SMTP server.

``send`` runs in the ``messages.deliver`` job: the job's retries with backoff give
us retrying, and the delivery status lands on the message. It builds the mail in the
job's transaction and hands back a :class:`Transmission`: the SMTP conversation runs
after that transaction commits, so a slow server never holds the database's write lock. SMTP 5xx answers are
permanent (the message fails with the server's words); connection errors and 4xx
are retried. Inbound, ``parse_inbound`` turns raw MIME into the shared
:class:`InboundMessage` shape; filing itself is ``ingest.py``.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from cartdesk.channels.base import (
    InboundAttachment,
    InboundIdentity,
    InboundMessage,
    SendFailed,
    SendResult,
    ThreadHints,
    Transmission,
)
from cartdesk.channels.email import compose, parsing, threads
from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.models import EmailThread, Mailbox, Security
from cartdesk.conversations.models import DeliveryStatus, Direction, Message

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cartdesk.conversations.models import Conversation
    from cartdesk.kit.storage import AttachmentStore

CHANNEL = "email"
SMTP_TIMEOUT = 30.0


class EmailAdapter:
    name = CHANNEL

    def __init__(self, *, secret_key: str, store: AttachmentStore | None = None) -> None:
        self.secret_key = secret_key
        self.store = store

    # --- outbound -------------------------------------------------------------------

    def send(self, session: Session, *, message: Message, conversation: Conversation) -> Transmission:
        """Build the reply in the job's transaction; the SMTP conversation itself runs after
        that commits (a slow mail server must not hold SQLite's write lock)."""
        thread, mailbox = self._thread(session, conversation)
        if not mailbox.has_smtp:
            raise SendFailed(f"Mailbox {mailbox.address} has no SMTP server configured.", retryable=False)
        history = session.execute(
            select(Message.external_id, Message.direction)
            .where(Message.conversation_id == conversation.id, Message.channel == CHANNEL,
                   Message.external_id.is_not(None), Message.id != message.id)
            .order_by(Message.id)
        ).all()
        ids = [external_id for external_id, _ in history if external_id]
        inbound = [external_id for external_id, direction in history if direction == Direction.inbound]
        own_id = compose.message_id_for(message.id, domain=mailbox.domain, secret_key=self.secret_key)
        mime = compose.build(
            mailbox=mailbox, to_address=thread.customer_address, to_name=conversation.customer.name,
            subject=compose.reply_subject(conversation.subject) if inbound else (conversation.subject or "Your request"),
            text=message.body_text, html_body=message.body_html, message_id=own_id,
            reply_to=threads.reply_address(mailbox, thread.reply_token), thread_ids=ids,
            in_reply_to=(inbound or ids or [None])[-1], attachments=self._attachments(message),
            automatic=bool((message.meta or {}).get("automatic")),
        )
        password = email_service.password(mailbox, "smtp", secret_key=self.secret_key)
        to_address = thread.customer_address

        def transmit() -> SendResult:
            # Outside the job's transaction (Transmission): only the values read above.
            self._transmit(mailbox, password, mime, to_address)
            return SendResult(external_id=own_id, status=DeliveryStatus.sent)

        return Transmission(transmit=transmit)

    def _thread(self, session: Session, conversation: Conversation) -> tuple[EmailThread, Mailbox]:
        thread = email_service.thread_for(session, conversation_id=conversation.id)
        if thread is not None:
            return thread, session.get_one(Mailbox, thread.mailbox_id)
        # An agent started the conversation (or it came from another channel): the brand's mailbox answers.
        mailbox = email_service.default_for_brand(session, brand_id=conversation.brand_id)
        if mailbox is None:
            raise SendFailed("This brand has no enabled mailbox to send email from.", retryable=False)
        address = conversation.customer.email
        if not address:
            raise SendFailed("The customer has no email address.", retryable=False)
        return email_service.ensure_thread(session, conversation_id=conversation.id, mailbox=mailbox,
                              customer_address=address, cited=[]), mailbox

    def _attachments(self, message: Message) -> list[tuple[str, str, bytes]]:
        if not message.attachments:
            return []
        if self.store is None:
            raise SendFailed("No attachment store is configured for the email channel.", retryable=False)
        return [(a.filename, a.content_type, b"".join(self.store.open(a.storage_key))) for a in message.attachments]

    def _transmit(self, mailbox: Mailbox, password: str | None, mime: Any, to_address: str) -> None:
        try:
            with connect_smtp(mailbox, password) as smtp:
                smtp.send_message(mime, from_addr=mailbox.address, to_addrs=[to_address])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{addr}: {code} {msg.decode(errors='replace')}" for addr, (code, msg) in exc.recipients.items())
            raise SendFailed(f"The mail server refused the recipient ({detail}).",
                             retryable=not all(c >= 500 for c in codes)) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise SendFailed(f"SMTP {exc.smtp_code}: {text}", retryable=exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"Could not reach {mailbox.smtp_host}:{mailbox.smtp_port}: {exc}", retryable=True) from exc

    # --- inbound --------------------------------------------------------------------

    def parse_inbound(
        self, payload: bytes | str | Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Sequence[InboundMessage]:
        raw = payload.encode() if isinstance(payload, str) else payload
        if not isinstance(raw, bytes):
            raise ValueError("The email channel takes raw MIME bytes.")
        parsed = parsing.parse(raw)
        return [InboundMessage(
            channel=CHANNEL, external_id=parsed.message_id,
            customer=InboundIdentity(kind="email", value=parsed.from_address, name=parsed.from_name),
            body_text=parsed.text, body_html=parsed.html, subject=parsed.subject,
            attachments=tuple(InboundAttachment(filename=a.filename, content_type=a.content_type, content=a.content,
                                                content_id=a.content_id) for a in parsed.attachments),
            thread=ThreadHints(in_reply_to=(parsed.in_reply_to or [None])[0], references=tuple(parsed.references)),
            received_at=parsed.date,
        )]


def connect_smtp(mailbox: Mailbox, password: str | None) -> smtplib.SMTP:
    """An open, authenticated SMTP connection for the mailbox (also used by "test connection")."""
    context = ssl.create_default_context()
    host, port = mailbox.smtp_host or "", mailbox.smtp_port
    smtp: smtplib.SMTP
    if mailbox.smtp_security == Security.ssl:
        smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
        if mailbox.smtp_security == Security.starttls:
            smtp.starttls(context=context)
    try:
        if mailbox.smtp_username and password:
            smtp.login(mailbox.smtp_username, password)
    except BaseException:
        smtp.close()
        raise
    return smtp
