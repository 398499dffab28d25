"""Customers: finding them by any address, creating, updating and merging."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cartdesk.customers.models import Customer, CustomerIdentity, IdentityKind
from cartdesk.customers.schemas import CustomerCreate, CustomerUpdate, IdentityIn
from cartdesk.db.session import insert_now
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, NotFound, ValidationFailed
from cartdesk.kit.pagination import decode_cursor, encode_cursor


def normalise(kind: IdentityKind | str, value: str) -> str:
    value = value.strip()
    if kind == IdentityKind.email:
        return value.lower()
    if kind in (IdentityKind.phone, IdentityKind.whatsapp):
        digits = re.sub(r"[^\d+]", "", value)
        return digits if digits.startswith("+") else "+" + digits
    if kind == IdentityKind.twitter:
        return value.lstrip("@").lower()
    return value


def get(session: Session, *, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id)


def get_or_raise(session: Session, *, customer_id: int, follow_merge: bool = True) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.deleted_at is not None:
        raise NotFound(f"Customer {customer_id} does not exist.", details={"customer_id": customer_id})
    # An absorbed customer resolves to the survivor so old links keep working.
    seen = 0
    while follow_merge and customer.merged_into_id is not None and seen < 10:
        customer = session.get(Customer, customer.merged_into_id)  # type: ignore[assignment]
        seen += 1
    return customer


# Built once: inbound mail and chat look customers up on every message.
_BY_IDENTITY = select(CustomerIdentity.customer_id).where(
    CustomerIdentity.kind == bindparam("kind"), CustomerIdentity.value == bindparam("value")
)


def find_by_identity(session: Session, *, kind: IdentityKind, value: str) -> Customer | None:
    session.flush()  # the lookup goes around the ORM, so pending identities must be in the table
    customer_id = session.connection().execute(
        _BY_IDENTITY, {"kind": str(kind), "value": normalise(kind, value)}
    ).scalar()
    return session.get(Customer, customer_id) if customer_id is not None else None


def get_or_create_by_identity(
    session: Session, *, actor: Actor, kind: IdentityKind, value: str, name: str | None = None,
    known_absent: bool = False, now: bool = False,
) -> tuple[Customer, bool]:
    """The customer known by this address, created on first contact. Returns (customer, created).

    ``known_absent``: the caller's :func:`find_by_identity` in this transaction found nobody.
    ``now=True``: a new customer is inserted at once (see :func:`create`)."""
    existing = None if known_absent else find_by_identity(session, kind=kind, value=value)
    if existing is not None:
        if name and not existing.name:
            existing.name = name
        return existing, False
    customer_in = CustomerCreate(name=name)
    if kind == IdentityKind.email:
        customer_in.email = normalise(kind, value)
    elif kind == IdentityKind.phone:
        customer_in.phone = normalise(kind, value)
    else:
        customer_in.identities = [IdentityIn(kind=kind, value=value)]
    return create(session, actor=actor, customer_in=customer_in, identities_checked=True, now=now), True


def create(
    session: Session, *, actor: Actor, customer_in: CustomerCreate, identities_checked: bool = False,
    now: bool = False,
) -> Customer:
    """A new customer with their identities, flushed. ``now=True`` inserts the rows at once
    with prebuilt Core statements instead (``insert_now``), cheaper than any flush (a
    conversation opened through the API)."""
    identities = [(i.kind, normalise(i.kind, i.value)) for i in customer_in.identities]
    if customer_in.email:
        identities.append((IdentityKind.email, normalise(IdentityKind.email, str(customer_in.email))))
    if customer_in.phone:
        identities.append((IdentityKind.phone, normalise(IdentityKind.phone, customer_in.phone)))
    identities = list(dict.fromkeys(identities))
    if not identities_checked:
        _check_identities_free(session, identities)
    customer = Customer(
        name=customer_in.name,
        email=normalise(IdentityKind.email, str(customer_in.email)) if customer_in.email else None,
        phone=normalise(IdentityKind.phone, customer_in.phone) if customer_in.phone else None,
        language=customer_in.language,
        notes=customer_in.notes,
        is_vip=customer_in.is_vip,
        custom_fields=customer_in.custom_fields,
    )
    at = utcnow()
    if now:
        insert_now(session, customer)
        rows = [insert_now(session, CustomerIdentity(customer_id=customer.id, kind=k, value=v, created_at=at))
                for k, v in identities]
        set_committed_value(customer, "identities", rows)  # known, so never loaded
    else:
        customer.identities = [CustomerIdentity(kind=k, value=v, created_at=at) for k, v in identities]
        session.add(customer)
        session.flush()
    events_service.record(
        session, verb="customer.created", actor=actor, subject_type="customer", subject=customer,
        data={"name": customer.name, "email": customer.email},
    )
    return customer


def create_many_by_email(session: Session, *, actor: Actor, people: dict[str, str | None]) -> dict[str, Customer]:
    """New customers for emails known to be free (the caller looked them up): one flush for the
    batch instead of one per customer (store imports). Returns them by normalised email."""
    now = utcnow()
    made: dict[str, Customer] = {}
    for email, name in people.items():
        value = normalise(IdentityKind.email, email)
        customer = Customer(name=name, email=value, is_vip=False, custom_fields={})
        customer.identities = [CustomerIdentity(kind=IdentityKind.email, value=value, created_at=now)]
        session.add(customer)
        made[value] = customer
    session.flush()
    for customer in made.values():
        events_service.record(
            session, verb="customer.created", actor=actor, subject_type="customer", subject_id=customer.id,
            data={"name": customer.name, "email": customer.email},
        )
    return made


def _check_identities_free(
    session: Session, identities: Sequence[tuple[IdentityKind, str]], *, owner_id: int | None = None
) -> None:
    for kind, value in identities:
        holder = find_by_identity(session, kind=kind, value=value)
        if holder is not None and holder.id != owner_id:
            raise Conflict(
                f"{kind} {value} already belongs to customer {holder.id}; merge the two customers instead.",
                details={"field": str(kind), "customer_id": holder.id},
            )


def update(session: Session, *, actor: Actor, customer: Customer, customer_in: CustomerUpdate) -> Customer:
    changes = customer_in.model_dump(exclude_unset=True)
    before = {k: getattr(customer, k) for k in changes}
    for kind, field in ((IdentityKind.email, "email"), (IdentityKind.phone, "phone")):
        if changes.get(field):
            value = normalise(kind, str(changes[field]))
            changes[field] = value
            _check_identities_free(session, [(kind, value)], owner_id=customer.id)
            if not any(i.kind == kind and i.value == value for i in customer.identities):
                customer.identities.append(CustomerIdentity(kind=kind, value=value, created_at=utcnow()))
    for key, value in changes.items():
        setattr(customer, key, value)
    session.flush()
    events_service.record(
        session, verb="customer.updated", actor=actor, subject_type="customer", subject_id=customer.id,
        data=events_service.diff(before, changes),
    )
    return customer


def list_customers(
    session: Session, *, q: str | None = None, limit: int = 25, cursor: str | None = None
) -> tuple[Sequence[Customer], str | None]:
    """Customers newest first, optionally filtered by a name/email/phone prefix."""
    stmt = select(Customer).where(Customer.merged_into_id.is_(None), Customer.deleted_at.is_(None))
    if q:
        like = q.strip().lower().replace("%", r"\%").replace("_", r"\_") + "%"
        stmt = stmt.where(
            or_(Customer.email.like(like, escape="\\"), Customer.name.ilike(like, escape="\\"),
                Customer.phone.like(like, escape="\\"))
        )
    if cursor:
        (last_id,) = decode_cursor(cursor, types=(int,))
        stmt = stmt.where(Customer.id < last_id)
    rows = session.scalars(stmt.order_by(Customer.id.desc()).limit(limit + 1)).all()
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def merge(session: Session, *, actor: Actor, target: Customer, source: Customer) -> Customer:
    """Absorb ``source`` into ``target``: identities and contact details move.

    The source row stays, pointing at the target, so its old id still resolves.
    Moving the conversations is the conversations domain's job (it sits above this
    one): call ``conversations.service.merge_customers``, which calls this.
    """
    if source.id == target.id:
        raise ValidationFailed("A customer cannot be merged into itself.", details=[{"field": "source_id"}])
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise Conflict("One of these customers was already merged into another.")
    moved_identities = [f"{i.kind}:{i.value}" for i in source.identities]
    for identity in list(source.identities):
        identity.customer_id = target.id
    session.flush()
    session.expire(source, ["identities"])
    session.expire(target, ["identities"])
    for field in ("name", "email", "phone", "language", "notes"):
        if not getattr(target, field) and getattr(source, field):
            setattr(target, field, getattr(source, field))
    target.is_vip = target.is_vip or source.is_vip
    target.custom_fields = {**source.custom_fields, **target.custom_fields}
    source.merged_into_id = target.id
    session.flush()
    events_service.record(
        session, verb="customer.merged", actor=actor, subject_type="customer", subject_id=target.id,
        data={"source_id": source.id, "identities": moved_identities},
    )
    return target


def delete(session: Session, *, actor: Actor, customer: Customer) -> None:
    """Soft delete: the row stays for the audit trail; contact details are erased."""
    customer.deleted_at = utcnow()
    for identity in list(customer.identities):
        session.delete(identity)
    events_service.record(
        session, verb="customer.deleted", actor=actor, subject_type="customer", subject_id=customer.id, data={}
    )
