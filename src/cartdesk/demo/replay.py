"""Playing demo plans through the real services, so the demo store is what agents would make."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Team, User
from cartdesk.auth.schemas import Principal, TeamCreate, UserCreate
from cartdesk.brands import service as brands_service
from cartdesk.brands.models import Brand
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation, Status
from cartdesk.conversations.schemas import ConversationCreate, ConversationUpdate, MessageCreate
from cartdesk.customers import service as customers_service
from cartdesk.customers.models import Customer, IdentityKind
from cartdesk.customers.schemas import CustomerCreate, IdentityIn
from cartdesk.demo.history import Backdater
from cartdesk.demo.people import (
    BRANDS,
    CUSTOMERS,
    TEAMS,
    USERS,
    customer_email,
    customer_handle,
    customer_phone,
)
from cartdesk.demo.plans import Plan
from cartdesk.events.schemas import Actor

DEMO_ACTOR = Actor(type="system", id=None, name="Demo seeder")


@dataclass
class Cast:
    """The demo's rows by their demo keys."""

    brands: dict[str, Brand] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    _principals: dict[str, Principal] = field(default_factory=dict)

    def principal(self, key: str) -> Principal:
        if key not in self._principals:
            self._principals[key] = auth_service.principal_for(self.users[key])
        return self._principals[key]


def create_staff(session: Session, clock: Backdater, *, at: datetime) -> Cast:
    """Brands, users and teams, as an admin would have set them up at ``at``."""
    cast = Cast()
    with clock.at(at) as touch:
        for brand in BRANDS:
            cast.brands[brand.slug] = brands_service.create(
                session, slug=brand.slug, name=brand.name, support_email=brand.support_email,
                website_url=brand.website_url, currency=brand.currency, timezone=brand.timezone, color=brand.color,
            )
        for demo_user in USERS:
            cast.users[demo_user.key] = auth_service.create_user(
                session, actor=DEMO_ACTOR,
                user_in=UserCreate(email=demo_user.email, name=demo_user.name, role=demo_user.role,
                                   password=demo_user.password),
            )
        for name, description in TEAMS.items():
            members = [cast.users[u.key].id for u in USERS if name in u.teams]
            cast.teams[name] = auth_service.create_team(
                session, actor=DEMO_ACTOR, team_in=TeamCreate(name=name, description=description, member_ids=members)
            )
        touch(*cast.brands.values(), *cast.users.values(), *cast.teams.values())
    return cast


def load_cast(session: Session) -> Cast:
    """The cast as stored (for a later transaction than the one that created it)."""
    cast = Cast()
    cast.brands = {b.slug: b for b in session.scalars(select(Brand).where(Brand.slug.in_([b.slug for b in BRANDS])))}
    by_email = {u.email: u for u in session.scalars(select(User).where(User.email.in_([u.email for u in USERS])))}
    cast.users = {u.key: by_email[u.email] for u in USERS}
    cast.teams = {t.name: t for t in session.scalars(select(Team).where(Team.name.in_(list(TEAMS))))}
    emails = {customer_email(i, c.name): i for i, c in enumerate(CUSTOMERS)}
    for customer in session.scalars(select(Customer).where(Customer.email.in_(list(emails)))):
        cast.customers[emails[customer.email]] = customer
    return cast


def create_customers(session: Session, clock: Backdater, cast: Cast, *, first_seen: dict[int, datetime]) -> None:
    """The curated customers, each created a little before they first wrote in."""
    for index, person in enumerate(CUSTOMERS):
        identities = []
        if person.channel == "social":
            identities.append(IdentityIn(kind=IdentityKind.instagram, value=customer_handle(index, person.name)))
        if person.channel == "chat":
            identities.append(IdentityIn(kind=IdentityKind.chat, value=f"visitor-{index:04d}"))
        custom = {"company": person.company} if person.company else {}
        at = first_seen[index] - timedelta(minutes=3)
        with clock.at(at) as touch:
            customer = customers_service.create(
                session, actor=DEMO_ACTOR,
                customer_in=CustomerCreate(
                    name=person.name, email=customer_email(index, person.name),
                    phone=customer_phone(index) if person.channel == "sms" or index % 3 == 0 else None,
                    language="en", is_vip=person.vip, custom_fields=custom, identities=identities,
                ),
            )
            touch(customer, *customer.identities)
        cast.customers[index] = customer


def play(session: Session, clock: Backdater, cast: Cast, plan: Plan) -> Conversation:
    """One conversation, step by step, through the services."""
    customer = cast.customers[plan.customer]
    first = plan.steps[0]
    with clock.at(first.at) as touch:
        conversation = conversations_service.create(
            session,
            actor=Actor(type="customer", id=customer.id, name=customer.display_name),
            conversation_in=ConversationCreate(
                customer={"id": customer.id}, subject=plan.subject, message={"body": first.text},
                channel=plan.channel, brand=cast.brands[plan.brand].id, priority=plan.priority, tags=list(plan.tags),
            ),
        )
        touch(conversation)
    for step in plan.steps[1:]:
        with clock.at(step.at) as touch:
            touch(conversation)
            _play_step(session, cast, conversation, customer, step)
    return conversation


def _play_step(session: Session, cast: Cast, conversation: Conversation, customer: Customer, step) -> None:  # type: ignore[no-untyped-def]
    if step.kind == "customer":
        conversations_service.receive_message(session, conversation=conversation, customer=customer, body=step.text)
    elif step.kind in ("reply", "note"):
        conversations_service.add_message(
            session, principal=cast.principal(step.user), conversation=conversation,
            message_in=MessageCreate(kind="reply" if step.kind == "reply" else "note", body=step.text,
                                     status=Status(step.status) if step.status else None),
        )
    elif step.kind == "assign":
        changes: dict[str, object] = {"team_id": cast.teams[step.team].id}
        if step.assignee:
            changes["assignee_id"] = cast.users[step.assignee].id
        conversations_service.update(
            session, principal=cast.principal(step.user), conversation=conversation,
            update_in=ConversationUpdate(**changes),
        )
    elif step.kind == "status":
        conversations_service.update(
            session, principal=cast.principal(step.user), conversation=conversation,
            update_in=ConversationUpdate(status=Status(step.status)),
        )
    else:
        raise ValueError(f"unknown step {step.kind}")
