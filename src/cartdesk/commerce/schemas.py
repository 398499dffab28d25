"""API shapes for the store. Amounts are Decimal (JSON strings on the way out), two places at most."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from cartdesk.commerce.models import (
    FinancialStatus,
    FulfillmentStatus,
    OrderStatus,
    RefundMethod,
    RefundStatus,
    Resolution,
    ReturnStatus,
    ShipmentStatus,
    StoreCreditKind,
)

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class Address(BaseModel):
    name: str = Field(default="", max_length=200)
    line1: str = Field(min_length=1, max_length=300)
    line2: str = Field(default="", max_length=300)
    city: str = Field(min_length=1, max_length=120)
    region: str = Field(default="", max_length=120)
    postal_code: str = Field(default="", max_length=32)
    country: str = Field(min_length=2, max_length=2)
    phone: str = Field(default="", max_length=40)


class StockIn(BaseModel):
    location: str = Field(default="main", min_length=1, max_length=100)
    quantity: int = Field(ge=0)


class ProductCreate(BaseModel):
    brand: int | str
    sku: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    category: str = Field(default="", max_length=100)
    price: Money
    currency: Currency | None = None
    final_sale: bool = False
    stock: list[StockIn] = []
    external_id: str | None = None


class StockRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    location: str
    quantity: int


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    sku: str
    title: str
    description: str
    category: str
    price: Decimal
    currency: str
    final_sale: bool
    stock: list[StockRead]
    created_at: datetime


class LineIn(BaseModel):
    sku: str = Field(min_length=1, max_length=100)
    title: str | None = Field(default=None, max_length=300)
    quantity: int = Field(ge=1, le=100_000)
    unit_price: Money | None = None  # the product's price when left out
    discount: Money = Decimal("0")
    tax: Money = Decimal("0")
    category: str | None = None
    final_sale: bool | None = None
    external_id: str | None = None


class OrderCreate(BaseModel):
    brand: int | str
    number: str = Field(min_length=1, max_length=64)
    customer: dict[str, Any] | None = Field(default=None, description='{"email": ..., "name": ...} or {"id": 12}')
    email: EmailStr | None = None
    currency: Currency | None = None
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    shipping_total: Money = Decimal("0")
    discount_code: str | None = None
    paid_total: Money | None = Field(default=None, description="What was paid; the order total when left out")
    shipping_address: Address | None = None
    billing_address: Address | None = None
    placed_at: datetime | None = None
    note: str | None = None
    external_id: str | None = None

    @field_validator("placed_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("placed_at needs a time zone, e.g. 2026-05-01T10:00:00Z")
        return value


class LineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    sku: str
    title: str
    category: str
    final_sale: bool
    quantity: int
    unit_price: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    number: str
    customer_id: int | None
    email: str | None
    status: OrderStatus
    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    currency: str
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    shipping_total: Decimal
    total: Decimal
    paid_total: Decimal
    refunded_total: Decimal
    discount_code: str | None
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any]
    placed_at: datetime
    cancelled_at: datetime | None
    source: str
    replacement_of_id: int | None
    lines: list[LineRead]


class TrackingEventIn(BaseModel):
    occurred_at: datetime
    status: ShipmentStatus
    description: str = Field(min_length=1, max_length=300)
    location: str | None = Field(default=None, max_length=200)


class ShipmentItem(BaseModel):
    line_id: int
    quantity: int = Field(ge=1)


class ShipmentCreate(BaseModel):
    order_id: int
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=100)
    tracking_url: str | None = Field(default=None, max_length=500)
    items: list[ShipmentItem] | None = Field(default=None, description="All lines when left out")
    shipped_at: datetime | None = None
    estimated_delivery: datetime | None = None
    events: list[TrackingEventIn] = []


class TrackingEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    occurred_at: datetime
    status: ShipmentStatus
    description: str
    location: str | None


class ShipmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    order_id: int
    carrier: str
    tracking_number: str
    tracking_url: str | None
    status: ShipmentStatus
    items: list[dict[str, Any]]
    shipped_at: datetime | None
    estimated_delivery: datetime | None
    delivered_at: datetime | None
    events: list[TrackingEventRead]


class RefundLineIn(BaseModel):
    line_id: int
    quantity: int = Field(ge=1)
    amount: Money | None = Field(default=None, description="Less than the units' share, e.g. a goodwill part refund")


class RefundCreate(BaseModel):
    order_id: int
    lines: list[RefundLineIn] = []
    shipping: Money = Decimal("0")
    method: RefundMethod = RefundMethod.original_payment
    reason: str = Field(default="", max_length=300)
    conversation_id: int | None = None


class RefundLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    line_id: int
    quantity: int
    amount: Decimal


class RefundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    order_id: int
    amount: Decimal
    shipping: Decimal
    currency: str
    method: RefundMethod
    status: RefundStatus
    reason: str
    requested_by_id: int | None
    decided_by_id: int | None
    conversation_id: int | None
    return_id: int | None
    lines: list[RefundLineRead]
    created_at: datetime
    processed_at: datetime | None


class RefundDecision(BaseModel):
    decision: Literal["approve", "decline"]
    note: str = Field(default="", max_length=300)


class ReturnItemIn(BaseModel):
    line_id: int
    quantity: int = Field(default=1, ge=1)
    reason: str = Field(default="", max_length=64)
    condition: Literal["unopened", "opened", "used", "damaged"] = "unopened"


class ReturnCreate(BaseModel):
    order_id: int
    items: list[ReturnItemIn] = Field(min_length=1)
    resolution: Resolution = Resolution.refund
    reason: str = Field(default="", max_length=64)
    note: str | None = None
    conversation_id: int | None = None


class ReturnItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    line_id: int
    quantity: int
    reason: str
    condition: str


class ReturnRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    order_id: int
    rma: str
    status: ReturnStatus
    resolution: Resolution
    reason: str
    restocking_fee: Decimal
    requested_via: str
    items: list[ReturnItemRead]
    created_at: datetime


class ReturnTransition(BaseModel):
    status: Literal["approved", "received", "refunded", "rejected"]
    note: str = Field(default="", max_length=300)


class StoreCreditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    customer_id: int
    amount: Decimal
    currency: str
    kind: StoreCreditKind
    note: str
    refund_id: int | None
    order_id: int | None
    return_id: int | None
    created_at: datetime


class StoreCreditBalance(BaseModel):
    brand_id: int
    currency: str
    amount: Decimal


class StoreCreditRead(BaseModel):
    """A customer's balances (theirs and those of anyone merged into them) and latest entries."""

    balances: list[StoreCreditBalance]
    entries: list[StoreCreditEntryRead]


class StoreCreditAdjust(BaseModel):
    brand: int | str
    amount: Annotated[Decimal, Field(max_digits=14, decimal_places=2, description="Signed: + adds, − takes away")]
    currency: Currency
    note: str = Field(min_length=1, max_length=300)
    kind: Literal["adjusted", "redeemed"] = "adjusted"
