"""REST API for the knowledge base. Thin: parse, call the service, shape the answer.

Reading articles needs the ``kb:read`` scope; internal articles are in every agent's
answers. Writing needs a supervisor or admin with ``kb:write``. Search and feedback
also answer without a token (the help center and store widgets call them), and then
see only published public articles.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from cartdesk.auth.deps import current_principal, optional_principal, require_scope
from cartdesk.auth.schemas import Principal
from cartdesk.brands import service as brands_service
from cartdesk.conversations.attachment_routes import _FRAMING_ALLOWANCE, _receive_file, attachment_store
from cartdesk.db.deps import DbSession
from cartdesk.kit import throttle
from cartdesk.kit.errors import PayloadTooLarge
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router
from cartdesk.kit.storage import Staged, StagingFile
from cartdesk.knowledge import activity, files, lookup, service
from cartdesk.knowledge.models import Article, ArticleStatus
from cartdesk.knowledge.schemas import (
    ArticleCreate,
    ArticleFileRead,
    ArticleRead,
    ArticleUpdate,
    CategoryCreate,
    CategoryRead,
    FeedbackIn,
    FeedbackRead,
    LocalizedArticle,
    SearchResults,
    TranslationIn,
    TranslationRead,
    VersionRead,
    check_language,
)

router = Router(prefix="/api/v1/kb", tags=["knowledge base"], responses=error_responses(401, 403, 404, 422))

KbRead = Annotated[Principal, Depends(require_scope("kb:read"))]
KbWrite = Annotated[Principal, Depends(require_scope("kb:write"))]
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


def _read(session: DbSession, article: Article) -> ArticleRead:
    out = ArticleRead.model_validate(article)
    translations = service.translations(session, article_id=article.id)
    out.languages = [t.language for t in translations]
    out.title = next((t.title for t in translations if t.language == article.default_language), "")
    out.related_ids = service.related_ids(session, article_id=article.id)
    return out


def _language(value: str) -> str:
    try:
        return check_language(value)
    except ValueError as exc:
        from cartdesk.kit.errors import ValidationFailed

        raise ValidationFailed(f"{value!r} is not {exc}.", details=[{"field": "lang", "value": value}]) from None


@router.get("/categories", response_model=list[CategoryRead], summary="Categories and sections of a brand")
def list_categories(session: DbSession, principal: KbRead, brand: str | None = None) -> list[CategoryRead]:
    """Top-level categories have ``parent_id`` null; sections point at their category."""
    found = brands_service.resolve(session, ref=brand)
    return [CategoryRead.model_validate(c) for c in service.list_categories(session, brand_id=found.id)]


@router.post("/categories", response_model=CategoryRead, status_code=status.HTTP_201_CREATED,
             summary="Create a category, or a section with parent_id")
def create_category(body: CategoryCreate, session: DbSession, principal: KbWrite) -> CategoryRead:
    """Supervisors and admins only. The slug is made from the name when omitted; unique per brand."""
    service.check_can_write(principal)
    return CategoryRead.model_validate(service.create_category(session, actor=principal.actor, category_in=body))


@router.get("/articles", response_model=list[ArticleRead], summary="Articles of a brand, drafts included")
def list_articles(
    session: DbSession, principal: KbRead, brand: str | None = None, section: int | None = None,
    status_: Annotated[ArticleStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ArticleRead]:
    """Every status and visibility, ordered by position; filter by section or status."""
    found = brands_service.resolve(session, ref=brand)
    articles = service.list_articles(session, brand_id=found.id, section_id=section, status=status_,
                                     include_internal=True, include_unpublished=True, limit=limit)
    return [_read(session, a) for a in articles]


@router.post("/articles", response_model=ArticleRead, status_code=status.HTTP_201_CREATED,
             summary="Write an article (its default-language text comes with it)")
def create_article(body: ArticleCreate, session: DbSession, principal: KbWrite) -> ArticleRead:
    """Markdown is rendered to sanitised HTML; the first version is recorded. Supervisors and admins only."""
    return _read(session, service.create_article(session, principal=principal, article_in=body))


@router.get("/articles/{article_id}", response_model=LocalizedArticle,
            summary="An article in a language, falling back to its default language")
def get_article(article_id: int, session: DbSession, principal: KbRead, lang: str | None = None) -> LocalizedArticle:
    """``lang`` picks the translation; a missing one falls back (pt-BR → pt → default) and says so."""
    article = service.get_or_raise(session, article_id=article_id)
    language = _language(lang) if lang else article.default_language
    translation, fallback = service.localized(session, article=article, language=language)
    return LocalizedArticle(article=_read(session, article), translation=TranslationRead.model_validate(translation),
                            requested_language=language, fallback=fallback)


@router.patch("/articles/{article_id}", response_model=ArticleRead,
              summary="Publish, archive, move, retag or relate an article")
def update_article(article_id: int, body: ArticleUpdate, session: DbSession, principal: KbWrite) -> ArticleRead:
    """Status changes are events (kb.article.published / archived); related links are kept both ways."""
    article = service.get_or_raise(session, article_id=article_id)
    return _read(session, service.update_article(session, principal=principal, article=article, article_in=body))


@router.put("/articles/{article_id}/translations/{language}", response_model=TranslationRead,
            summary="Write an article's text in one language (a new version each time)")
def put_translation(article_id: int, language: str, body: TranslationIn, session: DbSession,
                    principal: KbWrite) -> TranslationRead:
    """Creates the language or replaces its text; every save is a new version in the history."""
    article = service.get_or_raise(session, article_id=article_id)
    translation = service.save_translation(session, principal=principal, article=article, language=language,
                                           translation_in=body)
    return TranslationRead.model_validate(translation)


@router.get("/articles/{article_id}/versions", response_model=list[VersionRead], summary="Version history")
def list_versions(article_id: int, session: DbSession, principal: KbRead, lang: str | None = None) -> list[VersionRead]:
    """Oldest first, per language; ``lang`` limits it to one."""
    service.get_or_raise(session, article_id=article_id)
    return [VersionRead.model_validate(v) for v in service.versions(session, article_id=article_id, language=lang)]


@router.get("/search", response_model=SearchResults, responses=error_responses(422),
            summary="Search as you type: best articles first; typos tolerated")
def search(
    session: DbSession, principal: MaybePrincipal,
    q: Annotated[str, Query(max_length=300, description="What the person typed so far")],
    brand: str | None = None, lang: str | None = None, limit: Annotated[int, Query(ge=1, le=50)] = 8,
) -> SearchResults:
    """Without a token only published public articles are searched; an agent's token
    (``kb:read``) also finds internal ones."""
    found = brands_service.resolve(session, ref=brand)
    internal = principal is not None and principal.has_scope("kb:read")
    return lookup.search_articles(session, brand=found, q=q, language=_language(lang) if lang else None,
                                  include_internal=internal, limit=limit)


@router.post("/articles/{article_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackRead,
             responses=error_responses(404, 422, 429), summary="Did this article help? (no token needed)")
def feedback(article_id: int, body: FeedbackIn, session: DbSession, request: Request) -> dict[str, object]:
    """For published public articles; counts towards the article's helpful / not helpful totals.
    Without a token it is open to anyone, so one address may send 30 in 10 minutes (then 429)."""
    throttle.check(request, "feedback")
    article = service.get_or_raise(session, article_id=article_id, include_internal=False, include_unpublished=False)
    row = activity.record_feedback(session, article=article, feedback_in=body)
    return {"id": row.id, "article_id": article.id, "helpful": row.helpful}



# --- files under articles ---------------------------------------------------------------


def _file_read(session: DbSession, article: Article, link, attachment) -> ArticleFileRead:  # type: ignore[no-untyped-def]
    brand = brands_service.resolve(session, ref=article.brand_id)
    return ArticleFileRead(id=link.id, article_id=article.id, filename=attachment.filename, kind=link.kind,
                           label=files.KINDS[link.kind].name, content_type=files.KINDS[link.kind].content_type,
                           size=attachment.size, url=files.public_path(brand.slug, link, attachment),
                           created_at=link.created_at)


@router.get("/articles/{article_id}/attachments", response_model=list[ArticleFileRead],
            summary="Files listed for download under an article")
def list_files(article_id: int, session: DbSession, principal: KbRead) -> list[ArticleFileRead]:
    """In the order the help center shows them."""
    article = service.get_or_raise(session, article_id=article_id)
    return [_file_read(session, article, link, a) for link, a in files.list_for(session, article_id=article.id)]


def _keep_file(request: Request, principal: Principal, article_id: int, staged: Staged,
               filename: str | None) -> ArticleFileRead:
    with request.app.state.db.transaction() as session:
        article = service.get_or_raise(session, article_id=article_id)
        link, attachment = files.add(session, store=attachment_store(request), principal=principal, article=article,
                                     staged=staged, filename=filename)
        return _file_read(session, article, link, attachment)


@router.post("/articles/{article_id}/attachments", response_model=ArticleFileRead,
             status_code=status.HTTP_201_CREATED, responses=error_responses(413),
             summary="Attach a file to an article (PDF, text, office document, zip)",
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"],
                 "properties": {"file": {"type": "string", "format": "binary"}}}}}}})
async def upload_file(article_id: int, request: Request) -> ArticleFileRead:
    """Multipart field `file`. Its name's extension and its bytes must agree on one of pdf, txt, csv,
    md, zip, docx, xlsx, pptx, odt, ods, odp, doc, xls, ppt (else 422); larger than the configured
    limit is 413; at most 20 files an article. Supervisors and admins with `kb:write`. Like the
    attachment API, the body is streamed to staging with no transaction open."""
    with request.app.state.db.transaction(read_only=True) as session:
        principal = await current_principal(await optional_principal(request, session))
    service.check_can_write(principal)
    max_bytes = request.app.state.settings.kb_attachment_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _FRAMING_ALLOWANCE:
        raise PayloadTooLarge(f"The file is larger than the {max_bytes} byte limit.", details={"max_bytes": max_bytes})
    store = attachment_store(request)
    with StagingFile(store.staging_dir, max_bytes=max_bytes) as staging:
        part = await _receive_file(request, staging)
        staged = staging.finish()
    try:
        return await run_in_threadpool(_keep_file, request, principal, article_id, staged, part.filename)
    finally:
        staged.path.unlink(missing_ok=True)


@router.delete("/articles/{article_id}/attachments/{file_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Take a file off an article")
def delete_file(article_id: int, file_id: int, session: DbSession, principal: KbWrite) -> Response:
    """Supervisors and admins only; recorded as a kb.attachment.removed event."""
    article = service.get_or_raise(session, article_id=article_id)
    files.remove(session, principal=principal, article=article, file_id=file_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
