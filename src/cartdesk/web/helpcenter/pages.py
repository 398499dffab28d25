"""Help-center pages: home, category, article, search, sitemap; feedback and the view beacon.

Pages are plain GETs that read only (cacheable, fast). What a visitor does is
recorded by small POSTs: the article page's view beacon, the feedback buttons.
Searches are logged after the page's own transaction (see knowledge/activity.py).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated
from xml.sax.saxutils import escape

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.background import BackgroundTask

from cartdesk.brands import service as brands_service
from cartdesk.db.deps import DbSession
from cartdesk.kit import throttle
from cartdesk.kit.errors import NotFound
from cartdesk.kit.routing import Router
from cartdesk.knowledge import activity, files, lookup
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, ArticleStatus, Category, Feedback, Visibility
from cartdesk.knowledge.schemas import FeedbackIn
from cartdesk.web.helpcenter.common import brand_or_404, check_language, languages, render, visitor_id

router = Router()


@router.get("/help")
def help_home(session: DbSession) -> RedirectResponse:
    brand = brands_service.get_default(session)
    return RedirectResponse(f"/hc/{brand.slug}/{brand.default_language}", status_code=307)


@router.get("/hc/{brand_slug}")
def brand_home(brand_slug: str, session: DbSession) -> RedirectResponse:
    brand = brand_or_404(session, brand_slug)
    return RedirectResponse(f"/hc/{brand.slug}/{brand.default_language}", status_code=307)


@router.get("/hc/{brand_slug}/sitemap.xml")
def sitemap(request: Request, brand_slug: str, session: DbSession) -> Response:
    """Every public page of the help center, each language an article has, for search engines."""
    brand = brand_or_404(session, brand_slug)
    base = str(request.base_url).rstrip("/")
    langs = languages(session, brand)
    urls = [f"{base}/hc/{brand.slug}/{lang}" for lang in langs]
    articles = session.execute(
        select(Article.slug, Article.updated_at).where(
            Article.brand_id == brand.id, Article.status == ArticleStatus.published,
            Article.visibility == Visibility.public).order_by(Article.id)
    ).all()
    translated = kb_service.languages_by_article(session, brand_id=brand.id)
    entries = [f"<url><loc>{escape(u)}</loc></url>" for u in urls]
    for slug, updated in articles:
        for lang in translated.get(slug, [brand.default_language]):
            loc = escape(f"{base}{lookup.article_path(brand.slug, lang, slug)}")
            entries.append(f"<url><loc>{loc}</loc><lastmod>{updated:%Y-%m-%d}</lastmod></url>")
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(entries) + "</urlset>")
    return Response(body, media_type="application/xml")


def _tree(session: DbSession, brand_id: int, language: str, *, only: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    """Categories with their sections and how many published public articles each holds
    (one grouped count: the home page of a 5,000-article help center reads no article
    rows); with ``only`` (a category's slug) that category alone, its sections' articles
    loaded."""
    categories = kb_service.list_categories(session, brand_id=brand_id)
    counts = kb_service.section_counts(session, brand_id=brand_id)
    tree = []
    for top in (c for c in categories if c.parent_id is None and (only is None or c.slug == only)):
        sections = [c for c in categories if c.parent_id == top.id]
        by_section: dict[int, list[Article]] = defaultdict(list)
        if only is not None:
            for article in kb_service.articles_in_sections(session, brand_id=brand_id,
                                                           section_ids=[s.id for s in sections]):
                by_section[article.section_id].append(article)
        name, description = kb_service.category_name(top, language)
        tree.append({
            "category": top, "name": name, "description": description,
            "sections": [{"section": s, "name": kb_service.category_name(s, language)[0],
                          "articles": by_section.get(s.id, [])} for s in sections],
            "count": sum(counts.get(s.id, 0) for s in [top, *sections]),
        })
    return [t for t in tree if t["count"]]


@router.get("/hc/{brand_slug}/{lang}")
def home(request: Request, brand_slug: str, lang: str, session: DbSession) -> Response:
    brand = brand_or_404(session, brand_slug)
    check_language(lang)
    tree = _tree(session, brand.id, lang)
    popular = kb_service.popular_articles(session, brand_id=brand.id, limit=6)
    ids = [a.id for a in popular]
    return render(request, "helpcenter/home.html", brand, lang, {
        "tree": tree, "popular": popular, "titles": kb_service.titles(session, article_ids=ids, language=lang),
        "languages": languages(session, brand),
    })


@router.get("/hc/{brand_slug}/{lang}/categories/{slug}")
def category(request: Request, brand_slug: str, lang: str, slug: str, session: DbSession) -> Response:
    brand = brand_or_404(session, brand_slug)
    check_language(lang)
    entry = next(iter(_tree(session, brand.id, lang, only=slug)), None)
    if entry is None:
        raise NotFound("This category does not exist.")
    ids = [a.id for s in entry["sections"] for a in s["articles"]]
    return render(request, "helpcenter/category.html", brand, lang, {
        "entry": entry, "titles": kb_service.titles(session, article_ids=ids, language=lang),
    })


@router.get("/hc/{brand_slug}/{lang}/articles/{slug}")
def article_page(request: Request, brand_slug: str, lang: str, slug: str, session: DbSession) -> Response:
    brand = brand_or_404(session, brand_slug)
    check_language(lang)
    article = kb_service.get_by_slug(session, brand_id=brand.id, slug=slug)
    if article is None:
        raise NotFound("This article does not exist or is no longer published.")
    translation, fallback = kb_service.localized(session, article=article, language=lang)
    section = session.get(Category, article.section_id)
    parent = session.get(Category, section.parent_id) if section and section.parent_id else None
    related = kb_service.related_articles(session, article=article)
    langs = [t.language for t in kb_service.translations(session, article_id=article.id)]
    return render(request, "helpcenter/article.html", brand, lang, {
        "article": article, "tr": translation, "fallback": fallback,
        "section_name": kb_service.category_name(section, lang)[0] if section else "",
        "parent": parent, "parent_name": kb_service.category_name(parent, lang)[0] if parent else "",
        "related": related, "titles": kb_service.titles(session, article_ids=[a.id for a in related], language=lang),
        "languages": langs, "query": request.query_params.get("q", "")[:300],
        "files": files.describe(files.list_for(session, article_id=article.id)),
    })


@router.get("/hc/{brand_slug}/{lang}/search")
def search_page(request: Request, brand_slug: str, lang: str, session: DbSession, q: str = "",
                source: str = "helpcenter", view: str = "") -> Response:
    """The full results page, and (htmx) the results list under the search box as one types."""
    brand = brand_or_404(session, brand_slug)
    check_language(lang)
    q = q[:300]
    results = lookup.search_articles(session, brand=brand, q=q, language=lang, limit=10)
    response = render(request, "helpcenter/search.html", brand, lang, {"results": results, "q": q,
                                                                          "instant": view == "instant"})
    if results.query.strip():
        # The log row is written in its own short transaction after the response has been
        # sent: the visitor typing does not wait for it (a failure is logged, never shown).
        fields = {"brand_id": brand.id, "query": q.strip(), "language": lang, "visitor": visitor_id(request),
                  "source": "contact" if source == "contact" else "helpcenter", "result_count": len(results.hits)}
        response.background = BackgroundTask(activity.log_search_after_commit, request.app.state.db, **fields)
    return response


def _public_article_or_404(session: DbSession, brand_slug: str, slug: str) -> Article:
    brand = brand_or_404(session, brand_slug)
    article = kb_service.get_by_slug(session, brand_id=brand.id, slug=slug)
    if article is None:
        raise NotFound("This article does not exist or is no longer published.")
    return article


@router.post("/hc/{brand_slug}/{lang}/articles/{slug}/view", status_code=204)
def view_beacon(request: Request, brand_slug: str, lang: str, slug: str, session: DbSession,
                q: Annotated[str, Form()] = "") -> Response:
    """Sent by the page's script once it is shown: counts people, not crawlers or prefetches."""
    article = _public_article_or_404(session, brand_slug, slug)
    if throttle.throttle(request).allow("view", request.client.host if request.client else None):
        activity.record_view(session, article=article, visitor=visitor_id(request), query=q[:300])
    return Response(status_code=204)


@router.post("/hc/{brand_slug}/{lang}/articles/{slug}/feedback")
def feedback(request: Request, brand_slug: str, lang: str, slug: str, session: DbSession,
             helpful: Annotated[str, Form()], comment: Annotated[str, Form(max_length=2000)] = "",
             feedback_id: Annotated[int | None, Form()] = None) -> Response:
    """Yes/no first; a "no" is asked what was missing, and the comment joins that same answer."""
    check_language(lang)
    throttle.check(request, "feedback")
    article = _public_article_or_404(session, brand_slug, slug)
    brand = brand_or_404(session, brand_slug)
    if feedback_id is not None:
        row = session.get(Feedback, feedback_id)
        if row is None or row.article_id != article.id or row.comment:
            raise NotFound("That answer cannot be changed.")
        row.comment = comment.strip()
        session.flush()
        step = "thanks"
    else:
        row = activity.record_feedback(session, article=article, feedback_in=FeedbackIn(
            helpful=helpful == "yes", comment=comment, language=lang))
        step = "thanks" if row.helpful else "comment"
    return render(request, "helpcenter/_feedback.html", brand, lang, {"article": article, "step": step,
                                                                       "feedback": row})
