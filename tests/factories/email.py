"""Mailboxes and raw mails for the email channel's tests."""

from __future__ import annotations

import itertools
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.models import Mailbox
from cartdesk.channels.email.schemas import MailboxCreate
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.clock import utcnow
from tests.factories.conversations import make_brand

SECRET = "test-secret-key-not-for-production"
_seq = itertools.count(1)


def make_mailbox(session: Session, *, brand: Brand | None = None, address: str | None = None, **fields: object) -> Mailbox:
    n = next(_seq)
    brand = brand or make_brand(session)
    return email_service.create(
        session, actor=SYSTEM, secret_key=SECRET,
        mailbox_in=MailboxCreate(brand=brand.id, name=f"Support {n}", address=address or f"support{n}@shop{n}.example",
                                 **fields),
    )


def make_mail(
    *, sender: str = "alice@customer.example", sender_name: str | None = "Alice Example", to: str = "support@shop.example",
    subject: str = "Where is my parcel?", body: str = "Hello, my parcel has not arrived.", html: str | None = None,
    message_id: str | None = None, in_reply_to: str | None = None, references: list[str] | None = None,
    headers: dict[str, str] | None = None, attachments: list[tuple[str, str, bytes]] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{sender_name} <{sender}>" if sender_name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = f"<{message_id or f'm{next(_seq)}.{id(msg)}@customer.example'}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, content in attachments or []:
        main, _, sub = ctype.partition("/")
        msg.add_attachment(content, maintype=main, subtype=sub, filename=filename)
    return msg.as_bytes()
