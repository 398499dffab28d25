"""Outbound mail: the MIME message for one agent reply, threaded under the customer's mail.

Every mail gets our own Message-ID (derived from the message id, so a retried send
carries the same id and the recipient's client shows it once), In-Reply-To the
latest mail in the thread, References the thread's ids, and a Reply-To carrying the
conversation's reply token. Body: plain text and HTML alternatives, the mailbox's
signature on both, then the attachments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from cartdesk.channels.email.models import Mailbox
from cartdesk.kit.clock import utcnow

_MAX_REFERENCES = 20


@lru_cache(maxsize=1)
def _templates() -> Environment:
    # The bodies customers receive are templates (channels/email/templates), not strings in code.
    return Environment(loader=PackageLoader("cartdesk.channels.email", "templates"),
                       autoescape=select_autoescape(["html"]), keep_trailing_newline=True)


def render_bodies(*, text: str, html_body: str | None, signature: str, subject: str) -> tuple[str, str]:
    """The plain-text and HTML alternatives of one reply (``html_body`` is already sanitised)."""
    env = _templates()
    plain = env.get_template("reply.txt").render(text=text.rstrip(), signature=signature)
    body = Markup(html_body) if html_body else Markup("<p>") + Markup("<br>").join(text.split("\n")) + Markup("</p>")
    rich = env.get_template("reply.html").render(body_html=body, signature=signature, subject=subject)
    return plain, rich


def render_acknowledgement(*, customer_name: str | None, brand_name: str, subject: str, number: int) -> str:
    return _templates().get_template("acknowledgement.txt").render(
        customer_name=customer_name, brand_name=brand_name, subject=subject, number=number).strip()


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
    attachments: Iterable[tuple[str, str, bytes]] = (), automatic: bool = False,
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
    # RFC 3834: an acknowledgement is "auto-replied" (other help desks and autoresponders must not
    # answer it); an agent's reply is "no".
    msg["Auto-Submitted"] = "auto-replied" if automatic else "no"
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    plain, rich = render_bodies(text=text, html_body=html_body, signature=mailbox.signature.strip(), subject=subject)
    msg.set_content(plain)
    msg.add_alternative(rich, subtype="html")
    for filename, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(content, maintype=maintype or "application", subtype=subtype or "octet-stream",
                           filename=filename)
    return msg
