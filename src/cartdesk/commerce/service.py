"""Catalogue, orders and shipments: creating them, reading them, keeping derived totals right.

Refunds live in ``refunds.py``, returns and their policy in ``returns.py``, and the
agent's order actions (cancel, address change, reship) in ``actions.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from cartdesk.brands import service as brands_service
from cartdesk.brands.models import Brand
from cartdesk.commerce.models import (
    DiscountCode,
    FinancialStatus,
    FulfillmentStatus,
    InventoryMovement,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Refund,
    Return,
    StockLevel,
    from_cents,
    sum_cents,
)
from cartdesk.commerce.schemas import OrderCreate, ProductCreate
from cartdesk.customers import service as customers_service
from cartdesk.customers.models import Customer, CustomerIdentity, IdentityKind
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, NotFound, ValidationFailed
from cartdesk.kit.money import ZERO, allocate, quantize
from cartdesk.kit.pagination import decode_cursor, encode_cursor

# --- products ----------------------------------------------------------------------


def get_product_by_sku(session: Session, *, brand_id: int, sku: str) -> Product | None:
    return session.scalar(select(Product).where(Product.brand_id == brand_id, Product.sku == sku))


def create_product(session: Session, *, actor: Actor, product_in: ProductCreate) -> Product:
    brand = brands_service.resolve(session, ref=product_in.brand)
    if get_product_by_sku(session, brand_id=brand.id, sku=product_in.sku) is not None:
        raise Conflict(f"SKU {product_in.sku} already exists in {brand.name}.", details={"field": "sku"})
    currency = (product_in.currency or brand.currency).upper()
    product = Product(
        brand_id=brand.id, sku=product_in.sku, title=product_in.title, description=product_in.description,
        category=product_in.category, price=quantize(product_in.price, currency), currency=currency,
        final_sale=product_in.final_sale, external_id=product_in.external_id,
    )
    session.add(product)
    session.flush()
    for level in product_in.stock:
        adjust_stock(session, product=product, location=level.location, delta=level.quantity, reason="initial")
    events_service.record(
        session, verb="product.created", actor=actor, subject_type="product", subject_id=product.id,
        brand_id=brand.id, data={"sku": product.sku, "price": str(product.price)},
    )
    return product


def adjust_stock(
    session: Session, *, product: Product, location: str, delta: int, reason: str,
    order_id: int | None = None, return_id: int | None = None,
) -> StockLevel:
    """Move stock and keep the movement that explains it. Stock may go negative (oversold)."""
    level = session.get(StockLevel, (product.id, location))
    if level is None:
        level = StockLevel(product_id=product.id, location=location, quantity=0)
        product.stock.append(level)  # loads the collection first, then adds the row through it
    level.quantity += delta
    session.add(InventoryMovement(
        product_id=product.id, location=location, delta=delta, reason=reason, order_id=order_id,
        return_id=return_id, created_at=utcnow(),
    ))
    session.flush()
    return level


def list_products(
    session: Session, *, brand_id: int | None = None, q: str | None = None, limit: int = 25, cursor: str | None = None
) -> tuple[Sequence[Product], str | None]:
    stmt = select(Product)
    if brand_id is not None:
        stmt = stmt.where(Product.brand_id == brand_id)
    if q:
        like = q.strip().replace("%", r"\%").replace("_", r"\_") + "%"
        stmt = stmt.where((Product.sku.like(like, escape="\\")) | (Product.title.ilike(like, escape="\\")))
    return _keyset(session, stmt, Product, limit=limit, cursor=cursor)


def _keyset(session: Session, stmt, model, *, limit: int, cursor: str | None):  # type: ignore[no-untyped-def]
    """Newest first by id; the cursor is the last id served."""
    if cursor:
        (last_id,) = decode_cursor(cursor, types=(int,))
        stmt = stmt.where(model.id < last_id)
    rows = session.scalars(stmt.order_by(model.id.desc()).limit(limit + 1)).all()
    return rows[:limit], (encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None)


# --- orders ------------------------------------------------------------------------


def get_order_or_raise(session: Session, *, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.", details={"order_id": order_id})
    return order


def get_order_by_number(session: Session, *, brand_id: int, number: str) -> Order | None:
    number = number.strip().lstrip("#")
    return session.scalar(select(Order).where(Order.brand_id == brand_id, Order.number == number))


def _order_customer(
    session: Session, *, actor: Actor, order_in: OrderCreate, prepared: Prepared | None = None
) -> Customer | None:
    data = order_in.customer or {}
    if data.get("id") is not None:
        return customers_service.get_or_raise(session, customer_id=int(data["id"]))
    email = data.get("email") or order_in.email
    if email and prepared is not None and str(email).lower() in prepared.customers:
        return prepared.customers[str(email).lower()]
    if email:
        customer, _ = customers_service.get_or_create_by_identity(
            session, actor=actor, kind=IdentityKind.email, value=str(email), name=data.get("name")
        )
        return customer
    return None


def _discount(session: Session, *, brand_id: int, code: str | None, subtotal: Decimal, currency: str) -> Decimal:
    """The order-level discount a code gives; it is spread over the lines so refunds stay exact."""
    if not code:
        return ZERO
    found = session.scalar(
        select(DiscountCode).where(DiscountCode.brand_id == brand_id, func.upper(DiscountCode.code) == code.upper())
    )
    if found is None or not found.is_active or (found.expires_at and found.expires_at < utcnow()):
        raise ValidationFailed(f"Discount code {code} is not valid.", details=[{"field": "discount_code"}])
    found.times_used += 1
    if found.kind == "percent":
        return min(subtotal, quantize(subtotal * found.value / 100, currency))
    return min(subtotal, found.value)


@dataclass
class Prepared:
    """What a batch of orders needs, looked up once for the batch (imports) instead of once per order:
    numbers already taken, catalogue products by SKU (None: not in the catalogue), customers by email."""

    numbers_taken: set[str] = field(default_factory=set)
    catalogue: dict[str, Product | None] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    brand: Brand | None = None
    # Orders added but not flushed yet: ``finish`` flushes them together and writes their events.
    pending: list[tuple[Order, Actor]] = field(default_factory=list)


def finish(session: Session, prepared: Prepared) -> None:
    if not prepared.pending:
        return
    session.flush()
    for order, actor in prepared.pending:
        _created(session, order=order, actor=actor)
    prepared.pending.clear()


def prepare(session: Session, *, actor: Actor, brand_id: int, numbers: list[str], skus: list[str],
            customers: dict[str, str | None]) -> Prepared:
    """Look up a batch's numbers, SKUs and customers (``customers``: email → name) in a few queries;
    customers not known yet are created."""
    prepared = Prepared(brand=brands_service.get_or_raise(session, brand_id=brand_id))
    prepared.numbers_taken = set(session.scalars(
        select(Order.number).where(Order.brand_id == brand_id, Order.number.in_(numbers))))
    found = {p.sku: p for p in session.scalars(
        select(Product).where(Product.brand_id == brand_id, Product.sku.in_(set(skus))))}
    prepared.catalogue = {sku: found.get(sku) for sku in skus}
    emails = {email.strip().lower(): name for email, name in customers.items() if email}
    rows = session.execute(
        select(CustomerIdentity.value, Customer).join(Customer, Customer.id == CustomerIdentity.customer_id)
        .where(CustomerIdentity.kind == IdentityKind.email, CustomerIdentity.value.in_(list(emails)))).all()
    prepared.customers = dict(rows)
    missing = {email: name for email, name in emails.items() if email not in prepared.customers}
    if missing:
        prepared.customers.update(customers_service.create_many_by_email(session, actor=actor, people=missing))
    return prepared


def create_order(
    session: Session, *, actor: Actor, order_in: OrderCreate, source: str = "cartdesk", trust_paid: Decimal | None = None,
    prepared: Prepared | None = None,
) -> Order:
    """Record an order. Totals are computed here, never taken on trust: each line's total is
    quantity × price − discount + tax, and the order total is the lines plus shipping."""
    brand = prepared.brand if prepared and prepared.brand else brands_service.resolve(session, ref=order_in.brand)
    number = order_in.number.strip().lstrip("#")
    taken = number in prepared.numbers_taken if prepared else \
        get_order_by_number(session, brand_id=brand.id, number=number) is not None
    if taken:
        raise Conflict(f"Order {order_in.number} already exists.", details={"field": "number"})
    currency = (order_in.currency or brand.currency).upper()
    lines = [_line(session, brand_id=brand.id, line_in=li, currency=currency, index=i, prepared=prepared)
             for i, li in enumerate(order_in.lines)]
    subtotal = sum((li.quantity * li.unit_price for li in lines), ZERO)
    code_discount = _discount(
        session, brand_id=brand.id, code=order_in.discount_code, subtotal=subtotal, currency=currency
    )
    for line, share in zip(lines, allocate(code_discount, [li.quantity * li.unit_price for li in lines], currency),
                           strict=True):
        line.discount += share
        line.total = line.quantity * line.unit_price - line.discount + line.tax
        if line.total < 0:
            raise ValidationFailed(f"Line {line.sku}: the discount is more than the line.", details=[{"field": "lines"}])
    total = sum((li.total for li in lines), ZERO) + order_in.shipping_total
    paid = total if order_in.paid_total is None else quantize(order_in.paid_total, currency)
    if trust_paid is not None:
        # A platform's own figure: its rounding may differ from ours by a cent; never above our total.
        paid = min(trust_paid, total)
    if paid > total:
        raise ValidationFailed("paid_total cannot be more than the order total.", details=[{"field": "paid_total"}])
    customer = _order_customer(session, actor=actor, order_in=order_in, prepared=prepared)
    order = Order(
        brand_id=brand.id, number=order_in.number.strip().lstrip("#"), customer_id=customer.id if customer else None,
        email=(str(order_in.email) if order_in.email else (customer.email if customer else None)),
        status=OrderStatus.open,
        financial_status=FinancialStatus.paid if paid == total else FinancialStatus.pending,
        fulfillment_status=FulfillmentStatus.unfulfilled, currency=currency, subtotal=subtotal,
        discount_total=sum((li.discount for li in lines), ZERO), tax_total=sum((li.tax for li in lines), ZERO),
        shipping_total=order_in.shipping_total, total=total, paid_total=paid, refunded_total=ZERO,
        discount_code=order_in.discount_code,
        shipping_address=order_in.shipping_address.model_dump() if order_in.shipping_address else {},
        billing_address=order_in.billing_address.model_dump() if order_in.billing_address else {},
        placed_at=order_in.placed_at or utcnow(), source=source, external_id=order_in.external_id,
        note=order_in.note, lines=lines,
    )
    if order.email:
        order.email = order.email.lower()
    session.add(order)
    if prepared is not None:
        # A batch (import): flushed and recorded together by ``finish``.
        prepared.numbers_taken.add(order.number)
        prepared.pending.append((order, actor))
        return order
    session.flush()
    _created(session, order=order, actor=actor)
    return order


def _created(session: Session, *, order: Order, actor: Actor) -> None:
    # Stock moves for orders taken here; a connected shop keeps its own inventory (its products sync it).
    if order.source == "cartdesk":
        for line in order.lines:
            if line.product_id is not None:
                product = session.get(Product, line.product_id)
                assert product is not None
                adjust_stock(session, product=product, location="main", delta=-line.quantity, reason="sale",
                             order_id=order.id)
    events_service.record(
        session, verb="order.created", actor=actor, subject_type="order", subject_id=order.id,
        brand_id=order.brand_id,
        data={"number": order.number, "total": str(order.total), "currency": order.currency, "source": order.source},
    )


def _line(session: Session, *, brand_id: int, line_in, currency: str, index: int,  # type: ignore[no-untyped-def]
          prepared: Prepared | None = None) -> OrderLine:
    if prepared is not None and line_in.sku in prepared.catalogue:
        product = prepared.catalogue[line_in.sku]
    else:
        product = get_product_by_sku(session, brand_id=brand_id, sku=line_in.sku)
    if product is None and (line_in.unit_price is None or not line_in.title):
        raise ValidationFailed(
            f"Line {index + 1}: SKU {line_in.sku} is not in the catalogue; give its title and unit_price.",
            details=[{"field": f"lines.{index}.sku"}],
        )
    unit_price = quantize(line_in.unit_price if line_in.unit_price is not None else product.price, currency)  # type: ignore[union-attr]
    return OrderLine(
        product_id=product.id if product else None, sku=line_in.sku,
        title=line_in.title or product.title,  # type: ignore[union-attr]
        category=line_in.category if line_in.category is not None else (product.category if product else ""),
        final_sale=line_in.final_sale if line_in.final_sale is not None else bool(product and product.final_sale),
        quantity=line_in.quantity, unit_price=unit_price, discount=quantize(line_in.discount, currency),
        tax=quantize(line_in.tax, currency), total=ZERO, external_id=line_in.external_id,
    )


def list_orders(
    session: Session, *, brand_id: int | None = None, customer_id: int | None = None, email: str | None = None,
    status: str | None = None, limit: int = 25, cursor: str | None = None,
) -> tuple[Sequence[Order], str | None]:
    stmt = select(Order)
    if brand_id is not None:
        stmt = stmt.where(Order.brand_id == brand_id)
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if email:
        stmt = stmt.where(Order.email == email.strip().lower())
    if status:
        stmt = stmt.where(Order.status == status)
    return _keyset(session, stmt, Order, limit=limit, cursor=cursor)


def of_customers(column: Any, ids: Sequence[int]) -> Any:
    """``column IN ids``, written ``column = id`` for the usual one customer: an expanding IN is
    re-rendered on every execution, which is a measurable part of the 360 panel's CPU time."""
    return column == ids[0] if len(ids) == 1 else column.in_(ids)


def customer_ids(session: Session, *, customer_id: int) -> list[int]:
    """The customer and everyone merged into them: one person's history whatever email they ordered with.
    Merging moves identities and conversations, not orders, so orders are found through this instead."""
    ids, frontier = [customer_id], [customer_id]
    while frontier and len(ids) < 100:
        frontier = list(session.scalars(select(Customer.id).where(of_customers(Customer.merged_into_id, frontier))))
        ids += frontier
    return ids


def orders_for_customer(
    session: Session, *, customer_id: int, limit: int = 10, ids: list[int] | None = None
) -> Sequence[Order]:
    """Newest first, with lines, shipments and their scans loaded in a few IN queries (the 360 panel)."""
    stmt = (select(Order).where(of_customers(Order.customer_id, ids or customer_ids(session, customer_id=customer_id)))
            .options(selectinload(Order.shipments))
            .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit))
    return session.scalars(stmt).all()


def refunds_for_orders(session: Session, *, order_ids: Sequence[int]) -> dict[int, list[Refund]]:
    out: dict[int, list[Refund]] = {i: [] for i in order_ids}
    if order_ids:
        for refund in session.scalars(select(Refund).where(Refund.order_id.in_(order_ids)).order_by(Refund.id)):
            out[refund.order_id].append(refund)
    return out


def lifetime_value(
    session: Session, *, customer_id: int, ids: list[int] | None = None
) -> tuple[Decimal, int, str | None]:
    """What the customer has paid, less refunds, and how many orders (cancelled ones count 0: they were
    refunded). One currency is assumed: a customer buying in two currencies is summed as one (known gap)."""
    row = session.execute(
        select(sum_cents(Order.paid_total - Order.refunded_total), func.count(Order.id), func.max(Order.currency))
        .where(of_customers(Order.customer_id, ids or customer_ids(session, customer_id=customer_id)))
    ).one()
    return from_cents(row[0]), int(row[1]), row[2]


def refunds_for_order(session: Session, *, order_id: int) -> Sequence[Refund]:
    return session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)).all()


def returns_for_order(session: Session, *, order_id: int) -> Sequence[Return]:
    return session.scalars(select(Return).where(Return.order_id == order_id).order_by(Return.id)).all()
