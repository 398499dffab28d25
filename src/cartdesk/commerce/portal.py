"""The customer portal's rules: finding an order by number and email, and signed order links.

A customer proves who they are by knowing both the order number and the email on it, or
by holding a signed link. Wrong number and wrong email fail the same way (and take the
same queries), so the portal never tells a guesser which part was right. Links are
signed with the app's secret (itsdangerous) and expire; they name the order and the
email it was found with, so a link stops working if the order's email changes.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.commerce import service
from cartdesk.commerce.models import Order
from cartdesk.conversations.models import Conversation

SALT = "cartdesk.portal.order"
NOT_FOUND = "We couldn't find an order with that number and email. Check both and try again."


def find_order(session: Session, *, brand: Brand, number: str, email: str) -> Order | None:
    """The order only when number and email both match; otherwise None, the same either way."""
    number = number.strip().lstrip("#")
    email = email.strip().lower()
    if not number or not email:
        return None
    order = session.scalar(select(Order).where(Order.brand_id == brand.id, Order.number == number))
    if order is None or (order.email or "").lower() != email:
        return None
    return order


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def sign(secret: str, *, order: Order) -> str:
    return _serializer(secret).dumps({"o": order.id, "e": (order.email or "").lower()})


def resolve(session: Session, *, secret: str, token: str, brand: Brand, max_age: int) -> Order | None:
    """The order a link stands for, or None when the link is forged, expired, or for another brand."""
    try:
        data = _serializer(secret).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict):
        return None
    order = session.get(Order, data.get("o"))
    if order is None or order.brand_id != brand.id or (order.email or "").lower() != data.get("e"):
        return None
    return order


def conversations_for(session: Session, *, brand_id: int, customer_id: int | None, limit: int = 20) -> list[Conversation]:
    if customer_id is None:
        return []
    ids = service.customer_ids(session, customer_id=customer_id)
    return list(session.scalars(
        select(Conversation).where(Conversation.customer_id.in_(ids), Conversation.brand_id == brand_id,
                                   Conversation.merged_into_id.is_(None))
        .order_by(Conversation.last_activity_at.desc()).limit(limit)).unique())
