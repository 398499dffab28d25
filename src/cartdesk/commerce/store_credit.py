"""Store credit: a customer's credit with a brand, as an append-only ledger.

A return settled as store credit is recorded as a refund with method ``store_credit`` (it
counts against what was paid like any refund) and, once that refund goes ahead, issues an
entry of the same amount here. The balance is the sum of a customer's entries (and of
anyone merged into them) per brand and currency: derived, never stored, so it cannot
drift from its history. Admins and supervisors adjust it by hand (a goodwill credit, credit
spent at the till); an adjustment never takes a balance below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.commerce import service
from cartdesk.commerce.models import (
    Order,
    Refund,
    RefundMethod,
    StoreCreditEntry,
    StoreCreditKind,
    from_cents,
    sum_cents,
)
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, Forbidden, ValidationFailed
from cartdesk.kit.money import format_money


@dataclass(frozen=True, slots=True)
class Balance:
    brand_id: int
    currency: str
    amount: Decimal


def balances(session: Session, *, customer_ids: Sequence[int]) -> list[Balance]:
    """Per brand and currency, biggest first; a balance spent down to zero is still listed."""
    rows = session.execute(
        select(StoreCreditEntry.brand_id, StoreCreditEntry.currency, sum_cents(StoreCreditEntry.amount))
        .where(service.of_customers(StoreCreditEntry.customer_id, customer_ids))
        .group_by(StoreCreditEntry.brand_id, StoreCreditEntry.currency)
    ).all()
    out = [Balance(brand_id=b, currency=c, amount=from_cents(cents)) for b, c, cents in rows]
    return sorted(out, key=lambda b: (-b.amount, b.brand_id, b.currency))


def balance(session: Session, *, customer_id: int, brand_id: int, currency: str) -> Decimal:
    ids = service.customer_ids(session, customer_id=customer_id)
    return next((b.amount for b in balances(session, customer_ids=ids)
                 if b.brand_id == brand_id and b.currency == currency), Decimal("0.00"))


def entries(session: Session, *, customer_ids: Sequence[int], limit: int = 10) -> Sequence[StoreCreditEntry]:
    return session.scalars(
        select(StoreCreditEntry).where(service.of_customers(StoreCreditEntry.customer_id, customer_ids))
        .order_by(StoreCreditEntry.created_at.desc(), StoreCreditEntry.id.desc()).limit(limit)
    ).all()


def issue_for_refund(session: Session, *, actor: Actor, refund: Refund, order: Order) -> StoreCreditEntry | None:
    """The credit a store-credit refund gives; once per refund (a second call returns the first entry)."""
    if refund.method != RefundMethod.store_credit or order.customer_id is None:
        return None
    held = session.scalar(select(StoreCreditEntry).where(StoreCreditEntry.refund_id == refund.id))
    if held is not None:
        return held
    # The refund's reason already says "Return <RMA>" when a return is settled.
    note = f"{refund.reason or 'Refund'} · order {order.number}"[:300]
    return _add(session, actor=actor, customer_id=order.customer_id, brand_id=order.brand_id,
                amount=refund.amount, currency=order.currency, kind=StoreCreditKind.issued, note=note,
                refund_id=refund.id, order_id=order.id, return_id=refund.return_id,
                conversation_id=refund.conversation_id)


def check_adjust(session: Session, *, principal: Principal, customer_id: int, brand_id: int, amount: Decimal,
                 currency: str, note: str) -> None:
    if not principal.is_supervisor:
        raise Forbidden("Only a supervisor or admin can adjust store credit.")
    if amount == 0:
        raise ValidationFailed("An adjustment is a non-zero amount.", details=[{"field": "amount"}])
    if not note.strip():
        raise ValidationFailed("Say why the credit changes.", details=[{"field": "note"}])
    held = balance(session, customer_id=customer_id, brand_id=brand_id, currency=currency)
    if held + amount < 0:
        raise Conflict(f"The balance is {format_money(held, currency)}; it cannot go below zero.",
                       details={"field": "amount", "balance": str(held)})


def adjust(session: Session, *, principal: Principal, customer_id: int, brand_id: int, amount: Decimal,
           currency: str, note: str, kind: StoreCreditKind = StoreCreditKind.adjusted) -> StoreCreditEntry:
    currency = currency.upper()
    check_adjust(session, principal=principal, customer_id=customer_id, brand_id=brand_id, amount=amount,
                 currency=currency, note=note)
    return _add(session, actor=principal.actor, customer_id=customer_id, brand_id=brand_id, amount=amount,
                currency=currency, kind=kind, note=note.strip()[:300], created_by_id=principal.user_id)


def _add(session: Session, *, actor: Actor, customer_id: int, brand_id: int, amount: Decimal, currency: str,
         kind: StoreCreditKind, note: str, refund_id: int | None = None, order_id: int | None = None,
         return_id: int | None = None, created_by_id: int | None = None,
         conversation_id: int | None = None) -> StoreCreditEntry:
    entry = StoreCreditEntry(customer_id=customer_id, brand_id=brand_id, amount=amount, currency=currency, kind=kind,
                             note=note, refund_id=refund_id, order_id=order_id, return_id=return_id,
                             created_by_id=created_by_id, created_at=utcnow())
    session.add(entry)
    session.flush()
    after = balance(session, customer_id=customer_id, brand_id=brand_id, currency=currency)
    events_service.record(
        session, verb=f"store_credit.{kind}", actor=actor, subject_type="customer", subject_id=customer_id,
        brand_id=brand_id, conversation_id=conversation_id,
        data={"entry_id": entry.id, "amount": str(amount), "currency": currency, "balance": str(after),
              "note": note, "refund_id": refund_id, "order_id": order_id, "return_id": return_id},
    )
    return entry
