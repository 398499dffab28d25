"""Brands and their conversation numbering."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.kit.errors import NotFound, ValidationFailed


def list_brands(session: Session) -> Sequence[Brand]:
    return session.scalars(select(Brand).where(Brand.deleted_at.is_(None)).order_by(Brand.id)).all()


def get_default(session: Session) -> Brand:
    brand = session.scalar(select(Brand).where(Brand.deleted_at.is_(None)).order_by(Brand.id).limit(1))
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
    if brand is None:
        raise NotFound(f"Brand {brand_id} does not exist.")
    return brand


def create(session: Session, *, slug: str, name: str, **fields: object) -> Brand:
    brand = Brand(slug=slug, name=name, **fields)
    session.add(brand)
    session.flush()
    return brand


def next_conversation_number(session: Session, *, brand_id: int) -> int:
    """Atomically take the next number. The UPDATE holds the row lock (PostgreSQL) or
    the write lock (SQLite) until commit, so two creators never get the same number."""
    number = session.execute(
        update(Brand)
        .where(Brand.id == brand_id)
        .values(next_conversation_number=Brand.next_conversation_number + 1)
        .returning(Brand.next_conversation_number)
    ).scalar_one()
    return number - 1
