"""Writing the knowledge base in the agent app: the article list and a Markdown editor.

Everyone on the team may read the list; saving needs a supervisor or admin (the
service checks it). The editor works on one language at a time (``?lang=``, the
article's default language when omitted): a save writes that language's text as a new
version and the article's status, visibility and tags, in one transaction. A language
with no text yet shows what visitors get instead (the fallback). The preview renders
the Markdown exactly as the help center will; any version can be restored (as a new one).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup
from pydantic import ValidationError

from cartdesk.auth.deps import current_principal, optional_principal
from cartdesk.auth.schemas import Principal
from cartdesk.brands import service as brands_service
from cartdesk.conversations.attachment_routes import _disposition, attachment_store
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import AppError
from cartdesk.kit.routing import Router
from cartdesk.kit.storage import Staged, StagingFile
from cartdesk.knowledge import content, files, images, lookup, structure
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, ArticleStatus, Visibility
from cartdesk.knowledge.schemas import LANGUAGE, MAX_BODY, ArticleCreate, ArticleUpdate, TranslationIn
from cartdesk.web.agent.common import sidebar
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.security import flash
from cartdesk.web.templating import render

router = Router(prefix="/kb/articles")

# Offered in the editor's language picker besides the languages an article already has.
COMMON_LANGUAGES = ("de", "en", "es", "fr", "it", "nl", "pt")


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
            status_code: int = 200, language: str | None = None) -> Response:
    categories = kb_service.list_categories(session, brand_id=brand_id)
    names = {c.id: c.name for c in categories}
    sections = [(c.id, f"{names.get(c.parent_id, '')} › {c.name}") for c in categories if c.parent_id]
    context: dict = {"article": article, "form": form, "sections": sections, "error": error, "brand_id": brand_id,
                     "language": language, "languages": [], "fallback": None, "versions": [], "public_url": None,
                     "image_max_bytes": request.app.state.settings.kb_image_max_bytes}
    if article is not None:
        context.update(_files_context(request, session, article, can_write=principal.is_supervisor))
        have = [t.language for t in kb_service.translations(session, article_id=article.id)]
        context["languages"] = sorted(set(have) | set(COMMON_LANGUAGES) | {article.default_language})
        context["have"] = have
        context["versions"] = list(reversed(kb_service.versions(session, article_id=article.id,
                                                                language=language)))
        if language not in have:  # what a visitor reading this language sees today
            context["fallback"], _ = kb_service.localized(session, article=article, language=language or "")
    return render(request, "agent/kb_edit.html", {
        **sidebar(session, principal=principal, active=None), "nav": "kb", **context,
    }, status_code=status_code)


@router.get("/new")
def new_article(request: Request, session: DbSession, principal: AgentPrincipal, brand: str | None = None) -> Response:
    chosen = brands_service.resolve(session, ref=brand)
    return _editor(request, session, principal, brand_id=chosen.id, article=None,
                   form={"status": "draft", "visibility": "public"})


@router.get("/{article_id}")
def edit_article(request: Request, article_id: int, session: DbSession, principal: AgentPrincipal,
                 lang: str | None = None) -> Response:
    article = kb_service.get_or_raise(session, article_id=article_id)
    language = lang if lang and LANGUAGE.match(lang) else article.default_language
    translation, fell_back = kb_service.localized(session, article=article, language=language)
    mine = not fell_back or translation.language == language
    form = {"title": translation.title if mine else "", "body_md": translation.body_md if mine else "",
            "section_id": str(article.section_id), "status": article.status, "visibility": article.visibility,
            "tags": ", ".join(article.tags)}
    return _editor(request, session, principal, brand_id=article.brand_id, article=article, form=form,
                   language=language)


@router.post("/preview", response_class=HTMLResponse)
def preview(principal: AgentPrincipal, body_md: Annotated[str, Form(max_length=MAX_BODY)] = "") -> Response:
    """The Markdown as the help center will show it (same renderer, same sanitiser); htmx swaps it in."""
    html = content.render_markdown(body_md) if body_md.strip() else '<p class="muted">Nothing to preview yet.</p>'
    return HTMLResponse(Markup(html))


@router.post("/images", response_class=HTMLResponse)
async def upload_image(request: Request, brand_id: Annotated[int, Form()],
                       file: Annotated[UploadFile, File()]) -> Response:
    """An image for an article: checked (type by its bytes, size), kept in the attachment store,
    answered with the Markdown to insert. No request-wide session: like the attachment API it
    signs in with one short read and writes in its own short transaction once the bytes are
    staged (on SQLite a second writer inside an open request transaction would wait on itself)."""
    with request.app.state.db.transaction(read_only=True) as session:
        principal = await current_principal(await optional_principal(request, session))
    store = attachment_store(request)
    with StagingFile(store.staging_dir, max_bytes=request.app.state.settings.kb_image_max_bytes) as staging:
        while chunk := await file.read(64 * 1024):
            staging.write(chunk)
        staged = staging.finish()
    try:
        markdown = await run_in_threadpool(_keep_image, request, principal, brand_id, staged, file.filename)
    finally:
        staged.path.unlink(missing_ok=True)
    return render(request, "agent/_kb_image.html", {"markdown": markdown})


def _keep_image(request: Request, principal: Principal, brand_id: int, staged, filename: str | None) -> str:  # type: ignore[no-untyped-def]
    with request.app.state.db.transaction() as session:
        brand = brands_service.resolve(session, ref=brand_id)
        image, attachment = images.upload(session, store=attachment_store(request), principal=principal,
                                          brand_id=brand.id, staged=staged, filename=filename)
        return images.markdown_for(image, attachment, brand_slug=brand.slug)


# --- files under the article (listed for download in the help center) -------------------


def _files_context(request: Request, session: DbSession, article: Article, *, can_write: bool) -> dict:  # type: ignore[type-arg]
    brand = brands_service.resolve(session, ref=article.brand_id)
    rows = files.list_for(session, article_id=article.id)
    public_url = (lookup.article_path(brand.slug, article.default_language, article.slug)
                  if article.status == ArticleStatus.published and article.visibility == Visibility.public else None)
    return {"article": article, "files": files.describe(rows), "can_write": can_write, "public_url": public_url,
            "public_paths": {link.id: files.public_path(brand.slug, link, a) for link, a in rows},
            "file_max_bytes": request.app.state.settings.kb_attachment_max_bytes, "file_accept": files.ACCEPT,
            "file_max_count": files.MAX_PER_ARTICLE, "added": False}


@router.post("/{article_id}/files", response_class=HTMLResponse)
async def upload_file(request: Request, article_id: int, file: Annotated[UploadFile, File()]) -> Response:
    """A file for visitors to download under the article: checked (kind by name and bytes, size,
    count), kept in the attachment store; answered with the refreshed file list. Like the image
    upload, it signs in with one short read and writes in its own short transaction once staged."""
    with request.app.state.db.transaction(read_only=True) as session:
        principal = await current_principal(await optional_principal(request, session))
    kb_service.check_can_write(principal)
    store = attachment_store(request)
    with StagingFile(store.staging_dir, max_bytes=request.app.state.settings.kb_attachment_max_bytes) as staging:
        while chunk := await file.read(64 * 1024):
            staging.write(chunk)
        staged = staging.finish()
    try:
        context = await run_in_threadpool(_keep_file, request, principal, article_id, staged, file.filename)
    finally:
        staged.path.unlink(missing_ok=True)
    return render(request, "agent/_kb_files.html", context)


def _keep_file(request: Request, principal: Principal, article_id: int, staged: Staged,
               filename: str | None) -> dict:  # type: ignore[type-arg]
    with request.app.state.db.transaction() as session:
        article = kb_service.get_or_raise(session, article_id=article_id)
        files.add(session, store=attachment_store(request), principal=principal, article=article, staged=staged,
                  filename=filename)
        return {**_files_context(request, session, article, can_write=True), "added": True}


@router.post("/{article_id}/files/{file_id}/delete", response_class=HTMLResponse)
def delete_file(request: Request, article_id: int, file_id: int, session: DbSession,
                principal: AgentPrincipal) -> Response:
    article = kb_service.get_or_raise(session, article_id=article_id)
    files.remove(session, principal=principal, article=article, file_id=file_id)
    return render(request, "agent/_kb_files.html", _files_context(request, session, article, can_write=True))


@router.get("/{article_id}/files/{file_id}")
async def download_file(request: Request, article_id: int, file_id: int, session: DbSession,
                        principal: AgentPrincipal) -> StreamingResponse:
    """Any agent may download a file of any article (drafts and internal ones too)."""
    article = kb_service.get_or_raise(session, article_id=article_id)
    link, attachment = files.get_or_raise(session, article=article, file_id=file_id)
    chunks = await run_in_threadpool(attachment_store(request).open, attachment.storage_key)
    return StreamingResponse(chunks, media_type=files.KINDS[link.kind].content_type, headers={
        "Content-Length": str(attachment.size), "Content-Disposition": _disposition(attachment.filename, inline=False),
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
    })


@router.post("/{article_id}/versions/{version_id}/restore")
def restore(request: Request, article_id: int, version_id: int, session: DbSession,
            principal: AgentPrincipal) -> Response:
    article = kb_service.get_or_raise(session, article_id=article_id)
    try:
        translation = structure.restore_version(session, principal=principal, article=article, version_id=version_id)
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return RedirectResponse(f"/kb/articles/{article_id}", status_code=303)
    flash(request, f"Restored as version {translation.version}.")
    return RedirectResponse(f"/kb/articles/{article_id}?lang={translation.language}", status_code=303)


class _Form:
    """The editor's fields, as posted."""

    def __init__(
        self, title: Annotated[str, Form()] = "", body_md: Annotated[str, Form()] = "",
        section_id: Annotated[str, Form()] = "", status: Annotated[str, Form()] = "draft",
        visibility: Annotated[str, Form()] = "public", tags: Annotated[str, Form()] = "",
        brand_id: Annotated[int | None, Form()] = None, language: Annotated[str, Form()] = "",
    ) -> None:
        self.fields = {"title": title, "body_md": body_md, "section_id": section_id, "status": status,
                       "visibility": visibility, "tags": tags}
        self.brand_id = brand_id
        self.language = language


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
            language = posted.language or article.default_language
            translation, fell_back = kb_service.localized(session, article=article, language=language)
            if fell_back and translation.language != language or (title, body_md) != (translation.title,
                                                                                      translation.body_md):
                kb_service.save_translation(session, principal=principal, article=article, language=language,
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
                       article=existing, form=form, error=message, status_code=code,
                       language=(posted.language or existing.default_language) if existing else None)
    flash(request, "Article saved.")
    lang = f"?lang={posted.language}" if posted.language and posted.language != article.default_language else ""
    return RedirectResponse(f"/kb/articles/{article.id}{lang}", status_code=303)
