"""Refunds: what may still be refunded, the refund itself, limits and supervisor approval.

The invariant: money given back on an order never exceeds what was paid. Each line
can give back at most its own total, shipping at most the shipping paid, and the
order at most ``paid_total``. A line's units carry exact cumulative shares of its
total (``kit.money.cumulative_share``), so refunding a line in any number of partial
refunds adds up to exactly its total, never a cent more or less.

Amounts held by refunds awaiting approval count as taken: two requests cannot both
be approved into more than was paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.commerce import store_credit
from cartdesk.commerce.models import (
    HOLDING_REFUND,
    FinancialStatus,
    Order,
    OrderStatus,
    Refund,
    RefundLimit,
    RefundLine,
    RefundMethod,
    RefundStatus,
    from_cents,
    sum_cents,
)
from cartdesk.commerce.schemas import RefundCreate
from cartdesk.commerce.threads import tell_thread
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.jobs import service as jobs_service
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cartdesk.kit.money import ZERO, cumulative_share, format_money


@dataclass(frozen=True, slots=True)
class PlannedLine:
    line_id: int
    quantity: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RefundPlan:
    lines: list[PlannedLine]
    shipping: Decimal

    @property
    def amount(self) -> Decimal:
        return sum((li.amount for li in self.lines), ZERO) + self.shipping


@dataclass(frozen=True, slots=True)
class Taken:
    """What earlier refunds that still hold money took: per line (units, amount), shipping, total."""

    lines: dict[int, tuple[int, Decimal]]
    shipping: Decimal
    total: Decimal


def taken(session: Session, *, order: Order) -> Taken:
    session.flush()
    rows = session.execute(
        select(RefundLine.line_id, func.sum(RefundLine.quantity), sum_cents(RefundLine.amount))
        .join(Refund, Refund.id == RefundLine.refund_id)
        .where(Refund.order_id == order.id, Refund.status.in_(HOLDING_REFUND))
        .group_by(RefundLine.line_id)
    ).all()
    shipping, total = session.execute(
        select(sum_cents(Refund.shipping), sum_cents(Refund.amount))
        .where(Refund.order_id == order.id, Refund.status.in_(HOLDING_REFUND))
    ).one()
    return Taken(
        lines={line_id: (int(qty), from_cents(amount)) for line_id, qty, amount in rows},
        shipping=from_cents(shipping), total=from_cents(total),
    )


def taken_from(refunds: Sequence[Refund]) -> Taken:
    """``taken`` computed from an order's refunds already loaded (the read path: one query for many orders)."""
    lines: dict[int, tuple[int, Decimal]] = {}
    shipping = total = ZERO
    for refund in refunds:
        if refund.status not in HOLDING_REFUND:
            continue
        shipping, total = shipping + refund.shipping, total + refund.amount
        for li in refund.lines:
            qty, amount = lines.get(li.line_id, (0, ZERO))
            lines[li.line_id] = (qty + li.quantity, amount + li.amount)
    return Taken(lines=lines, shipping=shipping, total=total)


def refundable_lines(session: Session, *, order: Order, done: Taken | None = None) -> dict[int, tuple[int, Decimal]]:
    """Per line: units not yet refunded and the money they still carry."""
    done = done or taken(session, order=order)
    out: dict[int, tuple[int, Decimal]] = {}
    for line in order.lines:
        qty, amount = done.lines.get(line.id, (0, ZERO))
        out[line.id] = (line.quantity - qty, line.total - amount)
    return out


def check_refund(session: Session, *, order: Order, refund_in: RefundCreate) -> RefundPlan:
    """Work out the refund and refuse, with the reason, anything beyond what was paid."""
    if order.paid_total <= 0:
        raise Conflict(f"Nothing was paid on order {order.number}, so there is nothing to refund.")
    done = taken(session, order=order)
    by_id = {li.id: li for li in order.lines}
    seen: set[int] = set()
    planned: list[PlannedLine] = []
    for i, item in enumerate(refund_in.lines):
        line = by_id.get(item.line_id)
        if line is None:
            raise ValidationFailed(f"Line {item.line_id} is not on order {order.number}.",
                                   details=[{"field": f"lines.{i}.line_id"}])
        if line.id in seen:
            raise ValidationFailed("Name each line once.", details=[{"field": f"lines.{i}.line_id"}])
        seen.add(line.id)
        units_done, amount_done = done.lines.get(line.id, (0, ZERO))
        if units_done + item.quantity > line.quantity:
            left = line.quantity - units_done
            raise Conflict(
                f"{line.title}: only {left} of {line.quantity} can still be refunded.",
                details={"field": f"lines.{i}.quantity", "refundable_quantity": left},
            )
        share = (cumulative_share(line.total, line.quantity, units_done + item.quantity, order.currency)
                 - cumulative_share(line.total, line.quantity, units_done, order.currency))
        # A line refunded below its share earlier leaves less behind than the share says; take the smaller.
        share = min(share, line.total - amount_done)
        amount = share if item.amount is None else item.amount
        if amount > share:
            raise Conflict(
                f"{line.title}: {format_money(amount, order.currency)} is more than those units cost "
                f"({format_money(share, order.currency)}).",
                details={"field": f"lines.{i}.amount", "refundable_amount": str(share)},
            )
        planned.append(PlannedLine(line_id=line.id, quantity=item.quantity, amount=amount))
    shipping_left = order.shipping_total - done.shipping
    if refund_in.shipping > shipping_left:
        raise Conflict(
            f"Shipping: only {format_money(shipping_left, order.currency)} of shipping can still be refunded.",
            details={"field": "shipping", "refundable_shipping": str(shipping_left)},
        )
    plan = RefundPlan(lines=planned, shipping=refund_in.shipping)
    if plan.amount <= 0:
        raise ValidationFailed("Choose at least one line or some shipping to refund.", details=[{"field": "lines"}])
    left = order.paid_total - done.total
    if plan.amount > left:
        raise Conflict(
            f"{format_money(plan.amount, order.currency)} is more than is left to refund on order "
            f"{order.number} ({format_money(left, order.currency)} of {format_money(order.paid_total, order.currency)} paid).",
            details={"refundable_total": str(left)},
        )
    return plan


def limit_for(session: Session, *, role: str) -> Decimal | None:
    row = session.get(RefundLimit, str(role))
    return row.amount if row else None


def set_limit(session: Session, *, actor: Actor, role: str, amount: Decimal | None) -> None:
    row = session.get(RefundLimit, role)
    before = str(row.amount) if row else None
    if amount is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(RefundLimit(role=role, amount=amount, updated_at=utcnow()))
    else:
        row.amount, row.updated_at = amount, utcnow()
    session.flush()
    events_service.record(
        session, verb="refund_limit.changed", actor=actor, subject_type="role", subject_id=0,
        data={"role": role, "amount": {"before": before, "after": str(amount) if amount is not None else None}},
    )


def request_refund(
    session: Session, *, principal: Principal, order: Order, refund_in: RefundCreate, return_id: int | None = None,
) -> Refund:
    """Refund now, or — above the requester's limit — ask a supervisor. Either way the amount is held."""
    _lock(session, order)
    plan = check_refund(session, order=order, refund_in=refund_in)
    if refund_in.method == RefundMethod.store_credit and order.customer_id is None:
        raise Conflict(f"Order {order.number} has no customer to hold store credit; refund it another way.")
    limit = limit_for(session, role=principal.role)
    needs_approval = limit is not None and plan.amount > limit
    refund = Refund(
        order_id=order.id, amount=plan.amount, shipping=plan.shipping, currency=order.currency,
        method=refund_in.method, reason=refund_in.reason, requested_by_id=principal.user_id,
        conversation_id=refund_in.conversation_id, return_id=return_id, created_at=utcnow(),
        status=RefundStatus.awaiting_approval if needs_approval else RefundStatus.pending,
        lines=[RefundLine(line_id=p.line_id, quantity=p.quantity, amount=p.amount) for p in plan.lines],
    )
    session.add(refund)
    session.flush()
    money = format_money(refund.amount, order.currency)
    what = _describe(order, plan)
    if needs_approval:
        _record(session, principal.actor, refund, order, "refund.approval_requested", limit=str(limit))
        tell_thread(session, conversation_id=refund.conversation_id, actor=principal.actor,
                    body=f"{principal.name} asked for a refund of {money} on order {order.number} ({what}). "
                         f"It is above their limit of {format_money(limit, order.currency)} and awaits a supervisor.")
        return refund
    _start(session, refund=refund, order=order, actor=principal.actor)
    _record(session, principal.actor, refund, order, "refund.created")
    tell_thread(session, conversation_id=refund.conversation_id, actor=principal.actor,
                body=f"{principal.name} refunded {money} on order {order.number} ({what}) "
                     f"to the {_method(refund.method)}.")
    return refund


def decide(session: Session, *, principal: Principal, refund: Refund, approve: bool, note: str = "") -> Refund:
    """A supervisor approves (the refund goes ahead) or declines (the held amount is released)."""
    if not principal.is_supervisor:
        raise Forbidden("Only a supervisor or admin can approve refunds.")
    if refund.status != RefundStatus.awaiting_approval:
        raise Conflict(f"This refund is {refund.status.replace('_', ' ')}; there is nothing to decide.")
    if refund.requested_by_id == principal.user_id:
        raise Forbidden("A refund needs someone other than its requester to approve it.")
    order = refund.order
    _lock(session, order)
    refund.decided_by_id, refund.decided_at = principal.user_id, utcnow()
    money = format_money(refund.amount, order.currency)
    suffix = f" — {note}" if note else ""
    if approve:
        _start(session, refund=refund, order=order, actor=principal.actor)
        _record(session, principal.actor, refund, order, "refund.approved", note=note)
        tell_thread(session, conversation_id=refund.conversation_id, actor=principal.actor,
                    body=f"{principal.name} approved the refund of {money} on order {order.number}{suffix}.")
    else:
        refund.status = RefundStatus.declined
        session.flush()
        _record(session, principal.actor, refund, order, "refund.declined", note=note)
        tell_thread(session, conversation_id=refund.conversation_id, actor=principal.actor,
                    body=f"{principal.name} declined the refund of {money} on order {order.number}{suffix}.")
    return refund


def _start(session: Session, *, refund: Refund, order: Order, actor: Actor) -> None:
    """Money is on its way: the order counts it as refunded; a connected shop carries it out in a job."""
    refund.status = RefundStatus.pending
    order.refunded_total += refund.amount
    refresh_financial_status(order)
    session.flush()
    if refund.method == RefundMethod.store_credit:
        # Store credit is Cartdesk's own ledger: issuing the credit is doing the refund.
        mark_succeeded(session, refund=refund)
        store_credit.issue_for_refund(session, actor=actor, refund=refund, order=order)
    elif order.source == "cartdesk":
        # The built-in store has no payment system to call: recording the refund is doing it.
        mark_succeeded(session, refund=refund)
    else:
        jobs_service.enqueue(session, "commerce.refund.execute", {"refund_id": refund.id},
                             dedupe_key=f"commerce.refund.execute:{refund.id}")


def mark_succeeded(session: Session, *, refund: Refund, external_id: str | None = None) -> None:
    refund.status, refund.processed_at = RefundStatus.succeeded, utcnow()
    refund.external_id = external_id or refund.external_id
    session.flush()


def mark_failed(session: Session, *, refund: Refund, error: str) -> None:
    """The shop refused for good: release the amount so it can be refunded again."""
    order = refund.order
    refund.status, refund.error, refund.processed_at = RefundStatus.failed, error, utcnow()
    order.refunded_total -= refund.amount
    refresh_financial_status(order)
    session.flush()
    events_service.record(session, verb="refund.failed", actor=Actor.system(), subject_type="order",
                          subject_id=order.id, brand_id=order.brand_id, conversation_id=refund.conversation_id,
                          data={"refund_id": refund.id, "error": error})
    tell_thread(session, conversation_id=refund.conversation_id, actor=Actor.system(),
                body=f"The refund of {format_money(refund.amount, order.currency)} on order {order.number} failed: {error}")


def refresh_financial_status(order: Order) -> None:
    if order.status == OrderStatus.cancelled and order.paid_total == 0:
        order.financial_status = FinancialStatus.voided
    elif order.refunded_total <= 0:
        order.financial_status = FinancialStatus.paid if order.paid_total >= order.total else FinancialStatus.pending
    elif order.refunded_total >= order.paid_total:
        order.financial_status = FinancialStatus.refunded
    else:
        order.financial_status = FinancialStatus.partially_refunded


def _lock(session: Session, order: Order) -> None:
    # PostgreSQL: concurrent refunds on one order queue here; SQLite writers are serialised already.
    if session.get_bind().dialect.name == "postgresql":
        session.refresh(order, with_for_update=True)


def _describe(order: Order, plan: RefundPlan) -> str:
    titles = {li.id: li.title for li in order.lines}
    parts = [f"{p.quantity} × {titles[p.line_id]}" for p in plan.lines]
    if plan.shipping:
        parts.append(f"shipping {format_money(plan.shipping, order.currency)}")
    return ", ".join(parts)


def _method(method: str) -> str:
    return {RefundMethod.original_payment: "original payment method", RefundMethod.store_credit: "store credit",
            RefundMethod.manual: "customer (manual refund)"}[RefundMethod(method)]


def _record(session: Session, actor: Actor, refund: Refund, order: Order, verb: str, **extra: str) -> None:
    events_service.record(
        session, verb=verb, actor=actor, subject_type="order", subject_id=order.id, brand_id=order.brand_id,
        conversation_id=refund.conversation_id,
        data={"refund_id": refund.id, "number": order.number, "amount": str(refund.amount),
              "currency": order.currency, "status": str(refund.status), **extra},
    )


def get_or_raise(session: Session, *, refund_id: int) -> Refund:
    refund = session.get(Refund, refund_id)
    if refund is None:
        raise NotFound(f"Refund {refund_id} does not exist.", details={"refund_id": refund_id})
    return refund


def awaiting_approval(session: Session, *, limit: int = 50) -> Sequence[Refund]:
    return session.scalars(
        select(Refund).where(Refund.status == RefundStatus.awaiting_approval).order_by(Refund.created_at).limit(limit)
    ).all()


def count_awaiting(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Refund.status == RefundStatus.awaiting_approval)) or 0)
