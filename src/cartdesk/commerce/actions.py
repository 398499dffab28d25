"""Order actions an agent takes from a conversation: cancel, change the shipping address,
reship. (Refunds are in ``refunds.py``, returns in ``returns.py``.)

Each is check → do → notify: the check refuses with the reason and changes nothing;
the change writes an event; the conversation hears of it as a system line; a
connected shop is told through a durable job after commit.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.commerce import refunds as refunds_service
from cartdesk.commerce import service
from cartdesk.commerce.models import (
    FulfillmentStatus,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Refund,
    RefundLine,
    RefundMethod,
    RefundStatus,
)
from cartdesk.commerce.schemas import Address
from cartdesk.commerce.threads import tell_thread
from cartdesk.events import service as events_service
from cartdesk.jobs import service as jobs_service
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, ValidationFailed
from cartdesk.kit.money import ZERO, format_money


def _check_not_shipped(order: Order, doing: str) -> None:
    if order.status == OrderStatus.cancelled:
        raise Conflict(f"Order {order.number} is already cancelled.")
    if order.fulfillment_status != FulfillmentStatus.unfulfilled or order.shipments:
        raise Conflict(f"Order {order.number} has already shipped, so it is too late to {doing}.",
                       details={"fulfillment_status": str(order.fulfillment_status)})


def _tell_shop(session: Session, order: Order, action: str, payload: dict) -> None:  # type: ignore[type-arg]
    if order.source != "cartdesk":
        jobs_service.enqueue(session, f"commerce.{action}", {"order_id": order.id, **payload},
                             dedupe_key=f"commerce.{action}:{order.id}:{payload.get('key', '')}")


def cancel_order(
    session: Session, *, principal: Principal, order: Order, reason: str = "", conversation_id: int | None = None,
    restock: bool = True,
) -> Order:
    """Cancel an order that has not shipped. What was paid and not yet refunded goes back in
    full: no limit applies, since nothing left the warehouse."""
    _check_not_shipped(order, "cancel it")
    refunds_service._lock(session, order)
    left = order.paid_total - refunds_service.taken(session, order=order).total
    order.status, order.cancelled_at, order.cancel_reason = OrderStatus.cancelled, utcnow(), reason or None
    refund = None
    if left > 0:
        refundable = refunds_service.refundable_lines(session, order=order)
        refund = Refund(
            order_id=order.id, amount=left, shipping=order.shipping_total, currency=order.currency,
            method=RefundMethod.original_payment, status=RefundStatus.pending, reason="Order cancelled",
            requested_by_id=principal.user_id, conversation_id=conversation_id, created_at=utcnow(),
            lines=[RefundLine(line_id=li_id, quantity=qty, amount=amount)
                   for li_id, (qty, amount) in refundable.items() if qty > 0 or amount > 0],
        )
        # The lines and shipping must add up to what is left; shipping takes any difference
        # (an order paid partly is refunded what was paid, no more).
        refund.shipping = left - sum((li.amount for li in refund.lines), ZERO)
        if refund.shipping < 0:
            refund.lines, refund.shipping = [], ZERO
        session.add(refund)
        session.flush()
        order.refunded_total += left
        if order.source == "cartdesk":
            refunds_service.mark_succeeded(session, refund=refund)
    if restock:
        for line in order.lines:
            product = session.get(Product, line.product_id) if line.product_id else None
            if product is not None:
                service.adjust_stock(session, product=product, location="main", delta=line.quantity,
                                     reason="cancel", order_id=order.id)
    refunds_service.refresh_financial_status(order)
    session.flush()
    events_service.record(
        session, verb="order.cancelled", actor=principal.actor, subject_type="order", subject_id=order.id,
        brand_id=order.brand_id, conversation_id=conversation_id,
        data={"number": order.number, "reason": reason, "refunded": str(left), "refund_id": refund.id if refund else None},
    )
    _tell_shop(session, order, "order.cancel", {"refund_id": refund.id if refund else None})
    money = f" and refunded {format_money(left, order.currency)}" if left > 0 else ""
    tell_thread(session, conversation_id=conversation_id, actor=principal.actor,
                body=f"{principal.name} cancelled order {order.number}{money}{f' — {reason}' if reason else ''}.")
    return order


def change_address(
    session: Session, *, principal: Principal, order: Order, address: Address, conversation_id: int | None = None
) -> Order:
    _check_not_shipped(order, "change its address")
    before = dict(order.shipping_address or {})
    order.shipping_address = address.model_dump()
    session.flush()
    events_service.record(
        session, verb="order.address_changed", actor=principal.actor, subject_type="order", subject_id=order.id,
        brand_id=order.brand_id, conversation_id=conversation_id,
        data={"number": order.number, "before": before, "after": order.shipping_address},
    )
    _tell_shop(session, order, "order.address", {"key": utcnow().isoformat()})
    tell_thread(session, conversation_id=conversation_id, actor=principal.actor,
                body=f"{principal.name} changed the shipping address of order {order.number} to {format_address(order.shipping_address)}.")
    return order


def format_address(a: dict) -> str:  # type: ignore[type-arg]
    parts = [a.get("name"), a.get("line1"), a.get("line2"), " ".join(p for p in (a.get("postal_code"), a.get("city")) if p),
             a.get("region"), a.get("country")]
    return ", ".join(p for p in parts if p)


def reship(
    session: Session, *, principal: Principal, order: Order, line_ids: list[int] | None = None, reason: str = "",
    conversation_id: int | None = None,
) -> Order:
    """Send the items again at no charge (a lost or damaged parcel): a replacement order
    pointing at the original, paid zero."""
    if order.status == OrderStatus.cancelled:
        raise Conflict(f"Order {order.number} was cancelled; there is nothing to reship.")
    if not order.shipments:
        raise Conflict(f"Order {order.number} has not shipped yet; there is nothing to send again.")
    chosen = [li for li in order.lines if not line_ids or li.id in line_ids]
    if not chosen:
        raise ValidationFailed("Choose the items to send again.", details=[{"field": "line_ids"}])
    count = session.scalar(select(func.count()).where(Order.replacement_of_id == order.id)) or 0
    replacement = Order(
        brand_id=order.brand_id, number=f"{order.number}-R{count + 1}", customer_id=order.customer_id,
        email=order.email, currency=order.currency, subtotal=ZERO, total=ZERO, paid_total=ZERO, refunded_total=ZERO,
        shipping_address=dict(order.shipping_address or {}), billing_address=dict(order.billing_address or {}),
        placed_at=utcnow(), source=order.source, replacement_of_id=order.id, note=reason or "Replacement",
        status=OrderStatus.open, fulfillment_status=FulfillmentStatus.unfulfilled,
        lines=[OrderLine(product_id=li.product_id, sku=li.sku, title=li.title, category=li.category,
                         final_sale=li.final_sale, quantity=li.quantity, unit_price=ZERO, total=ZERO) for li in chosen],
    )
    refunds_service.refresh_financial_status(replacement)
    session.add(replacement)
    session.flush()
    for line in replacement.lines:
        product = session.get(Product, line.product_id) if line.product_id else None
        if product is not None:
            service.adjust_stock(session, product=product, location="main", delta=-line.quantity, reason="reship",
                                 order_id=replacement.id)
    events_service.record(
        session, verb="order.reshipped", actor=principal.actor, subject_type="order", subject_id=order.id,
        brand_id=order.brand_id, conversation_id=conversation_id,
        data={"number": order.number, "replacement_id": replacement.id, "replacement_number": replacement.number,
              "reason": reason},
    )
    _tell_shop(session, order, "order.reship", {"replacement_id": replacement.id, "key": replacement.id})
    items = ", ".join(f"{li.quantity} × {li.title}" for li in chosen)
    tell_thread(session, conversation_id=conversation_id, actor=principal.actor,
                body=f"{principal.name} reshipped order {order.number} as replacement {replacement.number}: {items}"
                     f"{f' — {reason}' if reason else ''}.")
    return replacement
