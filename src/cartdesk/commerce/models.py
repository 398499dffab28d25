"""The store's records: catalogue, orders, shipments, returns and refunds.

Money columns are :class:`Amount`: a Decimal stored as integer cents, exact on
SQLite and PostgreSQL alike (SQLite has no decimal type), so sums in SQL are exact
too. Every order carries its currency; its lines, refunds and returns use it.

Derived values kept on the order for cheap reads (``refunded_total``,
``financial_status``, ``fulfillment_status``) are only changed by ``service.py``
and its siblings, in the same transaction as the rows they summarise.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    type_coerce,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cartdesk.auth.models import User
from cartdesk.db.base import Base, TimestampMixin

_CENT = Decimal("0.01")


class Amount(TypeDecorator[Decimal]):
    """A Decimal with two places stored as integer cents; more precision is refused, never rounded away."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money is Decimal, never float")
        cents = Decimal(value) * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"{value} has more than two decimal places")
        return int(cents)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else (Decimal(value) / 100).quantize(_CENT)


def sum_cents(expr: Any) -> Any:
    """SUM over Amount columns as raw integer cents (SQLAlchemy types the sum of a column
    but not of an expression, so both are made explicit); read with :func:`from_cents`."""
    return type_coerce(func.coalesce(func.sum(type_coerce(expr, BigInteger())), 0), BigInteger())


def from_cents(value: Any) -> Decimal:
    return (Decimal(int(value or 0)) / 100).quantize(_CENT)


class OrderStatus(enum.StrEnum):
    open = "open"
    cancelled = "cancelled"
    closed = "closed"  # fully delivered and settled


class FinancialStatus(enum.StrEnum):
    pending = "pending"
    paid = "paid"
    partially_refunded = "partially_refunded"
    refunded = "refunded"
    voided = "voided"  # cancelled before any money was taken


class FulfillmentStatus(enum.StrEnum):
    unfulfilled = "unfulfilled"
    partial = "partial"
    fulfilled = "fulfilled"


class ShipmentStatus(enum.StrEnum):
    label_created = "label_created"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    exception = "exception"  # lost, damaged, held
    returned = "returned"  # back to sender


class ReturnStatus(enum.StrEnum):
    requested = "requested"
    approved = "approved"
    received = "received"
    refunded = "refunded"
    rejected = "rejected"


class Resolution(enum.StrEnum):
    refund = "refund"
    exchange = "exchange"
    store_credit = "store_credit"


class RefundStatus(enum.StrEnum):
    awaiting_approval = "awaiting_approval"  # above the requester's limit; a supervisor decides
    pending = "pending"  # approved; being carried out in the shop
    succeeded = "succeeded"
    failed = "failed"
    declined = "declined"  # a supervisor said no


# A refund in one of these states holds its amount against the order: nothing else may take it.
HOLDING_REFUND = (RefundStatus.awaiting_approval, RefundStatus.pending, RefundStatus.succeeded)


class RefundMethod(enum.StrEnum):
    original_payment = "original_payment"
    store_credit = "store_credit"
    manual = "manual"


class Product(TimestampMixin, Base):
    """A catalogue item. ``final_sale`` items can never be returned; ``category`` feeds the return policy."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("brand_id", "sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    price: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    final_sale: Mapped[bool] = mapped_column(default=False)
    external_id: Mapped[str | None] = mapped_column(String(100))

    stock: Mapped[list[StockLevel]] = relationship(lazy="selectin", order_by="StockLevel.location")

    @property
    def stock_total(self) -> int:
        return sum(s.quantity for s in self.stock)


class StockLevel(Base):
    """How many of a product are on hand at one location; moved only with an :class:`InventoryMovement`."""

    __tablename__ = "stock_levels"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    location: Mapped[str] = mapped_column(String(100), primary_key=True)
    quantity: Mapped[int] = mapped_column(default=0)


class InventoryMovement(Base):
    """One change to a stock level and why (sale, restock, return, adjustment, import)."""

    __tablename__ = "inventory_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    location: Mapped[str] = mapped_column(String(100))
    delta: Mapped[int]
    reason: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class DiscountCode(TimestampMixin, Base):
    """A code customers type at checkout: ``percent`` off, or a ``fixed`` amount in ``currency``."""

    __tablename__ = "discount_codes"
    __table_args__ = (UniqueConstraint("brand_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # "percent" | "fixed"
    value: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str | None] = mapped_column(String(3))
    is_active: Mapped[bool] = mapped_column(default=True)
    times_used: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime | None]


class Order(TimestampMixin, Base):
    """One order. ``total = Σ line totals + shipping_total``; each line total already has its
    discount taken off and its tax added. ``paid_total`` is what the customer paid and is the
    ceiling for refunds; ``refunded_total`` sums the refunds that hold money (see HOLDING_REFUND
    — a refund awaiting approval already reserves its amount)."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("brand_id", "number"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        Index("ix_orders_placed", "placed_at", "id"),
        Index("ix_orders_email", "email"),
        Index("ix_orders_source_external", "source", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    number: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[OrderStatus] = mapped_column(String(16), default=OrderStatus.open)
    financial_status: Mapped[FinancialStatus] = mapped_column(String(24), default=FinancialStatus.paid)
    fulfillment_status: Mapped[FulfillmentStatus] = mapped_column(String(16), default=FulfillmentStatus.unfulfilled)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Amount)
    discount_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0"))
    tax_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0"))
    shipping_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Amount)
    paid_total: Mapped[Decimal] = mapped_column(Amount)
    refunded_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0"))
    discount_code: Mapped[str | None] = mapped_column(String(64))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    billing_address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    placed_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    # Where the order lives: "cartdesk" (pushed through our API or CSV) or a connector's name.
    source: Mapped[str] = mapped_column(String(32), default="cartdesk")
    external_id: Mapped[str | None] = mapped_column(String(100))
    # The platform's updated_at of the version we hold: an older webhook never overwrites a newer one.
    external_updated_at: Mapped[datetime | None]
    replacement_of_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    note: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", lazy="selectin", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    shipments: Mapped[list[Shipment]] = relationship(lazy="select", order_by="Shipment.id")

    @property
    def refundable_total(self) -> Decimal:
        return self.paid_total - self.refunded_total


class OrderLine(Base):
    """One product line. ``total = quantity × unit_price − discount + tax`` (checked on create)."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(100), default="")
    final_sale: Mapped[bool] = mapped_column(default=False)
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Amount)
    discount: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0"))
    tax: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Amount)
    external_id: Mapped[str | None] = mapped_column(String(100))

    order: Mapped[Order] = relationship(back_populates="lines")


class Shipment(TimestampMixin, Base):
    """A parcel for some of an order's lines (``items``: [{"line_id", "quantity"}])."""

    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_order", "order_id"), Index("ix_shipments_tracking", "tracking_number"))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[ShipmentStatus] = mapped_column(String(24), default=ShipmentStatus.label_created)
    items: Mapped[list[Any]] = mapped_column(default=list)
    shipped_at: Mapped[datetime | None]
    estimated_delivery: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(100))

    events: Mapped[list[TrackingEvent]] = relationship(
        lazy="selectin", order_by="TrackingEvent.occurred_at", cascade="all, delete-orphan"
    )


class TrackingEvent(Base):
    """One scan of a parcel, as the carrier reported it."""

    __tablename__ = "tracking_events"
    __table_args__ = (Index("ix_tracking_events_shipment", "shipment_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    status: Mapped[ShipmentStatus] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(String(300))
    location: Mapped[str | None] = mapped_column(String(200))


class Return(TimestampMixin, Base):
    """A return (RMA). Moves requested → approved → received → refunded, or → rejected.
    ``rma`` is unguessable enough to print on a label, unique across brands."""

    __tablename__ = "returns"
    __table_args__ = (UniqueConstraint("rma"), Index("ix_returns_order", "order_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    rma: Mapped[str] = mapped_column(String(32))
    status: Mapped[ReturnStatus] = mapped_column(String(16), default=ReturnStatus.requested)
    resolution: Mapped[Resolution] = mapped_column(String(16), default=Resolution.refund)
    reason: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str | None] = mapped_column(Text)
    restocking_fee: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0"))
    requested_via: Mapped[str] = mapped_column(String(16), default="agent")  # agent | portal | api
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    received_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    items: Mapped[list[ReturnItem]] = relationship(
        lazy="selectin", order_by="ReturnItem.id", cascade="all, delete-orphan"
    )


class ReturnItem(Base):
    """One line being sent back, its condition, and the policy's decision with its reason."""

    __tablename__ = "return_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    reason: Mapped[str] = mapped_column(String(64), default="")
    condition: Mapped[str] = mapped_column(String(32), default="unopened")


class Refund(Base):
    """Money going back. ``amount`` is the whole refund: the sum of its lines plus ``shipping``.
    ``requested_by``/``decided_by`` are users; ``conversation_id`` is the thread that hears of it."""

    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_order", "order_id"), Index("ix_refunds_status", "status", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Amount)
    shipping: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[RefundMethod] = mapped_column(String(24), default=RefundMethod.original_payment)
    status: Mapped[RefundStatus] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(300), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]

    lines: Mapped[list[RefundLine]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    order: Mapped[Order] = relationship(lazy="select")
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id], lazy="select")


class RefundLine(Base):
    """How much of one order line a refund gives back (``quantity`` units, ``amount`` money)."""

    __tablename__ = "refund_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Amount)


class RefundLimit(Base):
    """The most a role may refund at once without a supervisor's approval, set by admins.
    No row for a role means no limit (admins and supervisors by default)."""

    __tablename__ = "refund_limits"

    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Amount)
    updated_at: Mapped[datetime | None]


class StoreConnection(TimestampMixin, Base):
    """A shop on an outside platform (``platform``: shopify | woocommerce) feeding one brand.

    ``credentials_enc`` holds, encrypted (``commerce/credentials.py``), what the platform's API
    wants (an Admin API access token; a WooCommerce consumer key and secret) as JSON;
    ``webhook_secret_enc``, encrypted too, verifies the signatures of its webhooks. Neither is
    ever stored or logged in the clear. ``is_active`` false means disconnected: no sync, no
    webhooks; the orders imported from the shop stay.
    ``synced_until`` is the incremental import's high-water mark (the platform's updated_at);
    ``last_sync_at`` / ``last_error`` / ``imported_*`` tell admins how the last syncs went."""

    __tablename__ = "store_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(500))
    credentials_enc: Mapped[str] = mapped_column(Text)
    webhook_secret_enc: Mapped[str] = mapped_column(Text)
    synced_until: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    imported_customers: Mapped[int] = mapped_column(default=0)
    imported_products: Mapped[int] = mapped_column(default=0)
    imported_orders: Mapped[int] = mapped_column(default=0)


class WebhookReceipt(Base):
    """A webhook delivery, by the platform's delivery id: a replay is a no-op.

    The verified body waits in ``payload`` until a job applies it (``applied_at``), so the
    request never waits on our database work or on the shop's API; once applied the body is
    dropped (it holds customers' addresses) and the row stays only to recognise replays."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (UniqueConstraint("connection_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("store_connections.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(index=True)  # the purge job deletes by age
    payload: Mapped[dict[str, Any] | None]
    applied_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))


class StoreCreditKind(enum.StrEnum):
    issued = "issued"  # a return settled as store credit (refund_id says which)
    redeemed = "redeemed"  # spent on an order (pushed through the API by the store)
    adjusted = "adjusted"  # an admin's correction, either sign


class StoreCreditEntry(Base):
    """One movement on a customer's store credit with a brand: the ledger is append-only.

    ``amount`` is signed (issued > 0, redeemed < 0) in ``currency``; a customer's balance is the
    sum of their entries per brand and currency, derived, never stored. ``refund_id`` is unique:
    a store-credit refund issues its credit once, however often its success is recorded."""

    __tablename__ = "store_credit_entries"
    __table_args__ = (
        Index("ix_store_credit_entries_customer", "customer_id", "created_at"),
        UniqueConstraint("refund_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[StoreCreditKind] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(300), default="")
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
