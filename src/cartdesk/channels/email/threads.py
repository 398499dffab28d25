"""Which conversation an inbound mail belongs to, strongest evidence first.

1. Our reply token in a recipient address (``support+<token>@…``): we put it in the
   Reply-To of every mail we send, so a reply carries it even with a new subject.
2. In-Reply-To / References naming any Message-ID we sent or received (both are kept
   on ``messages.external_id``, unique per channel, so this is one indexed query).
3. An open conversation of the same customer citing the same order number within the
   mailbox's window (``order_window_days``).
4. Only if the mailbox allows it (``thread_by_subject``): an open conversation of the
   same customer with the same subject, within the same window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cartdesk.channels.email.models import EmailThread, Mailbox
from cartdesk.channels.email.parsing import ParsedEmail
from cartdesk.conversations.models import OPEN_STATUSES, Conversation, Message
from cartdesk.customers.models import Customer
from cartdesk.kit.clock import utcnow

CHANNEL = "email"
_ORDER = re.compile(
    r"(?:\border|\bbestellung|\bcommande|\bpedido|\bordine|\bbestelling|\bzamówienie)"
    r"(?:\s*(?:no\.?|nr\.?|number|nummer|n°|#|:))*\s*#?\s*([A-Z]{0,4}-?\d{3,12})\b|#(\d{3,12})\b",
    re.IGNORECASE,
)
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|vs|tr|rif|r|antw|odp|ynt|res)\s*(\[\d+\])?\s*:\s*)+",
                             re.IGNORECASE)
_MAX_MERGE_HOPS = 10


@dataclass(frozen=True, slots=True)
class Match:
    conversation: Conversation
    how: str  # reply_token / headers / order_number / subject
    # The conversation's email thread row when the lookup already read it (the session
    # holds loaded rows only weakly, so it is kept here for filing the reply).
    thread: EmailThread | None = None


def reply_address(mailbox: Mailbox, token: str) -> str:
    return f"{mailbox.local_part}+{token}@{mailbox.domain}"


def order_numbers(*texts: str) -> list[str]:
    found: list[str] = []
    for text in texts:
        for m in _ORDER.finditer(text or ""):
            value = (m.group(1) or m.group(2) or "").upper().lstrip("#")
            if value and value not in found:
                found.append(value)
    return found[:20]


def normalise_subject(subject: str) -> str:
    return " ".join(_SUBJECT_PREFIX.sub("", subject or "").split()).lower()


def _tokens(mailbox: Mailbox, recipients: list[str]) -> list[str]:
    tokens = []
    locals_ = {mailbox.local_part}
    if mailbox.inbound_address:
        locals_.add(mailbox.inbound_address.rpartition("@")[0].lower())
    for address in recipients:
        local = address.rpartition("@")[0].lower()
        base, plus, token = local.partition("+")
        if plus and base in locals_ and token:
            tokens.append(token)
    return tokens


def _live(session: Session, conversation: Conversation | None) -> Conversation | None:
    """Follow merges to the surviving conversation."""
    hops = 0
    while conversation is not None and conversation.merged_into_id is not None and hops < _MAX_MERGE_HOPS:
        conversation = session.get(Conversation, conversation.merged_into_id)
        hops += 1
    return conversation


# Built once and run with bound values: building a statement cost more than running it.
_BY_TOKEN = select(EmailThread).where(EmailThread.reply_token == bindparam("token"))
_BY_MESSAGE_IDS = (
    select(Message.external_id, Conversation, EmailThread)
    .join(Conversation, Conversation.id == Message.conversation_id)
    .outerjoin(EmailThread, EmailThread.conversation_id == Conversation.id)
    .where(Message.channel == CHANNEL, Message.external_id.in_(bindparam("ids", expanding=True)))
)
_BY_CUSTOMER = (
    select(Conversation, EmailThread)
    .join(EmailThread, EmailThread.conversation_id == Conversation.id)
    .where(Conversation.customer_id == bindparam("customer_id"), Conversation.brand_id == bindparam("brand_id"),
           Conversation.status.in_(OPEN_STATUSES), Conversation.merged_into_id.is_(None),
           Conversation.last_activity_at >= bindparam("since"))
    .order_by(Conversation.last_activity_at.desc())
    .limit(50)
)


def find(session: Session, *, mailbox: Mailbox, parsed: ParsedEmail, customer: Customer | None) -> Match | None:
    for token in _tokens(mailbox, parsed.recipients):
        thread = session.scalar(_BY_TOKEN, {"token": token})
        if thread is not None:
            conversation = _live(session, session.get(Conversation, thread.conversation_id))
            if conversation is not None and conversation.brand_id == mailbox.brand_id:
                return Match(conversation, "reply_token", thread if conversation.id == thread.conversation_id else None)
    ids = list(reversed(parsed.in_reply_to + [r for r in parsed.references if r not in parsed.in_reply_to]))
    if ids:
        # The conversation and its thread row come in the same query: filing the reply
        # needs both, and they are then in the session's identity map.
        rows = session.execute(_BY_MESSAGE_IDS, {"ids": ids[:100]}).all()
        by_id = {row[0]: (row[1], row[2]) for row in rows}
        for message_id in ids:  # In-Reply-To first, then the newest reference
            if message_id in by_id:
                found, thread = by_id[message_id]
                conversation = _live(session, found)
                if conversation is not None:
                    return Match(conversation, "headers", thread if conversation is found else None)
    if customer is None:
        return None
    return _by_customer(session, mailbox=mailbox, parsed=parsed, customer=customer)


def _by_customer(session: Session, *, mailbox: Mailbox, parsed: ParsedEmail, customer: Customer) -> Match | None:
    since = utcnow() - timedelta(days=mailbox.order_window_days)
    candidates = session.execute(
        _BY_CUSTOMER, {"customer_id": customer.id, "brand_id": mailbox.brand_id, "since": since}).all()
    cited = set(order_numbers(parsed.subject, parsed.text))
    if cited:
        for conversation, thread in candidates:
            if cited & set(thread.order_numbers or []):
                return Match(conversation, "order_number", thread)
    subject = normalise_subject(parsed.subject)
    if mailbox.thread_by_subject and len(subject) >= 4:
        for conversation, thread in candidates:
            if normalise_subject(conversation.subject) == subject:
                return Match(conversation, "subject", thread)
    return None
