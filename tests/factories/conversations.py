from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from cartdesk.brands import service as brands_service
from cartdesk.brands.models import Brand
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation
from cartdesk.conversations.schemas import ConversationCreate
from cartdesk.events.schemas import SYSTEM

_seq = itertools.count(1)


def make_brand(session: Session, *, slug: str | None = None, name: str | None = None) -> Brand:
    n = next(_seq)
    return brands_service.create(session, slug=slug or f"brand-{n}", name=name or f"Brand {n}")


def make_conversation(session: Session, *, brand: Brand | None = None, email: str | None = None,
                      subject: str = "Where is my order?", body: str = "My parcel has not arrived yet.",
                      channel: str = "api", name: str | None = None) -> Conversation:
    n = next(_seq)
    brand = brand or make_brand(session)
    conversation = conversations_service.create(
        session, actor=SYSTEM,
        conversation_in=ConversationCreate(
            customer={"email": email or f"customer{n}@example.org", "name": name or f"Customer {n}"},
            subject=subject, message={"body": body}, channel=channel, brand=brand.id,
        ),
    )
    session.flush()  # as a request's commit would: its events are in the table before the test acts
    return conversation
