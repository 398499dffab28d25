"""Writing the knowledge base in the agent app: the article list and a Markdown editor.

Everyone on the team may read the list; saving needs a supervisor or admin (the
service checks it). A save writes the default-language text as a new version and the
article's status, visibility and tags, in one transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from cartdesk.brands import service as brands_service
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import AppError
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, ArticleStatus, Visibility
from cartdesk.knowledge.schemas import ArticleCreate, ArticleUpdate, TranslationIn
from cartdesk.web.agent.common import sidebar
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.security import flash
from cartdesk.web.templating import render

router = APIRouter(prefix="/kb/articles")


@router.get("")
def article_list(request: Request, session: DbSession, principal: AgentPrincipal, brand: str | None = None) -> Response:
    chosen = brands_service.resolve(session, ref=brand)
    articles = kb_service.list_articles(session, brand_id=chosen.id, include_internal=True, include_unpublished=True,
                                        limit=1000)
    return render(request, "agent/kb_articles.html", {
        **sidebar(session, principal=principal, active=None), "nav": "kb", "brand": chosen,
        "brands": brands_service.list_brands(session), "articles": articles,
        "titles": kb_service.titles(session, article_ids=[a.id for a in articles], language=chosen.default_language),
        "sections": {c.id: c.name for c in kb_service.list_categories(session, brand_id=chosen.id)},
    })


def _editor(request: Request, session: DbSession, principal: AgentPrincipal, *, brand_id: int,
            article: Article | None, form: dict[str, str], error: str | None = None,
            status_code: int = 200) -> Response:
    categories = kb_service.list_categories(session, brand_id=brand_id)
    names = {c.id: c.name for c in categories}
    sections = [(c.id, f"{names.get(c.parent_id, '')} › {c.name}") for c in categories if c.parent_id]
    return render(request, "agent/kb_edit.html", {
        **sidebar(session, principal=principal, active=None), "nav": "kb", "article": article, "form": form,
        "sections": sections, "error": error, "brand_id": brand_id,
        "versions": kb_service.versions(session, article_id=article.id) if article else [],
    }, status_code=status_code)


@router.get("/new")
def new_article(request: Request, session: DbSession, principal: AgentPrincipal, brand: str | None = None) -> Response:
    chosen = brands_service.resolve(session, ref=brand)
    return _editor(request, session, principal, brand_id=chosen.id, article=None,
                   form={"status": "draft", "visibility": "public"})


@router.get("/{article_id}")
def edit_article(request: Request, article_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    article = kb_service.get_or_raise(session, article_id=article_id)
    translation, _ = kb_service.localized(session, article=article, language=article.default_language)
    form = {"title": translation.title, "body_md": translation.body_md, "section_id": str(article.section_id),
            "status": article.status, "visibility": article.visibility, "tags": ", ".join(article.tags)}
    return _editor(request, session, principal, brand_id=article.brand_id, article=article, form=form)


class _Form:
    """The editor's fields, as posted."""

    def __init__(
        self, title: Annotated[str, Form()] = "", body_md: Annotated[str, Form()] = "",
        section_id: Annotated[str, Form()] = "", status: Annotated[str, Form()] = "draft",
        visibility: Annotated[str, Form()] = "public", tags: Annotated[str, Form()] = "",
        brand_id: Annotated[int | None, Form()] = None,
    ) -> None:
        self.fields = {"title": title, "body_md": body_md, "section_id": section_id, "status": status,
                       "visibility": visibility, "tags": tags}
        self.brand_id = brand_id


@router.post("")
def create_article(request: Request, session: DbSession, principal: AgentPrincipal,
                   posted: Annotated[_Form, Depends()]) -> Response:
    return _save(request, session, principal, posted, article_id=None)


@router.post("/{article_id}")
def update_article(request: Request, article_id: int, session: DbSession, principal: AgentPrincipal,
                   posted: Annotated[_Form, Depends()]) -> Response:
    return _save(request, session, principal, posted, article_id=article_id)


def _save(request: Request, session: DbSession, principal: AgentPrincipal, posted: _Form, *,
          article_id: int | None) -> Response:
    form, brand_id = posted.fields, posted.brand_id
    title, body_md, section_id, status, visibility, tags = (
        form["title"], form["body_md"], form["section_id"], form["status"], form["visibility"], form["tags"])
    article = kb_service.get_or_raise(session, article_id=article_id) if article_id else None
    tag_list = [t for t in (x.strip() for x in tags.split(",")) if t]
    try:
        if article is None:
            article = kb_service.create_article(session, principal=principal, article_in=ArticleCreate(
                section_id=int(section_id or 0), title=title, body_md=body_md, status=ArticleStatus(status),
                visibility=Visibility(visibility), tags=tag_list))
        else:
            translation, _ = kb_service.localized(session, article=article, language=article.default_language)
            if (title, body_md) != (translation.title, translation.body_md):
                kb_service.save_translation(session, principal=principal, article=article,
                                            language=article.default_language,
                                            translation_in=TranslationIn(title=title, body_md=body_md))
            kb_service.update_article(session, principal=principal, article=article, article_in=ArticleUpdate(
                section_id=int(section_id), status=ArticleStatus(status), visibility=Visibility(visibility),
                tags=tag_list))
    except (AppError, ValidationError, ValueError) as exc:
        session.rollback()
        message = exc.message if isinstance(exc, AppError) else "Check the title, text and section: " + (
            str(exc.errors()[0]["msg"]) if isinstance(exc, ValidationError) else str(exc))
        code = exc.status_code if isinstance(exc, AppError) else 422
        existing = kb_service.get(session, article_id=article_id) if article_id else None
        return _editor(request, session, principal, brand_id=existing.brand_id if existing else (brand_id or 0),
                       article=existing, form=form, error=message, status_code=code)
    flash(request, "Article saved.")
    return RedirectResponse(f"/kb/articles/{article.id}", status_code=303)
