from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from cartdesk.customers import service as customers_service
from cartdesk.customers.models import Customer
from cartdesk.customers.schemas import CustomerCreate
from cartdesk.events.schemas import SYSTEM

_seq = itertools.count(1)


def make_customer(session: Session, *, name: str | None = None, email: str | None = None,
                  phone: str | None = None) -> Customer:
    n = next(_seq)
    return customers_service.create(
        session, actor=SYSTEM,
        customer_in=CustomerCreate(name=name or f"Customer {n}", email=email or f"person{n}@example.net", phone=phone),
    )
