"""Shipments and their tracking scans; they drive an order's fulfilment status and delivery date
(the return window runs from it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.commerce.models import (
    FulfillmentStatus,
    Order,
    OrderStatus,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from cartdesk.commerce.schemas import ShipmentCreate, TrackingEventIn
from cartdesk.commerce.service import _keyset, get_order_or_raise
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, NotFound, ValidationFailed


def create_shipment(session: Session, *, actor: Actor, shipment_in: ShipmentCreate) -> Shipment:
    order = get_order_or_raise(session, order_id=shipment_in.order_id)
    if order.status == OrderStatus.cancelled:
        raise Conflict(f"Order {order.number} was cancelled; it cannot be shipped.")
    line_ids = {li.id: li for li in order.lines}
    items = shipment_in.items or [{"line_id": li.id, "quantity": li.quantity} for li in order.lines]  # type: ignore[misc]
    items = [i if isinstance(i, dict) else i.model_dump() for i in items]
    for item in items:
        if item["line_id"] not in line_ids:
            raise ValidationFailed(f"Line {item['line_id']} is not on order {order.number}.",
                                   details=[{"field": "items"}])
    shipment = Shipment(
        order_id=order.id, carrier=shipment_in.carrier, tracking_number=shipment_in.tracking_number,
        tracking_url=shipment_in.tracking_url, items=items, shipped_at=shipment_in.shipped_at or utcnow(),
        estimated_delivery=shipment_in.estimated_delivery,
        status=ShipmentStatus.label_created,
    )
    session.add(shipment)
    order.shipments.append(shipment)
    session.flush()
    for event_in in shipment_in.events:
        _add_tracking(shipment, event_in)
    _refresh_fulfillment(order)
    session.flush()
    events_service.record(
        session, verb="shipment.created", actor=actor, subject_type="order", subject_id=order.id,
        brand_id=order.brand_id, data={"shipment_id": shipment.id, "carrier": shipment.carrier,
                                       "tracking_number": shipment.tracking_number},
    )
    return shipment


def add_tracking_event(session: Session, *, actor: Actor, shipment: Shipment, event_in: TrackingEventIn) -> Shipment:
    before = str(shipment.status)
    _add_tracking(shipment, event_in)
    session.flush()
    if before != shipment.status:
        events_service.record(
            session, verb="shipment.status_changed", actor=actor, subject_type="shipment", subject_id=shipment.id,
            data={"status": {"before": before, "after": str(shipment.status)}},
        )
    return shipment


def _add_tracking(shipment: Shipment, event_in: TrackingEventIn) -> None:
    shipment.events.append(TrackingEvent(
        occurred_at=event_in.occurred_at, status=event_in.status, description=event_in.description,
        location=event_in.location,
    ))
    latest = max(shipment.events, key=lambda e: e.occurred_at)
    shipment.status = latest.status
    if latest.status == ShipmentStatus.delivered:
        shipment.delivered_at = latest.occurred_at


def _refresh_fulfillment(order: Order) -> None:
    shipped: dict[int, int] = {}
    for shipment in order.shipments:
        for item in shipment.items:
            shipped[item["line_id"]] = shipped.get(item["line_id"], 0) + int(item["quantity"])
    if not shipped:
        order.fulfillment_status = FulfillmentStatus.unfulfilled
    elif all(shipped.get(li.id, 0) >= li.quantity for li in order.lines):
        order.fulfillment_status = FulfillmentStatus.fulfilled
    else:
        order.fulfillment_status = FulfillmentStatus.partial


def delivered_at(order: Order) -> datetime | None:
    """When the order arrived: the latest delivery among its shipments, None while any is on its way."""
    dates = [s.delivered_at for s in order.shipments]
    if not dates or any(d is None for d in dates):
        return None
    return max(d for d in dates if d is not None)


def get_shipment_or_raise(session: Session, *, shipment_id: int) -> Shipment:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} does not exist.", details={"shipment_id": shipment_id})
    return shipment


def list_shipments(
    session: Session, *, order_id: int | None = None, limit: int = 25, cursor: str | None = None
) -> tuple[Sequence[Shipment], str | None]:
    stmt = select(Shipment)
    if order_id is not None:
        stmt = stmt.where(Shipment.order_id == order_id)
    return _keyset(session, stmt, Shipment, limit=limit, cursor=cursor)
