"""Keeping Cartdesk's copy of a connected shop current: incremental import and webhooks.

Orders are matched by ``(brand, source, external_id)``; an older version (by the platform's
``updated_at``) never overwrites a newer one, so webhooks arriving out of order or replayed
change nothing. A webhook delivery is applied once per delivery id (``WebhookReceipt``), and
only after its signature checked out (the route does that first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cartdesk.commerce import refunds as refunds_service
from cartdesk.commerce import service, shipments
from cartdesk.commerce.connectors.base import ExternalOrder, ExternalProduct
from cartdesk.commerce.models import (
    HOLDING_REFUND,
    Order,
    OrderStatus,
    Product,
    Refund,
    RefundLine,
    RefundMethod,
    RefundStatus,
    Shipment,
    StoreConnection,
    TrackingEvent,
    WebhookReceipt,
)
from cartdesk.commerce.schemas import OrderCreate, ProductCreate
from cartdesk.customers import service as customers_service
from cartdesk.customers.models import IdentityKind
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import NotFound
from cartdesk.kit.money import ZERO

ORDER_TOPICS = {"orders/create", "orders/updated", "orders/cancelled", "orders/paid", "orders/fulfilled",
                "order.created", "order.updated", "order.restored"}
REFETCH_TOPICS = {"refunds/create", "fulfillments/create", "fulfillments/update"}
PRODUCT_TOPICS = {"products/create", "products/update", "product.created", "product.updated"}


def actor_for(connection: StoreConnection) -> Actor:
    return Actor(type="system", id=None, name=connection.platform.capitalize())


def list_connections(session: Session) -> list[StoreConnection]:
    return list(session.scalars(select(StoreConnection).order_by(StoreConnection.id)))


def get_connection(session: Session, *, connection_id: int) -> StoreConnection:
    connection = session.get(StoreConnection, connection_id)
    if connection is None or not connection.is_active:
        raise NotFound("No such store connection.")
    return connection


def connection_for_order(session: Session, *, order: Order) -> StoreConnection | None:
    return session.scalar(select(StoreConnection).where(
        StoreConnection.brand_id == order.brand_id, StoreConnection.platform == order.source,
        StoreConnection.is_active.is_(True)))


def upsert_orders(session: Session, *, connection: StoreConnection, exts: list[ExternalOrder]) -> list[Order]:
    """A page of orders: what they share (existing rows, numbers, catalogue, customers) is looked up once."""
    known = {o.external_id: o for o in session.scalars(select(Order).where(
        Order.brand_id == connection.brand_id, Order.source == connection.platform,
        Order.external_id.in_([e.external_id for e in exts])))}
    new = [e for e in exts if e.external_id not in known]
    prepared = service.prepare(
        session, actor=actor_for(connection), brand_id=connection.brand_id, numbers=[e.number for e in new],
        skus=[li.sku for e in new for li in e.lines], customers={e.email: e.customer_name for e in new if e.email},
    ) if new else None
    orders = [upsert_order(session, connection=connection, ext=e, existing=known.get(e.external_id),
                           prepared=prepared, looked_up=True) for e in exts]
    if prepared is not None:
        service.finish(session, prepared)
    return orders


def upsert_order(session: Session, *, connection: StoreConnection, ext: ExternalOrder, existing: Order | None = None,
                 prepared: service.Prepared | None = None, looked_up: bool = False) -> Order:
    order = existing if looked_up else session.scalar(select(Order).where(
        Order.brand_id == connection.brand_id, Order.source == connection.platform, Order.external_id == ext.external_id))
    actor = actor_for(connection)
    created = order is None
    if order is None:
        order = service.create_order(session, actor=actor, source=connection.platform, order_in=OrderCreate(
            brand=connection.brand_id, number=ext.number, currency=ext.currency, placed_at=ext.placed_at,
            customer={"email": ext.email, "name": ext.customer_name} if ext.email else None,
            lines=[{"sku": li.sku, "title": li.title, "quantity": li.quantity, "unit_price": li.unit_price,
                    "discount": li.discount, "tax": li.tax, "external_id": li.external_id} for li in ext.lines],
            shipping_total=ext.shipping_total, external_id=ext.external_id,
            shipping_address=ext.shipping_address or None,
        ), trust_paid=ext.paid_total, prepared=prepared)
    elif order.external_updated_at is not None and ext.updated_at <= order.external_updated_at:
        return order  # we already hold this version or a newer one
    order.external_updated_at = ext.updated_at
    if ext.shipping_address:
        order.shipping_address = ext.shipping_address
    if ext.cancelled and order.status != OrderStatus.cancelled:
        order.status, order.cancelled_at = OrderStatus.cancelled, order.cancelled_at or utcnow()
    if created and not (ext.shipments or ext.refunds):
        # The import's hot path: nothing of ours to reconcile; flushed with its batch (order.created is its event).
        if prepared is None:
            session.flush()
        return order
    if prepared is not None:
        service.finish(session, prepared)  # the shipments and refunds below need the order's ids
    _shipments(session, order, ext)
    _refunds(session, order, ext)
    session.flush()
    if created:
        return order
    events_service.record(session, verb="order.synced", actor=actor, subject_type="order", subject_id=order.id,
                          brand_id=order.brand_id, data={"platform": connection.platform, "external_id": ext.external_id,
                                                         "updated_at": ext.updated_at.isoformat()})
    return order


def _shipments(session: Session, order: Order, ext: ExternalOrder) -> None:
    by_external = {s.external_id: s for s in order.shipments}
    line_ids = {li.external_id: li.id for li in order.lines}
    for es in ext.shipments:
        shipment = by_external.get(es.external_id)
        if shipment is None:
            shipment = Shipment(order_id=order.id, external_id=es.external_id, carrier=es.carrier,
                                tracking_number=es.tracking_number, tracking_url=es.tracking_url,
                                shipped_at=es.shipped_at, status=es.status,
                                items=[{"line_id": line_ids[k], "quantity": q}
                                       for k, q in es.line_quantities.items() if k in line_ids])
            order.shipments.append(shipment)
        if shipment.status != es.status:
            shipment.events.append(TrackingEvent(occurred_at=utcnow(), status=es.status,
                                                 description=es.status.replace("_", " ").capitalize()))
            shipment.status = es.status
            if es.status == "delivered":
                shipment.delivered_at = utcnow()
    shipments._refresh_fulfillment(order)


def _refunds(session: Session, order: Order, ext: ExternalOrder) -> None:
    known = {r.external_id: r for r in service.refunds_for_order(session, order_id=order.id) if r.external_id}
    line_ids = {li.external_id: li.id for li in order.lines}
    for er in ext.refunds:
        if er.external_id in known or er.amount <= 0:
            continue
        # A refund Cartdesk asked for whose job has not recorded the shop's id yet: adopt it, never count twice.
        mine = session.scalar(select(Refund).where(
            Refund.order_id == order.id, Refund.external_id.is_(None), Refund.status == RefundStatus.pending,
            Refund.amount == er.amount).limit(1))
        if mine is not None:
            refunds_service.mark_succeeded(session, refund=mine, external_id=er.external_id)
            continue
        lines_amount = sum((a for _, a in er.line_quantities.values()), ZERO)
        session.add(Refund(
            order_id=order.id, amount=er.amount, shipping=max(er.amount - lines_amount, ZERO),
            currency=order.currency, method=RefundMethod.original_payment, status=RefundStatus.succeeded,
            reason=f"Refunded in {order.source.capitalize()}", external_id=er.external_id,
            created_at=er.created_at or utcnow(), processed_at=er.created_at or utcnow(),
            lines=[RefundLine(line_id=line_ids[k], quantity=q, amount=a)
                   for k, (q, a) in er.line_quantities.items() if k in line_ids],
        ))
    session.flush()
    holding = [r for r in service.refunds_for_order(session, order_id=order.id)
               if r.status in HOLDING_REFUND and r.status != RefundStatus.awaiting_approval]
    order.refunded_total = sum((r.amount for r in holding), ZERO)
    refunds_service.refresh_financial_status(order)


def upsert_product(session: Session, *, connection: StoreConnection, ext: ExternalProduct) -> Product:
    product = service.get_product_by_sku(session, brand_id=connection.brand_id, sku=ext.sku)
    if product is None:
        return service.create_product(session, actor=actor_for(connection), product_in=ProductCreate(
            brand=connection.brand_id, sku=ext.sku, title=ext.title[:300], description=ext.description,
            category=ext.category[:100], price=ext.price, external_id=ext.external_id,
            stock=[{"location": connection.platform, "quantity": max(0, ext.stock or 0)}] if ext.stock is not None else []))
    product.title, product.description, product.category = ext.title[:300], ext.description, ext.category[:100]
    product.price, product.external_id = ext.price, ext.external_id
    session.flush()
    return product


def upsert_customer(session: Session, *, connection: StoreConnection, raw: dict[str, Any]) -> None:
    email = raw.get("email") or (raw.get("billing") or {}).get("email")
    if not email:
        return
    name = " ".join(p for p in (raw.get("first_name"), raw.get("last_name")) if p) or None
    customers_service.get_or_create_by_identity(session, actor=actor_for(connection), kind=IdentityKind.email,
                                                value=email, name=name)


@dataclass
class ImportReport:
    customers: int = 0
    products: int = 0
    orders: int = 0
    pages: int = 0
    errors: list[str] = field(default_factory=list)


def run_import(transaction: Callable[[], Any], *, connection_id: int, connector_factory: Callable[..., Any],
               report: ImportReport | None = None) -> ImportReport:
    """Import everything updated since the last run, one transaction per page, so an import cut
    short keeps what it did and the next run carries on from the high-water mark. ``report``
    (given by the caller) still holds the counts when the shop fails half-way."""
    report = report if report is not None else ImportReport()
    with transaction() as session:
        connection = get_connection(session, connection_id=connection_id)
        since = connection.synced_until
        connector = connector_factory(connection)
    high = since
    try:
        # Customers are listed in full on the first import only (the platforms cannot all filter them by
        # change); after that, an order brings its customer along, and conversations create their own.
        for kind in ("customers", "products", "orders") if since is None else ("products", "orders"):
            for page in connector.pages(kind, since if kind != "customers" else None):
                with transaction() as session:
                    connection = get_connection(session, connection_id=connection_id)
                    if kind == "orders":
                        exts = [connector.to_order(raw) for raw in page]
                        upsert_orders(session, connection=connection, exts=exts)
                        report.orders += len(exts)
                        high = max([*(e.updated_at for e in exts), *([high] if high else [])], default=high)
                    else:
                        for raw in page:
                            high = _apply(session, connection, connector, kind, raw, report, high)
                    report.pages += 1
    finally:
        connector.http.close()
    with transaction() as session:
        get_connection(session, connection_id=connection_id).synced_until = high
    return report


def _apply(session: Session, connection: StoreConnection, connector: Any, kind: str, raw: dict[str, Any],
           report: ImportReport, high: datetime | None) -> datetime | None:
    if kind == "customers":
        upsert_customer(session, connection=connection, raw=raw)
        report.customers += 1
        return high
    if kind == "products":
        for ext in connector.to_product(raw):
            upsert_product(session, connection=connection, ext=ext)
            report.products += 1
            high = max(high, ext.updated_at) if high else ext.updated_at
        return high
    ext = connector.to_order(raw)
    upsert_order(session, connection=connection, ext=ext)
    report.orders += 1
    return max(high, ext.updated_at) if high else ext.updated_at


def record_delivery(session: Session, *, connection: StoreConnection, delivery_id: str, topic: str,
                    payload: dict[str, Any] | None = None) -> WebhookReceipt | None:
    """The new receipt the first time a delivery id is seen; None for a replay (nothing is applied twice)."""
    receipt = WebhookReceipt(connection_id=connection.id, delivery_id=delivery_id, topic=topic,
                             received_at=utcnow(), payload=payload)
    try:
        with session.begin_nested():
            session.add(receipt)
    except IntegrityError:
        return None
    return receipt


def apply_webhook(session: Session, *, connection: StoreConnection, connector: Any, topic: str,
                  payload: dict[str, Any]) -> str:
    """Apply one verified, first-time delivery. Topics that carry only part of an order
    (a refund, a fulfilment) are followed by a job that fetches the whole order."""
    if topic in ORDER_TOPICS:
        upsert_order(session, connection=connection, ext=connector.to_order(payload))
        return "order"
    if topic in REFETCH_TOPICS and payload.get("order_id"):
        from cartdesk.jobs import service as jobs_service

        jobs_service.enqueue(session, "commerce.order.refetch",
                             {"connection_id": connection.id, "order_external_id": str(payload["order_id"])})
        return "refetch"
    if topic in PRODUCT_TOPICS:
        for ext in connector.to_product(payload):
            upsert_product(session, connection=connection, ext=ext)
        return "product"
    return "ignored"
