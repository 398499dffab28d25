"""What every help-center page shares: the brand from the URL, the visitor, the two layouts."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.kit.errors import NotFound
from cartdesk.knowledge.models import Article, ArticleStatus, ArticleTranslation, Visibility
from cartdesk.knowledge.schemas import LANGUAGE
from cartdesk.web.helpcenter.strings import translator
from cartdesk.web.security import csrf_token
from cartdesk.web.templating import is_htmx

FULL_LAYOUT = "helpcenter/_layout.html"
FRAGMENT_LAYOUT = "helpcenter/_fragment.html"
VISITOR_KEY = "kbv"

LANGUAGE_NAMES = {
    "en": "English", "de": "Deutsch", "nl": "Nederlands", "fr": "Français", "es": "Español", "it": "Italiano",
    "pt": "Português", "sv": "Svenska", "da": "Dansk", "pl": "Polski",
}


def brand_or_404(session: Session, slug: str) -> Brand:
    brand = session.scalar(select(Brand).where(Brand.slug == slug, Brand.deleted_at.is_(None)))
    if brand is None:
        raise NotFound("There is no help center here.")
    return brand


def languages(session: Session, brand: Brand) -> list[str]:
    """The languages this help center has published text in, its default first."""
    found = session.scalars(
        select(ArticleTranslation.language).join(Article, Article.id == ArticleTranslation.article_id)
        .where(Article.brand_id == brand.id, Article.status == ArticleStatus.published,
               Article.visibility == Visibility.public).distinct()
    ).all()
    return [brand.default_language] + sorted(set(found) - {brand.default_language})


def check_language(language: str) -> None:
    """Any well-formed code is a valid address: pages fall back to the default language
    per article, so a link in a language we have not translated yet still works."""
    if not LANGUAGE.match(language):
        raise NotFound("This page does not exist.")


def visitor_id(request: Request) -> str:
    """A random id kept in the (signed) session cookie: ties one browser's keystrokes and
    clicks together for the search insights. It names no one."""
    session = request.scope.get("session")
    if session is None:
        return ""
    if VISITOR_KEY not in session:
        session[VISITOR_KEY] = secrets.token_urlsafe(12)
    return str(session[VISITOR_KEY])


def render(request: Request, name: str, brand: Brand, language: str, context: dict[str, Any] | None = None,
           *, status_code: int = 200) -> HTMLResponse:
    fragment = is_htmx(request)
    ctx: dict[str, Any] = {
        "layout": FRAGMENT_LAYOUT if fragment else FULL_LAYOUT,
        "is_fragment": fragment,
        "brand": brand,
        "lang": language,
        "base": f"/hc/{brand.slug}/{language}",
        "csrf_token": csrf_token(request),
        "LANGUAGE_NAMES": LANGUAGE_NAMES,
        "languages": [language],
        "alternates": {},
        "t": translator(language),
    }
    ctx.update(context or {})
    response = request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers["Vary"] = "HX-Request"
    return response
