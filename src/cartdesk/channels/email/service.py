"""Mailboxes (create, update, read) and the quarantine: the email channel's admin rules.

Services only flush; the request or job boundary commits. Every change records an
event; passwords are encrypted before they reach a row and never appear in events.
"""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from cartdesk.brands import service as brands_service
from cartdesk.channels.email.models import EmailThread, Mailbox, Quarantine, QuarantineReason
from cartdesk.channels.email.schemas import MailboxCreate, MailboxUpdate
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit import secrets
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, NotFound, ValidationFailed

CHANNEL = "email"
SECRETS_PURPOSE = "email"  # the key derivation of mailbox passwords (kit/secrets.py)


def new_token() -> str:
    """A conversation's reply token (in ``support+<token>@…``): 64 random bits."""
    return pysecrets.token_hex(8)
_PASSWORDS = {"imap_password": "imap_password_enc", "smtp_password": "smtp_password_enc"}


# --- reading -------------------------------------------------------------------------

def get(session: Session, *, mailbox_id: int) -> Mailbox | None:
    return session.get(Mailbox, mailbox_id)


def get_or_raise(session: Session, *, mailbox_id: int) -> Mailbox:
    mailbox = get(session, mailbox_id=mailbox_id)
    if mailbox is None:
        raise NotFound(f"Mailbox {mailbox_id} does not exist.", details={"id": mailbox_id})
    return mailbox


def get_by_secret(session: Session, *, secret: str) -> Mailbox | None:
    return session.scalar(select(Mailbox).where(Mailbox.inbound_secret == secret))


def list_mailboxes(session: Session, *, brand_id: int | None = None) -> Sequence[Mailbox]:
    stmt = select(Mailbox).order_by(Mailbox.brand_id, Mailbox.name, Mailbox.id)
    if brand_id is not None:
        stmt = stmt.where(Mailbox.brand_id == brand_id)
    return session.scalars(stmt).all()


_ALL_MAILBOXES = select(Mailbox).order_by(Mailbox.id)
_QUARANTINED = select(Quarantine.id).where(Quarantine.message_key == bindparam("key"))


def all_mailboxes(session: Session) -> Sequence[Mailbox]:
    """Every mailbox (a store has a handful): inbound mail reads them once per mail and
    answers both "which mailbox is this for" and "is this from ourselves" from the list."""
    return session.scalars(_ALL_MAILBOXES).all()


def own_addresses(session: Session, *, mailboxes: Sequence[Mailbox] | None = None) -> set[str]:
    """Every address mail from Cartdesk comes from (for loop protection)."""
    if mailboxes is not None:
        return {a.lower() for m in mailboxes for a in (m.address, m.inbound_address) if a}
    rows = session.execute(select(Mailbox.address, Mailbox.inbound_address)).all()
    return {a.lower() for row in rows for a in row if a}


def resolve_recipient(session: Session, *, addresses: Sequence[str],
                      mailboxes: Sequence[Mailbox] | None = None) -> Mailbox | None:
    """The mailbox a mail was sent to: its address, its forwarding address, or a
    plus-address of either (``support+token@…``)."""
    candidates: list[str] = []
    for address in addresses:
        local, _, domain = address.lower().rpartition("@")
        candidates.append(f"{local}@{domain}")
        if "+" in local:
            candidates.append(f"{local.split('+', 1)[0]}@{domain}")
    if not candidates:
        return None
    if mailboxes is None:
        mailboxes = session.scalars(select(Mailbox).where(
            or_(func.lower(Mailbox.address).in_(candidates), func.lower(Mailbox.inbound_address).in_(candidates))
        )).all()
    by_address = {}
    for mailbox in mailboxes:
        for a in (mailbox.address, mailbox.inbound_address):
            if a:
                by_address[a.lower()] = mailbox
    return next((by_address[c] for c in candidates if c in by_address), None)


# Built once: every reply on a conversation with no email thread yet asks (its delivery).
_DEFAULT_FOR_BRAND = (
    select(Mailbox).where(Mailbox.brand_id == bindparam("brand_id"), Mailbox.enabled.is_(True))
    .order_by(Mailbox.id).limit(1)
)


def default_for_brand(session: Session, *, brand_id: int) -> Mailbox | None:
    return session.scalar(_DEFAULT_FOR_BRAND, {"brand_id": brand_id})


def thread_for(session: Session, *, conversation_id: int) -> EmailThread | None:
    return session.get(EmailThread, conversation_id)


# --- writing -------------------------------------------------------------------------

def _check_addresses_free(session: Session, *, mailbox: Mailbox | None, addresses: Sequence[str | None]) -> None:
    wanted = {a.lower() for a in addresses if a}
    for other in list_mailboxes(session):
        if mailbox is not None and other.id == mailbox.id:
            continue
        taken = {a.lower() for a in (other.address, other.inbound_address) if a}
        clash = wanted & taken
        if clash:
            raise Conflict(f"{sorted(clash)[0]} is already used by mailbox {other.name!r}.",
                           details={"field": "address", "mailbox_id": other.id})


def _apply(mailbox: Mailbox, values: dict[str, Any], *, secret_key: str) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for field, value in values.items():
        if field in _PASSWORDS:
            if value:  # an empty password field in a form means "keep the current one"
                setattr(mailbox, _PASSWORDS[field], secrets.encrypt(secret_key, value, purpose=SECRETS_PURPOSE))
                changed[field] = "(changed)"
            continue
        if isinstance(value, str):
            value = value.strip()
            if field in ("inbound_address", "imap_done_folder", "imap_host", "smtp_host", "imap_username",
                         "smtp_username") and not value:
                value = None
            elif field in ("address", "inbound_address"):
                value = value.lower()
        if getattr(mailbox, field) != value:
            changed[field] = {"before": _plain(getattr(mailbox, field)), "after": _plain(value)}
            setattr(mailbox, field, value)
    return changed


def _plain(value: Any) -> Any:
    return str(value) if value is not None and not isinstance(value, bool | int | str) else value


def create(session: Session, *, actor: Actor, mailbox_in: MailboxCreate, secret_key: str) -> Mailbox:
    brand = brands_service.resolve(session, ref=mailbox_in.brand)
    _check_addresses_free(session, mailbox=None, addresses=[mailbox_in.address, mailbox_in.inbound_address])
    mailbox = Mailbox(brand_id=brand.id, name=mailbox_in.name, address=str(mailbox_in.address).lower(),
                      inbound_secret=pysecrets.token_urlsafe(24))
    values = mailbox_in.model_dump(exclude={"brand"}, exclude_none=True)
    for column in Mailbox.__table__.columns:  # defaults now, so _apply compares real values
        if getattr(mailbox, column.key, None) is None and column.default is not None and column.default.is_scalar:
            setattr(mailbox, column.key, column.default.arg)
    _apply(mailbox, values, secret_key=secret_key)
    session.add(mailbox)
    session.flush()
    events_service.record(
        session, verb="email.mailbox_created", actor=actor, subject_type="mailbox", subject_id=mailbox.id,
        brand_id=brand.id, data={"address": mailbox.address, "name": mailbox.name},
    )
    return mailbox


def update(session: Session, *, actor: Actor, mailbox: Mailbox, mailbox_in: MailboxUpdate, secret_key: str) -> Mailbox:
    values = mailbox_in.model_dump(exclude_unset=True)
    if "name" in values and not (values["name"] or "").strip():
        raise ValidationFailed("A mailbox needs a name.", details=[{"field": "name"}])
    _check_addresses_free(session, mailbox=mailbox, addresses=[values.get("inbound_address")])
    changed = _apply(mailbox, values, secret_key=secret_key)
    if changed and {"imap_host", "imap_port", "imap_username", "imap_folder"} & set(changed):
        mailbox.imap_uid_validity = mailbox.imap_last_uid = None  # another folder: its UIDs mean nothing here
    if changed:
        mailbox.updated_at = utcnow()
        session.flush()
        events_service.record(
            session, verb="email.mailbox_updated", actor=actor, subject_type="mailbox", subject_id=mailbox.id,
            brand_id=mailbox.brand_id, data=changed,
        )
    return mailbox


def password(mailbox: Mailbox, which: str, *, secret_key: str) -> str | None:
    return secrets.decrypt(secret_key, getattr(mailbox, f"{which}_password_enc"), purpose=SECRETS_PURPOSE)


def record_fetch(session: Session, *, mailbox_id: int, count: int, error: str | None = None,
                 idle_supported: bool | None = None, at: datetime | None = None) -> None:
    """Health facts from a poller (not an audit event: it happens every few seconds)."""
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None:
        return
    now = at or utcnow()
    if error is None:
        mailbox.last_fetch_at = now
        mailbox.last_fetch_count = count
        mailbox.last_error = None
    else:
        mailbox.last_error = error[:2000]
        mailbox.last_error_at = now
    if idle_supported is not None:
        mailbox.idle_supported = idle_supported
    session.flush()


def record_imap_position(session: Session, *, mailbox_id: int, uid_validity: int, last_uid: int) -> None:
    """The highest UID filed (committed) from the mailbox's folder; the poller resumes after it."""
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is not None:
        mailbox.imap_uid_validity, mailbox.imap_last_uid = uid_validity, last_uid
        session.flush()


def ensure_thread(session: Session, *, conversation_id: int, mailbox: Mailbox, customer_address: str,
                   cited: list[str], new: bool = False, known: EmailThread | None = None) -> EmailThread:
    """The conversation's email thread row (``new``: the conversation was opened in this
    transaction, so there is none yet to look up; ``known``: the row, already read)."""
    if known is not None and known.conversation_id == conversation_id:
        thread: EmailThread | None = known
    else:
        thread = None if new else session.get(EmailThread, conversation_id)
    if thread is None:
        thread = EmailThread(conversation_id=conversation_id, mailbox_id=mailbox.id, reply_token=new_token(),
                             customer_address=customer_address, order_numbers=cited, created_at=utcnow())
        session.add(thread)
    elif cited and not set(cited) <= set(thread.order_numbers or []):
        thread.order_numbers = list(dict.fromkeys([*(thread.order_numbers or []), *cited]))[:50]
    session.flush()
    return thread


# --- quarantine ------------------------------------------------------------------------

def quarantine(
    session: Session, *, raw: bytes, source: str, reason: QuarantineReason, error: str, message_key: str,
    mailbox_id: int | None = None, sender: str | None = None, subject: str | None = None,
) -> Quarantine:
    """Keep a mail that did not become a message; the same mail twice is kept once."""
    existing = session.scalar(select(Quarantine).where(Quarantine.message_key == message_key))
    if existing is not None:
        return existing
    row = Quarantine(mailbox_id=mailbox_id, source=source, reason=reason, error=error[:20_000],
                     message_key=message_key[:500], sender=(sender or None) and sender[:320],
                     subject=(subject or None) and subject[:500], raw=raw, size=len(raw), created_at=utcnow())
    session.add(row)
    session.flush()
    events_service.record(
        session, verb="email.quarantined", actor=Actor.system(), subject_type="email_quarantine",
        subject_id=row.id, data={"reason": str(reason), "source": source, "mailbox_id": mailbox_id,
                                 "sender": row.sender, "error": row.error[:300]},
    )
    return row


def list_quarantine(session: Session, *, mailbox_id: int | None = None, limit: int = 100) -> Sequence[Quarantine]:
    stmt = select(Quarantine).order_by(Quarantine.id.desc()).limit(limit)
    if mailbox_id is not None:
        stmt = stmt.where(Quarantine.mailbox_id == mailbox_id)
    return session.scalars(stmt).all()


def quarantine_counts(session: Session) -> dict[int | None, int]:
    stmt = select(Quarantine.mailbox_id, func.count()).group_by(Quarantine.mailbox_id)
    return {row[0]: row[1] for row in session.execute(stmt).all()}


def get_quarantined_or_raise(session: Session, *, quarantine_id: int) -> Quarantine:
    row = session.get(Quarantine, quarantine_id)
    if row is None:
        raise NotFound(f"Quarantined mail {quarantine_id} does not exist.", details={"id": quarantine_id})
    return row


def quarantine_exists(session: Session, *, message_key: str) -> bool:
    return session.scalar(_QUARANTINED, {"key": message_key}) is not None


def mark_quarantine_viewed(session: Session, *, quarantined: Quarantine) -> None:
    """An admin opened the raw mail: the retention purge leaves it alone for another window."""
    quarantined.viewed_at = utcnow()
    session.flush()


def purge_quarantine(session: Session, *, older_than_days: int, now: datetime | None = None,
                     batch: int = 500) -> int:
    """Delete quarantined mail (row and raw bytes) kept longer than ``older_than_days``.

    Mail an admin downloaded within the window stays: someone is still looking at it.
    Deletes at most ``batch`` rows, so one run never holds a long write lock; returns the
    count (the next run goes on). ``older_than_days`` of 0 keeps everything.
    """
    if older_than_days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    ids = session.scalars(
        select(Quarantine.id)
        .where(Quarantine.created_at < cutoff, or_(Quarantine.viewed_at.is_(None), Quarantine.viewed_at < cutoff))
        .order_by(Quarantine.id).limit(batch)
    ).all()
    if not ids:
        return 0
    session.execute(delete(Quarantine).where(Quarantine.id.in_(ids)), execution_options={"synchronize_session": False})
    session.expire_all()
    events_service.record(
        session, verb="email.quarantine_purged", actor=Actor.system(), subject_type="email_quarantine",
        subject_id=ids[0], data={"count": len(ids), "ids": list(ids)[:100], "older_than_days": older_than_days},
    )
    return len(ids)
