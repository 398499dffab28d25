"""REST API for brands: the stores this Cartdesk serves."""

from __future__ import annotations

from fastapi import status

from cartdesk.auth.deps import AdminPrincipal, CurrentPrincipal
from cartdesk.brands import service
from cartdesk.brands.schemas import BrandCreate, BrandList, BrandRead, BrandUpdate
from cartdesk.db.deps import DbSession
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router

router = Router(prefix="/api/v1/brands", tags=["brands"], responses=error_responses(401, 403, 422))


@router.get("", response_model=BrandList, summary="List brands")
async def list_brands(session: DbSession, principal: CurrentPrincipal) -> BrandList:
    """Every brand, oldest first (the first is the default for new conversations)."""
    return BrandList(items=[BrandRead.model_validate(b) for b in service.list_brands(session)])


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=BrandRead, summary="Create a brand",
    responses=error_responses(409),
)
async def create_brand(body: BrandCreate, session: DbSession, principal: AdminPrincipal) -> BrandRead:
    """Add a store (admins). Its conversations are numbered from 1001."""
    fields = body.model_dump(exclude={"slug", "name"})
    brand = service.create(session, slug=body.slug, name=body.name, actor=principal.actor, **fields)
    return BrandRead.model_validate(brand)


@router.get("/{brand_id}", response_model=BrandRead, summary="Get a brand", responses=error_responses(404))
async def get_brand(brand_id: int, session: DbSession, principal: CurrentPrincipal) -> BrandRead:
    """One brand."""
    return BrandRead.model_validate(service.get_or_raise(session, brand_id=brand_id))


@router.patch("/{brand_id}", response_model=BrandRead, summary="Update a brand", responses=error_responses(404))
async def update_brand(brand_id: int, body: BrandUpdate, session: DbSession, principal: AdminPrincipal) -> BrandRead:
    """Change the fields given (admins). The slug cannot change: customers hold links with it."""
    brand = service.get_or_raise(session, brand_id=brand_id)
    return BrandRead.model_validate(service.update(session, actor=principal.actor, brand=brand, brand_in=body))
