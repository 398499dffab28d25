"""Categories and sections in the agent app: create, rename, reorder, delete when empty.

Thin: every rule (who may, what may be deleted) is in ``knowledge.service`` and
``knowledge.structure``; a refusal comes back as a flash message on the same page.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from cartdesk.brands import service as brands_service
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import AppError
from cartdesk.kit.routing import Router
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge import structure
from cartdesk.knowledge.models import Article
from cartdesk.knowledge.schemas import CategoryCreate
from cartdesk.web.agent.common import sidebar
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.security import flash
from cartdesk.web.templating import render

router = Router(prefix="/kb/categories")


@router.get("")
def categories_page(request: Request, session: DbSession, principal: AgentPrincipal, brand: str | None = None) -> Response:
    chosen = brands_service.resolve(session, ref=brand)
    categories = kb_service.list_categories(session, brand_id=chosen.id)
    counts = dict(session.execute(select(Article.section_id, func.count()).where(Article.brand_id == chosen.id)
                                  .group_by(Article.section_id)).all())
    tops = [c for c in categories if c.parent_id is None]
    return render(request, "agent/kb_categories.html", {
        **sidebar(session, principal=principal, active=None), "nav": "kb", "brand": chosen,
        "brands": brands_service.list_brands(session), "tops": tops, "article_counts": counts,
        "children": {t.id: [c for c in categories if c.parent_id == t.id] for t in tops},
    })


def _back(category_brand_id: int, session: DbSession) -> RedirectResponse:
    brand = brands_service.resolve(session, ref=category_brand_id)
    return RedirectResponse(f"/kb/categories?brand={brand.slug}", status_code=303)


def _refused(request: Request, session: DbSession, exc: AppError | ValidationError) -> None:
    session.rollback()
    flash(request, exc.message if isinstance(exc, AppError) else "A name needs 1 to 200 characters.", "error")


@router.post("")
def create(request: Request, session: DbSession, principal: AgentPrincipal, brand_id: Annotated[int, Form()],
           name: Annotated[str, Form()] = "", parent_id: Annotated[str, Form()] = "") -> Response:
    try:
        kb_service.check_can_write(principal)
        category = kb_service.create_category(session, actor=principal.actor, category_in=CategoryCreate(
            brand=brand_id, name=name.strip(), parent_id=int(parent_id) if parent_id else None,
            position=len(kb_service.list_categories(session, brand_id=brand_id))))
        flash(request, f"“{category.name}” created.")
    except (AppError, ValidationError) as exc:
        _refused(request, session, exc)
    return _back(brand_id, session)


@router.post("/{category_id}/rename")
def rename(request: Request, category_id: int, session: DbSession, principal: AgentPrincipal,
           name: Annotated[str, Form()] = "") -> Response:
    category = kb_service.get_category_or_raise(session, category_id=category_id)
    try:
        structure.rename_category(session, principal=principal, category=category, name=name)
        flash(request, "Renamed.")
    except AppError as exc:
        _refused(request, session, exc)
    return _back(category.brand_id, session)


@router.post("/{category_id}/move")
def move(request: Request, category_id: int, session: DbSession, principal: AgentPrincipal,
         direction: Annotated[Literal["up", "down"], Form()]) -> Response:
    category = kb_service.get_category_or_raise(session, category_id=category_id)
    try:
        structure.move_category(session, principal=principal, category=category, direction=direction)
    except AppError as exc:
        _refused(request, session, exc)
    return _back(category.brand_id, session)


@router.post("/{category_id}/delete")
def remove(request: Request, category_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    category = kb_service.get_category_or_raise(session, category_id=category_id)
    brand_id, name = category.brand_id, category.name
    try:
        structure.delete_category(session, principal=principal, category=category)
        flash(request, f"“{name}” deleted.")
    except AppError as exc:
        _refused(request, session, exc)
    return _back(brand_id, session)
