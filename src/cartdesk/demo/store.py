"""The demo store's shop: a catalogue per brand and orders for the curated customers in every
state — delivered (returnable or past the window), on its way, not yet shipped, cancelled,
partly refunded, returned — with carrier tracking, a return or two, and one refund above an
agent's limit waiting in the supervisor's approval queue. Everything goes through the services.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.commerce import actions, refunds, returns, shipments
from cartdesk.commerce import service as commerce_service
from cartdesk.commerce.models import DiscountCode, Order, ReturnStatus, ShipmentStatus
from cartdesk.commerce.schemas import (
    OrderCreate,
    ProductCreate,
    RefundCreate,
    ReturnCreate,
    ShipmentCreate,
    TrackingEventIn,
)
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation
from cartdesk.demo import catalog
from cartdesk.demo.history import Backdater
from cartdesk.demo.people import BRANDS
from cartdesk.demo.plans import _TRACKING
from cartdesk.demo.replay import DEMO_ACTOR, Cast

PRICES = {"northwind": (189, 329, 89, 72, 159, 399, 139, 79, 119, 99, 249, 69),
          "lumen-loom": (129, 59, 149, 139, 45, 179, 39, 35)}
CATEGORIES = {"northwind": ("Outerwear", "Outerwear", "Packs", "Base layers", "Footwear", "Camping", "Footwear",
                            "Fleece", "Outerwear", "Pants", "Camping", "Accessories"),
              "lumen-loom": ("Bedding", "Bath", "Throws", "Bedding", "Table", "Bedding", "Table", "Cushions")}
# What each customer's orders look like, cycled: days since the order, and what happened to it.
STORIES = (
    (6, "delivered"), (45, "delivered"), (3, "in_transit"), (1, "unfulfilled"), (20, "returned"),
    (12, "partly_refunded"), (2, "cancelled"), (9, "lost"), (30, "delivered"),
)
HUBS = {"northwind": ("Reno, NV", "Salt Lake City, UT", "Denver, CO"),
        "lumen-loom": ("Tilburg, NL", "Utrecht, NL", "Amsterdam, NL")}


# The order a thread is about, by the thread's tags: what state makes the conversation make sense.
TAG_STORIES = {
    "where-is-my-order": (4, "in_transit"), "damaged": (5, "delivered"), "exchange": (10, "delivered"),
    "refund": (20, "returned"), "address-change": (1, "unfulfilled"), "cancellation": (1, "unfulfilled"),
    "missing-item": (5, "delivered"), "warranty": (90, "delivered"), "discount": (2, "partly_refunded"),
}


def seed_store(session: Session, clock: Backdater, cast: Cast, *, rng: random.Random, now: datetime) -> int:
    """Returns how many orders were made. A customer's latest thread that names an order number (and a
    product) gets that very order, in the state the thread talks about."""
    refunds.set_limit(session, actor=DEMO_ACTOR, role="agent", amount=Decimal("100"))
    for brand in BRANDS:
        _catalogue(session, cast, brand.slug, brand.codes)
    made, used = 0, set()
    for index, customer in cast.customers.items():
        conversation = session.scalar(select(Conversation).where(Conversation.customer_id == customer.id)
                                      .order_by(Conversation.id.desc()).limit(1))
        brand_row = conversation.brand if conversation else cast.brands[BRANDS[0].slug]
        brand = next(b for b in BRANDS if b.slug == brand_row.slug)
        number, product, story, carrier = _from_thread(session, conversation, brand) if conversation \
            else (None, None, None, (None, None))
        for k in range(1 + (index % 3)):
            days, kind = STORIES[(index + k * 4) % len(STORIES)]
            mine = k == 0 and number is not None and number not in used
            if mine:
                used.add(number)
                days, kind = story or (days, kind)
            _order(session, cast, rng, brand=brand, customer_id=customer.id, days=days, story=kind, now=now,
                   conversation_id=conversation.id if conversation and k == 0 else None, seq=index * 10 + k,
                   number=number if mine else None, product=product if mine else None,
                   carrier=carrier if mine else (None, None))
            made += 1
    return made


def _from_thread(session: Session, conversation: Conversation, brand):  # type: ignore[no-untyped-def]
    text = " ".join([conversation.subject, *(m.body_text for m in conversations_service.list_messages(
        session, conversation_id=conversation.id))])
    found = re.search(rf"\b{brand.order_prefix}-(\d{{5}})\b", text)
    titles = [t.lower() for t in catalog.PRODUCTS[brand.slug][:-1]]  # the last one is the final-sale item
    product = next((i for i, t in enumerate(titles) if t in text.lower()), None)
    story = next((TAG_STORIES[t] for t in conversation.tag_names if t in TAG_STORIES), None)
    carrier = next((c for c in brand.carriers if re.search(rf"\b{c}\b", text)), None)
    tracking = None
    if carrier is not None:
        prefix, digits = _TRACKING[carrier]
        match = re.search(rf"\b{re.escape(prefix)}\d{{{digits}}}\b", text)
        tracking = match.group(0) if match else None
    return (f"{brand.order_prefix}-{found.group(1)}" if found else None), product, story, (carrier, tracking)


def _catalogue(session: Session, cast: Cast, slug: str, codes: tuple[str, ...]) -> None:
    brand = cast.brands[slug]
    for i, title in enumerate(catalog.PRODUCTS[slug]):
        commerce_service.create_product(session, actor=DEMO_ACTOR, product_in=ProductCreate(
            brand=brand.id, sku=f"{slug[:2].upper()}-{1000 + i}", title=title[:1].upper() + title[1:],
            category=CATEGORIES[slug][i], price=Decimal(PRICES[slug][i]) - Decimal("0.01") * (i % 2),
            final_sale=i == len(catalog.PRODUCTS[slug]) - 1, currency=brand.currency,
            stock=[{"location": "Main warehouse", "quantity": 40 + i * 3}],
        ))
    session.add(DiscountCode(brand_id=brand.id, code=codes[0], kind="percent", value=Decimal("15")))
    session.flush()


def _order(session: Session, cast: Cast, rng: random.Random, *, brand, customer_id: int, days: int, story: str,  # type: ignore[no-untyped-def]
           now: datetime, conversation_id: int | None, seq: int, number: str | None = None,
           product: int | None = None, carrier: tuple[str | None, str | None] = (None, None)) -> Order:
    placed = now - timedelta(days=days, hours=rng.randrange(1, 20))
    products = catalog.PRODUCTS[brand.slug]
    picks = rng.sample(range(len(products) - 1), k=1 + seq % 2)
    if product is not None:
        picks = [product, *[p for p in picks if p != product]][:2]
    lines = [{"sku": f"{brand.slug[:2].upper()}-{1000 + i}", "quantity": 1 + (i + seq) % 2} for i in picks]
    customer = cast.customers[next(k for k, c in cast.customers.items() if c.id == customer_id)]
    order = commerce_service.create_order(session, actor=DEMO_ACTOR, order_in=OrderCreate(
        brand=cast.brands[brand.slug].id, number=number or f"{brand.order_prefix}-{11000 + seq}", customer={"id": customer_id},
        currency=brand.currency, lines=lines, shipping_total=Decimal("7.95") if seq % 3 else Decimal("0"),
        discount_code=brand.codes[0] if seq % 5 == 0 else None, placed_at=placed,
        shipping_address={"name": customer.display_name, "line1": rng.choice(catalog.STREETS),
                          "city": rng.choice(catalog.CITIES), "postal_code": f"{rng.randrange(10000, 99999)}",
                          "country": "US" if brand.currency == "USD" else "NL"},
    ))
    agent = cast.principal("tom")
    if story == "unfulfilled":
        return order
    if story == "cancelled":
        actions.cancel_order(session, principal=agent, order=order, reason="Ordered the wrong size")
        return order
    _ship(session, rng, order, brand, placed=placed, now=now, story=story, carrier=carrier)
    if story == "returned":
        ret = returns.create_return(session, actor=DEMO_ACTOR, order=order, via="portal", now=placed + timedelta(days=8),
                                    return_in=ReturnCreate(order_id=order.id, reason="too_small",
                                                           items=[{"line_id": order.lines[0].id}]))
        supervisor = cast.principal("supervisor")
        returns.transition(session, principal=supervisor, ret=ret, status=ReturnStatus.received)
        returns.transition(session, principal=supervisor, ret=ret, status=ReturnStatus.refunded)
    elif story == "partly_refunded":
        line = order.lines[0]
        refunds.request_refund(session, principal=agent, order=order, refund_in=RefundCreate(
            order_id=order.id, lines=[{"line_id": line.id, "quantity": 1, "amount": min(Decimal("20"), line.total)}],
            reason="Price adjustment: went on sale a day later"))
    elif story == "lost" and conversation_id is not None:
        # Above Tom's limit: waits for Marcus in the approval queue.
        refund = refunds.request_refund(session, principal=agent, order=order, refund_in=RefundCreate(
            order_id=order.id, lines=[{"line_id": li.id, "quantity": li.quantity} for li in order.lines],
            reason="Parcel lost by the carrier"))
        # Linked after the fact: the seeded threads were written without this order, so no system
        # line is added to them (it would also move their activity to the seeding time).
        refund.conversation_id = conversation_id
    return order


def _ship(session: Session, rng: random.Random, order: Order, brand, *, placed: datetime, now: datetime,  # type: ignore[no-untyped-def]
          story: str, carrier: tuple[str | None, str | None] = (None, None)) -> None:
    hubs = HUBS[brand.slug]
    named, tracking = carrier
    carrier = named or rng.choice(brand.carriers)
    shipped = placed + timedelta(hours=20)
    steps = [(shipped, ShipmentStatus.label_created, "Label created", hubs[0]),
             (shipped + timedelta(hours=6), ShipmentStatus.in_transit, "Picked up by carrier", hubs[0]),
             (shipped + timedelta(days=1), ShipmentStatus.in_transit, "Arrived at sorting facility", hubs[1])]
    if story == "lost":
        steps.append((shipped + timedelta(days=2), ShipmentStatus.exception, "Delayed: parcel could not be located", hubs[1]))
    elif story != "in_transit":
        steps += [(shipped + timedelta(days=2), ShipmentStatus.out_for_delivery, "Out for delivery", hubs[2]),
                  (shipped + timedelta(days=2, hours=5), ShipmentStatus.delivered, "Delivered, left at front door", hubs[2])]
    shipments.create_shipment(session, actor=DEMO_ACTOR, shipment_in=ShipmentCreate(
        order_id=order.id, carrier=carrier,
        tracking_number=tracking or f"{carrier[:2].upper()}{rng.randrange(10**9, 10**10)}",
        shipped_at=shipped, estimated_delivery=shipped + timedelta(days=3),
        events=[TrackingEventIn(occurred_at=at, status=status, description=text, location=where)
                for at, status, text, where in steps if at <= now],
    ))
