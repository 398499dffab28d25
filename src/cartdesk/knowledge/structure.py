"""Editing the shape of the knowledge base: renaming, reordering and deleting categories
and sections, and restoring an earlier version of an article's text.

Same rules as ``service.py``: supervisors/admins only, check / do / notify, flush only.
A category is deleted only when empty (no sections, no articles, archived ones
included): articles are never removed as a side effect of tidying the structure.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.events import service as events_service
from cartdesk.kit.errors import Conflict, NotFound, ValidationFailed
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, ArticleTranslation, ArticleVersion, Category
from cartdesk.knowledge.schemas import TranslationIn


def _record(session: Session, principal: Principal, verb: str, category: Category, data: dict) -> None:
    events_service.record(session, verb=verb, actor=principal.actor, subject_type="kb_category",
                          subject_id=category.id, brand_id=category.brand_id, data=data)


def rename_category(session: Session, *, principal: Principal, category: Category, name: str) -> Category:
    """A new display name; the slug (and so every public URL) stays as it was."""
    kb_service.check_can_write(principal)
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("A name needs 1 to 200 characters.", details=[{"field": "name"}])
    before = category.name
    if name != before:
        category.name = name
        session.flush()
        _record(session, principal, "kb.category.renamed", category, {"from": before, "to": name})
    return category


def _siblings(session: Session, category: Category) -> list[Category]:
    parent = Category.parent_id.is_(None) if category.parent_id is None else Category.parent_id == category.parent_id
    return list(session.scalars(select(Category).where(Category.brand_id == category.brand_id, parent)
                                .order_by(Category.position, Category.id)))


def move_category(session: Session, *, principal: Principal, category: Category,
                  direction: Literal["up", "down"]) -> Category:
    """One place up or down among its siblings; positions are renumbered 0..n-1 so ties
    from imports or the API sort the same way everywhere afterwards."""
    kb_service.check_can_write(principal)
    siblings = _siblings(session, category)
    i = siblings.index(category)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(siblings):
        siblings[i], siblings[j] = siblings[j], siblings[i]
    for position, sibling in enumerate(siblings):
        sibling.position = position
    session.flush()
    _record(session, principal, "kb.category.moved", category, {"direction": direction,
                                                                  "position": category.position})
    return category


def delete_category(session: Session, *, principal: Principal, category: Category) -> None:
    kb_service.check_can_write(principal)
    sections = session.scalar(select(func.count()).where(Category.parent_id == category.id)) or 0
    articles = session.scalar(select(func.count()).where(Article.section_id == category.id)) or 0
    if sections or articles:
        what = " and ".join(p for p in (
            f"{sections} section{'s' if sections != 1 else ''}" if sections else "",
            f"{articles} article{'s' if articles != 1 else ''}" if articles else "") if p)
        raise Conflict(f"“{category.name}” still has {what}. Move or delete them first; nothing was deleted.",
                       details={"sections": sections, "articles": articles})
    _record(session, principal, "kb.category.deleted", category, {"slug": category.slug, "name": category.name})
    session.delete(category)
    session.flush()


def restore_version(session: Session, *, principal: Principal, article: Article,
                    version_id: int) -> ArticleTranslation:
    """Make an old version current again, as a new version: history is only ever added to."""
    version = session.get(ArticleVersion, version_id)
    if version is None or version.article_id != article.id:
        raise NotFound(f"Version {version_id} is not a version of article {article.id}.",
                       details={"version_id": version_id})
    translation = kb_service.save_translation(
        session, principal=principal, article=article, language=version.language,
        translation_in=TranslationIn(title=version.title, body_md=version.body_md))
    events_service.record(session, verb="kb.article.restored", actor=principal.actor, subject_type="kb_article",
                          subject_id=article.id, brand_id=article.brand_id,
                          data={"language": version.language, "from_version": version.version,
                                "version": translation.version})
    return translation
