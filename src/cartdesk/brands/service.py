"""Brands and their conversation numbering."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.brands.schemas import BrandUpdate
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.errors import Conflict, NotFound, ValidationFailed


def list_brands(session: Session) -> Sequence[Brand]:
    return session.scalars(select(Brand).where(Brand.deleted_at.is_(None)).order_by(Brand.id)).all()


# Hot-path statements are built once (see conversations/queries.py for why).
_DEFAULT_ID = select(Brand.id).where(Brand.deleted_at.is_(None)).order_by(Brand.id).limit(1)
_TAKE_NUMBER = (
    sql_update(Brand)
    .where(Brand.id == bindparam("brand_id"))
    .values(next_conversation_number=Brand.next_conversation_number + 1)
    .returning(Brand.next_conversation_number)
)


def get_default(session: Session) -> Brand:
    brand_id = session.connection().execute(_DEFAULT_ID).scalar()
    brand = session.get(Brand, brand_id) if brand_id is not None else None
    if brand is None:
        raise ValidationFailed("No brand exists yet; run `cartdesk demo` or create a brand first.")
    return brand


def resolve(session: Session, *, ref: str | int | None) -> Brand:
    """A brand from its id or slug; the first brand when ``ref`` is None."""
    if ref is None:
        return get_default(session)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        brand = session.get(Brand, int(ref))
    else:
        brand = session.scalar(select(Brand).where(Brand.slug == ref))
    if brand is None or brand.deleted_at is not None:
        raise ValidationFailed(f"Unknown brand {ref!r}.", details=[{"field": "brand", "value": ref}])
    return brand


def get_or_raise(session: Session, *, brand_id: int) -> Brand:
    brand = session.get(Brand, brand_id)
    if brand is None or brand.deleted_at is not None:
        raise NotFound(f"Brand {brand_id} does not exist.", details={"id": brand_id})
    return brand


def create(session: Session, *, slug: str, name: str, actor: Actor | None = None, **fields: object) -> Brand:
    if session.scalar(select(Brand.id).where(Brand.slug == slug)) is not None:
        raise Conflict(f"A brand with slug {slug!r} already exists.", details={"field": "slug"})
    brand = Brand(slug=slug, name=name, **fields)
    session.add(brand)
    session.flush()
    if actor is not None:
        events_service.record(
            session, verb="brand.created", actor=actor, subject_type="brand", subject_id=brand.id,
            brand_id=brand.id, data={"slug": slug, "name": name},
        )
    return brand


_NULLABLE = {"support_email", "website_url"}


def update(session: Session, *, actor: Actor, brand: Brand, brand_in: BrandUpdate) -> Brand:
    changes = brand_in.model_dump(exclude_unset=True)
    nulled = sorted(k for k, v in changes.items() if v is None and k not in _NULLABLE)
    if nulled:
        raise ValidationFailed("These fields cannot be null.", details=[{"field": k} for k in nulled])
    changes = {k: str(v) if k == "support_email" and v is not None else v for k, v in changes.items()}
    before = {k: getattr(brand, k) for k in changes}
    for key, value in changes.items():
        setattr(brand, key, value)
    session.flush()
    events_service.record(
        session, verb="brand.updated", actor=actor, subject_type="brand", subject_id=brand.id,
        brand_id=brand.id, data=events_service.diff(before, changes),
    )
    return brand


_TAKE_NUMBER_LIVE = (
    sql_update(Brand)
    .where(Brand.id == bindparam("brand_id"), Brand.deleted_at.is_(None))
    .values(next_conversation_number=Brand.next_conversation_number + 1)
    .returning(Brand.next_conversation_number)
)
_LIVE_ID_BY_SLUG = select(Brand.id).where(Brand.slug == bindparam("slug"), Brand.deleted_at.is_(None))


def resolve_id(session: Session, *, ref: str | int | None) -> int:
    """The id of a brand given by id or slug (the first brand when ``ref`` is None), without
    loading it. An id is taken as given: :func:`take_number` refuses one that names no live
    brand, so a new conversation costs no brand read at all."""
    if ref is None:
        brand_id = session.connection().execute(_DEFAULT_ID).scalar()
        if brand_id is None:
            raise ValidationFailed("No brand exists yet; run `cartdesk demo` or create a brand first.")
        return int(brand_id)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        return int(ref)
    brand_id = session.connection().execute(_LIVE_ID_BY_SLUG, {"slug": ref}).scalar()
    if brand_id is None:
        raise ValidationFailed(f"Unknown brand {ref!r}.", details=[{"field": "brand", "value": ref}])
    return int(brand_id)


def take_number(session: Session, *, brand_id: int, ref: str | int | None = None) -> int:
    """:func:`next_conversation_number` for a new conversation: the brand must be live."""
    number = session.connection().execute(_TAKE_NUMBER_LIVE, {"brand_id": brand_id}).scalar()
    if number is None:
        shown = ref if ref is not None else brand_id
        raise ValidationFailed(f"Unknown brand {shown!r}.", details=[{"field": "brand", "value": shown}])
    return int(number) - 1


def next_conversation_number(session: Session, *, brand_id: int) -> int:
    """Atomically take the next number. The UPDATE holds the row lock (PostgreSQL) or
    the write lock (SQLite) until commit, so two creators never get the same number."""
    number = session.connection().execute(_TAKE_NUMBER, {"brand_id": brand_id}).scalar_one()
    return number - 1
