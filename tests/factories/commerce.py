"""Store data for tests, made through the commerce services."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.commerce import service as commerce_service
from cartdesk.commerce import shipments
from cartdesk.commerce.models import Order, Product, ShipmentStatus
from cartdesk.commerce.schemas import OrderCreate, ProductCreate, ShipmentCreate, TrackingEventIn
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.clock import utcnow

_seq = itertools.count(1)

ADDRESS = {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH",
           "country": "GB"}


def make_product(session: Session, *, brand: Brand, sku: str | None = None, price: str = "25.00",
                 category: str = "Apparel", final_sale: bool = False, stock: int = 10, title: str | None = None) -> Product:
    n = next(_seq)
    return commerce_service.create_product(session, actor=SYSTEM, product_in=ProductCreate(
        brand=brand.id, sku=sku or f"SKU-{n}", title=title or f"Product {n}", category=category, price=Decimal(price),
        final_sale=final_sale, stock=[{"location": "main", "quantity": stock}],
    ))


def make_order(session: Session, *, brand: Brand, email: str | None = None, lines: list[dict[str, Any]] | None = None,
               shipping: str = "5.00", placed_at: datetime | None = None, number: str | None = None,
               customer_id: int | None = None, **extra: Any) -> Order:
    n = next(_seq)
    if lines is None:
        a = make_product(session, brand=brand, price="40.00")
        b = make_product(session, brand=brand, price="12.50")
        lines = [{"sku": a.sku, "quantity": 1}, {"sku": b.sku, "quantity": 3}]
    customer = {"id": customer_id} if customer_id else {"email": email or f"buyer{n}@example.org", "name": f"Buyer {n}"}
    return commerce_service.create_order(session, actor=SYSTEM, order_in=OrderCreate(
        brand=brand.id, number=number or f"{5000 + n}", customer=customer, lines=lines,
        shipping_total=Decimal(shipping), shipping_address=ADDRESS, placed_at=placed_at or utcnow(), **extra,
    ))


def ship(session: Session, *, order: Order, delivered_days_ago: int | None = None) -> None:
    """Ship the whole order; with ``delivered_days_ago`` it was delivered that many days ago."""
    shipped = utcnow() - timedelta(days=(delivered_days_ago or 0) + 3)
    events = [TrackingEventIn(occurred_at=shipped, status=ShipmentStatus.in_transit, description="Picked up",
                              location="Leeds")]
    if delivered_days_ago is not None:
        events.append(TrackingEventIn(occurred_at=utcnow() - timedelta(days=delivered_days_ago),
                                      status=ShipmentStatus.delivered, description="Delivered", location="London"))
    shipments.create_shipment(session, actor=SYSTEM, shipment_in=ShipmentCreate(
        order_id=order.id, carrier="Royal Mail", tracking_number=f"RM{next(_seq):09d}GB", shipped_at=shipped,
        events=events,
    ))
