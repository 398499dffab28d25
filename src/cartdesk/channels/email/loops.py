"""Loop and noise protection: mail that must never become (or reopen) a conversation.

Auto-replies (RFC 3834 ``Auto-Submitted``, ``Precedence: bulk/junk/list``,
``X-Autoreply``, Microsoft's ``X-Auto-Response-Suppress``), delivery reports
(bounces), mail from our own addresses, spam flagged upstream and senders over the
per-hour limit are quarantined, never answered.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from cartdesk.channels.email.models import Mailbox, QuarantineReason
from cartdesk.channels.email.parsing import ParsedEmail
from cartdesk.conversations.models import Conversation, Direction, Message
from cartdesk.kit.clock import utcnow

_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")


def classify(parsed: ParsedEmail, *, mailbox: Mailbox, own_addresses: set[str]) -> tuple[QuarantineReason, str] | None:
    """Why this mail is noise, or None when it is a person writing to us."""
    h = {k: v.strip().lower() for k, v in parsed.headers.items()}
    if parsed.report is not None or parsed.from_address.startswith(_BOUNCE_SENDERS) or "x-failed-recipients" in h:
        return QuarantineReason.bounce, "A delivery status notification (bounce)."
    if parsed.from_address in own_addresses:
        return QuarantineReason.loop, f"Mail from our own address {parsed.from_address}."
    auto = h.get("auto-submitted", "no")
    if auto and auto != "no":
        return QuarantineReason.loop, f"Auto-Submitted: {auto}."
    if h.get("precedence") in ("bulk", "junk", "list", "auto_reply"):
        return QuarantineReason.loop, f"Precedence: {h['precedence']}."
    for header in ("x-autoreply", "x-autorespond"):
        if header in h and h[header] not in ("no", "false", "0"):
            return QuarantineReason.loop, f"{header}: {h[header]}."
    if "x-auto-response-suppress" in h and any(v in h["x-auto-response-suppress"] for v in ("all", "oof", "autoreply")) \
            and "list-id" not in h and _looks_automatic(parsed):
        return QuarantineReason.loop, "An automatic reply (X-Auto-Response-Suppress)."
    if mailbox.drop_spam and (h.get("x-spam-flag") == "yes" or h.get("x-spam-status", "").startswith("yes")):
        return QuarantineReason.spam, "Flagged as spam upstream (X-Spam-Flag)."
    return None


def _looks_automatic(parsed: ParsedEmail) -> bool:
    subject = parsed.subject.lower()
    return any(w in subject for w in ("automatic reply", "out of office", "abwesenheit", "autoreply", "auto:"))


def over_rate_limit(session: Session, *, mailbox: Mailbox, customer_id: int) -> bool:
    """More inbound mails from this customer in the last hour than the mailbox allows.

    Counted through the customer's recently active conversations (an indexed range)
    rather than scanning messages by author.
    """
    since = utcnow() - timedelta(hours=1)
    count = session.scalar(_RECENT_INBOUND, {"customer_id": customer_id, "since": since}) or 0
    return count >= mailbox.max_per_sender_per_hour


# Built once (with bound values), as building it cost more than running it.
_RECENT_INBOUND = (
    select(func.count()).select_from(Message)
    .where(Message.conversation_id.in_(
        select(Conversation.id)
        .where(Conversation.customer_id == bindparam("customer_id"),
               Conversation.last_activity_at >= bindparam("since"))
        .scalar_subquery()),
        Message.channel == "email", Message.direction == Direction.inbound, Message.created_at >= bindparam("since"))
)
