"""Outbound mail: the MIME message for one agent reply, threaded under the customer's mail.

Every mail gets our own Message-ID (derived from the message id, so a retried send
carries the same id and the recipient's client shows it once), In-Reply-To the
latest mail in the thread, References the thread's ids, and a Reply-To carrying the
conversation's reply token. Body: plain text and HTML alternatives, the mailbox's
signature on both, then the attachments.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from cartdesk.channels.email.models import Mailbox
from cartdesk.kit.clock import utcnow

_MAX_REFERENCES = 20


def message_id_for(message_id: int, *, domain: str, secret_key: str) -> str:
    """Stable per message and not guessable from outside (the hash uses the app secret)."""
    tag = hashlib.sha256(f"{secret_key}:{message_id}".encode()).hexdigest()[:12]
    return f"cd.{message_id}.{tag}@{domain}"


def reply_subject(subject: str) -> str:
    subject = subject.strip() or "Your request"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def references_for(thread_ids: Sequence[str]) -> list[str]:
    """RFC 5322 advises keeping the first and the most recent ids when the list grows."""
    ids = list(dict.fromkeys(i for i in thread_ids if i))
    if len(ids) > _MAX_REFERENCES:
        ids = ids[:1] + ids[-(_MAX_REFERENCES - 1):]
    return ids


def build(
    *, mailbox: Mailbox, to_address: str, to_name: str | None, subject: str, text: str, html_body: str | None,
    message_id: str, reply_to: str, thread_ids: Sequence[str], in_reply_to: str | None,
    attachments: Iterable[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((mailbox.from_name or mailbox.name, mailbox.address))
    msg["To"] = Address(display_name=to_name or "", addr_spec=to_address)
    msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    refs = references_for(thread_ids)
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    # RFC 3834: tells well-behaved responders not to answer an agent's reply automatically.
    msg["Auto-Submitted"] = "no"
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    signature = mailbox.signature.strip()
    plain = text.rstrip() + (f"\n\n-- \n{signature}\n" if signature else "\n")
    msg.set_content(plain)
    body = html_body or "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"
    if signature:
        body += '<p style="color:#6b7280">-- <br>' + html.escape(signature).replace("\n", "<br>") + "</p>"
    msg.add_alternative(f"<!doctype html><html><body>{body}</body></html>", subtype="html")
    for filename, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(content, maintype=maintype or "application", subtype=subtype or "octet-stream",
                           filename=filename)
    return msg
