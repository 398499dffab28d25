"""Returns (RMA): checked against the policy, then requested → approved → received → refunded,
or rejected. Receiving puts the items back in stock; refunding goes through ``refunds.py``
so the same limits and the same never-more-than-paid rule apply."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.commerce import actions, service, shipments
from cartdesk.commerce import refunds as refunds_service
from cartdesk.commerce.models import (
    Order,
    OrderLine,
    OrderStatus,
    Product,
    RefundMethod,
    Resolution,
    Return,
    ReturnItem,
    ReturnStatus,
)
from cartdesk.commerce.policy import DEFAULT_POLICY, Decision, Policy, decide
from cartdesk.commerce.schemas import RefundCreate, RefundLineIn, ReturnCreate
from cartdesk.commerce.threads import tell_thread
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, NotFound, ValidationFailed
from cartdesk.kit.money import ZERO, allocate, format_money

ALLOWED = {
    ReturnStatus.requested: (ReturnStatus.approved, ReturnStatus.rejected),
    ReturnStatus.approved: (ReturnStatus.received, ReturnStatus.rejected),
    ReturnStatus.received: (ReturnStatus.refunded, ReturnStatus.rejected),
    ReturnStatus.refunded: (),
    ReturnStatus.rejected: (),
}


@dataclass(frozen=True, slots=True)
class ItemDecision:
    line: OrderLine
    quantity: int
    decision: Decision


def returnable_units(session: Session, *, order: Order) -> dict[int, int]:
    """Units of each line not already in a live return or refunded."""
    session.flush()
    in_returns = dict(session.execute(
        select(ReturnItem.line_id, func.sum(ReturnItem.quantity))
        .join(Return, Return.id == ReturnItem.return_id)
        .where(Return.order_id == order.id, Return.status != ReturnStatus.rejected)
        .group_by(ReturnItem.line_id)
    ).all())
    refundable = refunds_service.refundable_lines(session, order=order)
    return {li.id: min(li.quantity - int(in_returns.get(li.id, 0)), refundable[li.id][0]) for li in order.lines}


def check_return(
    session: Session, *, order: Order, return_in: ReturnCreate, now: datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> list[ItemDecision]:
    """The policy's decision for every item asked for; raises nothing, so a portal can explain each one."""
    if order.status == OrderStatus.cancelled:
        raise Conflict(f"Order {order.number} was cancelled; there is nothing to return.")
    by_id = {li.id: li for li in order.lines}
    units = returnable_units(session, order=order)
    delivered = shipments.delivered_at(order)
    out: list[ItemDecision] = []
    seen: set[int] = set()
    for i, item in enumerate(return_in.items):
        line = by_id.get(item.line_id)
        if line is None or line.id in seen:
            raise ValidationFailed(f"Line {item.line_id} is not on order {order.number} (or named twice).",
                                   details=[{"field": f"items.{i}.line_id"}])
        seen.add(line.id)
        out.append(ItemDecision(line=line, quantity=item.quantity, decision=decide(
            line=line, currency=order.currency, quantity=item.quantity, returnable_units=units[line.id],
            delivered_at=delivered, now=now or utcnow(), condition=item.condition, reason=item.reason or return_in.reason,
            resolution=return_in.resolution, policy=policy,
        )))
    return out


def create_return(
    session: Session, *, actor: Actor, order: Order, return_in: ReturnCreate, via: str = "agent",
    now: datetime | None = None,
) -> Return:
    """Open an RMA. Every item must pass the policy, or nothing is created and each refusal says why.
    A return the policy accepts whole is approved at once, so the customer can print a label."""
    decisions = check_return(session, order=order, return_in=return_in, now=now)
    refused = [d for d in decisions if not d.decision.eligible]
    if refused:
        raise Conflict(
            " ".join(d.decision.reason for d in refused),
            details={"items": [{"line_id": d.line.id, "eligible": d.decision.eligible, "reason": d.decision.reason}
                               for d in decisions]},
            code="return_not_allowed",
        )
    fee = sum((d.decision.fee for d in decisions), ZERO)
    ret = Return(
        order_id=order.id, rma=_new_rma(session), status=ReturnStatus.approved, resolution=return_in.resolution,
        reason=return_in.reason, note=return_in.note, restocking_fee=fee, requested_via=via,
        conversation_id=return_in.conversation_id, decided_at=utcnow(),
        items=[ReturnItem(line_id=i.line_id, quantity=i.quantity, reason=i.reason or return_in.reason,
                          condition=i.condition) for i in return_in.items],
    )
    session.add(ret)
    session.flush()
    _record(session, actor, ret, order, "return.created", via=via, fee=str(fee))
    items = ", ".join(f"{d.quantity} × {d.line.title}" for d in decisions)
    fee_text = f", restocking fee {format_money(fee, order.currency)}" if fee else ""
    tell_thread(session, conversation_id=ret.conversation_id, actor=actor,
                body=f"Return {ret.rma} opened on order {order.number} by {actor.name or 'the customer'}: "
                     f"{items} ({ret.resolution.replace('_', ' ')}{fee_text}). Approved by the return policy.")
    return ret


def _new_rma(session: Session) -> str:
    while True:
        rma = "R" + secrets.token_hex(4).upper()
        if session.scalar(select(Return.id).where(Return.rma == rma)) is None:
            return rma


def transition(
    session: Session, *, principal: Principal, ret: Return, status: ReturnStatus, note: str = ""
) -> Return:
    if status not in ALLOWED[ReturnStatus(ret.status)]:
        raise Conflict(f"Return {ret.rma} is {ret.status}; it cannot become {status}.",
                       details={"status": str(ret.status), "allowed": [str(s) for s in ALLOWED[ReturnStatus(ret.status)]]})
    order = service.get_order_or_raise(session, order_id=ret.order_id)
    before = str(ret.status)
    if status == ReturnStatus.received:
        _restock(session, ret=ret, order=order)
        ret.received_at = utcnow()
    elif status == ReturnStatus.refunded:
        _refund(session, principal=principal, ret=ret, order=order)
    ret.status = status
    session.flush()
    _record(session, principal.actor, ret, order, "return.status_changed", before=before, after=str(status), note=note)
    tell_thread(session, conversation_id=ret.conversation_id, actor=principal.actor,
                body=f"{principal.name} marked return {ret.rma} as {status}{f' — {note}' if note else ''}.")
    return ret


def _restock(session: Session, *, ret: Return, order: Order) -> None:
    lines = {li.id: li for li in order.lines}
    for item in ret.items:
        line = lines[item.line_id]
        product = session.get(Product, line.product_id) if line.product_id else None
        if product is not None and item.condition == "unopened":
            service.adjust_stock(session, product=product, location="main", delta=item.quantity, reason="return",
                                 order_id=order.id, return_id=ret.id)


def _refund(session: Session, *, principal: Principal, ret: Return, order: Order) -> None:
    """Settle the return: a refund of the returned units less the restocking fee, spread over the
    lines; store credit for the same (no fee), recorded as a store-credit refund so it counts against
    what was paid; or, for an exchange, a free replacement order with the same items."""
    if ret.resolution == Resolution.exchange:
        actions.reship(session, principal=principal, order=order, line_ids=[i.line_id for i in ret.items],
                       reason=f"Exchange for return {ret.rma}", conversation_id=ret.conversation_id)
        return
    lines = [RefundLineIn(line_id=i.line_id, quantity=i.quantity) for i in ret.items]
    plan = refunds_service.check_refund(session, order=order, refund_in=RefundCreate(order_id=order.id, lines=lines))
    fees = allocate(ret.restocking_fee, [p.amount for p in plan.lines], order.currency)
    lines = [RefundLineIn(line_id=p.line_id, quantity=p.quantity, amount=p.amount - fee)
             for p, fee in zip(plan.lines, fees, strict=True)]
    refunds_service.request_refund(
        session, principal=principal, order=order, return_id=ret.id,
        refund_in=RefundCreate(order_id=order.id, lines=lines, reason=f"Return {ret.rma}",
                               conversation_id=ret.conversation_id,
                               method=RefundMethod.store_credit if ret.resolution == Resolution.store_credit
                               else RefundMethod.original_payment),
    )


def _record(session: Session, actor: Actor, ret: Return, order: Order, verb: str, **data: str) -> None:
    events_service.record(
        session, verb=verb, actor=actor, subject_type="order", subject_id=order.id, brand_id=order.brand_id,
        conversation_id=ret.conversation_id, data={"return_id": ret.id, "rma": ret.rma, **data},
    )


def get_or_raise(session: Session, *, return_id: int) -> Return:
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id} does not exist.", details={"return_id": return_id})
    return ret


def get_by_rma(session: Session, *, rma: str) -> Return | None:
    return session.scalar(select(Return).where(Return.rma == rma.strip().upper()))


def returns_for_customer(
    session: Session, *, customer_id: int, limit: int = 10, ids: list[int] | None = None
) -> Sequence[Return]:
    return session.scalars(
        select(Return).join(Order, Order.id == Return.order_id)
        .where(service.of_customers(Order.customer_id, ids or service.customer_ids(session, customer_id=customer_id)))
        .order_by(Return.id.desc()).limit(limit)
    ).all()
