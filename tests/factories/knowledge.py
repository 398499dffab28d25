"""Knowledge-base factories: categories, sections and articles, written through the service."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.auth.schemas import Principal
from cartdesk.brands.models import Brand
from cartdesk.events.schemas import SYSTEM
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, ArticleStatus, Category, Visibility
from cartdesk.knowledge.schemas import ArticleCreate, CategoryCreate
from tests.factories.auth import make_user, principal

_seq = itertools.count(1)


def make_writer(session: Session) -> Principal:
    return principal(make_user(session, role=Role.supervisor))


def make_section(session: Session, *, brand: Brand, name: str | None = None) -> Category:
    n = next(_seq)
    category = kb_service.create_category(
        session, actor=SYSTEM, category_in=CategoryCreate(brand=brand.id, name=f"Category {n}"))
    return kb_service.create_category(
        session, actor=SYSTEM, category_in=CategoryCreate(brand=brand.id, parent_id=category.id,
                                                          name=name or f"Section {n}"))


def make_article(session: Session, *, writer: Principal, section: Category, title: str, body: str,
                 tags: list[str] | None = None, status: ArticleStatus = ArticleStatus.published,
                 visibility: Visibility = Visibility.public, language: str = "en") -> Article:
    return kb_service.create_article(session, principal=writer, article_in=ArticleCreate(
        section_id=section.id, title=title, body_md=body, tags=tags or [], status=status, visibility=visibility,
        language=language,
    ))
