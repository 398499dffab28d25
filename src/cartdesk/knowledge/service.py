"""Knowledge-base rules: categories, articles, translations with fallback, versions, related
articles, and who may see what.

Writes follow check / do / notify: the ``check_*`` functions validate, the body
changes rows, flushes and records an event. Services never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.brands import service as brands_service
from cartdesk.brands.models import Brand
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.jobs import service as jobs_service
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cartdesk.knowledge import content, semantic
from cartdesk.knowledge.models import (
    Article,
    ArticleStatus,
    ArticleTranslation,
    ArticleVersion,
    Category,
    RelatedArticle,
    Visibility,
)
from cartdesk.knowledge.schemas import (
    ArticleCreate,
    ArticleUpdate,
    CategoryCreate,
    TranslationIn,
    check_language,
)

# --- who may do what ---------------------------------------------------------------


def check_can_write(principal: Principal) -> None:
    """Supervisors and admins write the knowledge base; agents read it (and suggest edits by note)."""
    if not principal.is_supervisor:
        raise Forbidden("Writing the knowledge base needs a supervisor or admin.")
    if not principal.has_scope("kb:write"):
        raise Forbidden("This token lacks the kb:write scope.", details={"scope": "kb:write"})


def visible_articles(*, include_internal: bool, include_unpublished: bool = False) -> list[Any]:
    """The WHERE clause for articles a reader may see: visitors get published public
    articles, agents also internal ones, writers also drafts and archived ones."""
    where: list[Any] = []
    if not include_unpublished:
        where.append(Article.status == ArticleStatus.published)
    if not include_internal:
        where.append(Article.visibility == Visibility.public)
    return where


# --- categories --------------------------------------------------------------------


def list_categories(session: Session, *, brand_id: int) -> Sequence[Category]:
    return session.scalars(
        select(Category).where(Category.brand_id == brand_id).order_by(Category.position, Category.id)
    ).all()


def get_category_or_raise(session: Session, *, category_id: int, brand_id: int | None = None) -> Category:
    category = session.get(Category, category_id)
    if category is None or (brand_id is not None and category.brand_id != brand_id):
        raise NotFound(f"Category {category_id} does not exist.", details={"id": category_id})
    return category


def create_category(session: Session, *, actor: Actor, category_in: CategoryCreate) -> Category:
    brand = brands_service.resolve(session, ref=category_in.brand)
    if category_in.parent_id is not None:
        parent = session.get(Category, category_in.parent_id)
        if parent is None or parent.brand_id != brand.id:
            raise ValidationFailed("The parent category does not exist in this brand.",
                                   details=[{"field": "parent_id", "value": category_in.parent_id}])
        if parent.parent_id is not None:
            raise ValidationFailed("Sections cannot have sections: pick a top-level category as parent.",
                                   details=[{"field": "parent_id", "value": category_in.parent_id}])
    for lang in category_in.translations:
        _check_language_field(lang, field="translations")
    slug = category_in.slug or content.slugify(category_in.name)
    if session.scalar(select(Category.id).where(Category.brand_id == brand.id, Category.slug == slug)):
        raise Conflict(f"A category with slug {slug!r} already exists in this brand.", details={"field": "slug"})
    category = Category(
        brand_id=brand.id, parent_id=category_in.parent_id, slug=slug, name=category_in.name.strip(),
        description=category_in.description, icon=category_in.icon, position=category_in.position,
        translations=category_in.translations,
    )
    session.add(category)
    session.flush()
    events_service.record(session, verb="kb.category.created", actor=actor, subject_type="kb_category",
                          subject_id=category.id, brand_id=brand.id, data={"slug": slug, "name": category.name})
    return category


def category_name(category: Category, language: str) -> tuple[str, str]:
    """(name, description) in ``language``, falling back to the category's own."""
    local = (category.translations or {}).get(language) or {}
    return local.get("name") or category.name, local.get("description") or category.description


# --- articles ----------------------------------------------------------------------


def get(session: Session, *, article_id: int) -> Article | None:
    return session.get(Article, article_id)


def get_or_raise(session: Session, *, article_id: int, include_internal: bool = True,
                 include_unpublished: bool = True) -> Article:
    article = session.scalar(select(Article).where(
        Article.id == article_id, *visible_articles(include_internal=include_internal,
                                                    include_unpublished=include_unpublished)))
    if article is None:
        raise NotFound(f"Article {article_id} does not exist.", details={"id": article_id})
    return article


def get_by_slug(session: Session, *, brand_id: int, slug: str, include_internal: bool = False) -> Article | None:
    return session.scalar(select(Article).where(
        Article.brand_id == brand_id, Article.slug == slug, *visible_articles(include_internal=include_internal)))


def list_articles(
    session: Session, *, brand_id: int, section_id: int | None = None, status: ArticleStatus | None = None,
    include_internal: bool = False, include_unpublished: bool = False, limit: int = 200,
) -> Sequence[Article]:
    stmt = select(Article).where(
        Article.brand_id == brand_id,
        *visible_articles(include_internal=include_internal, include_unpublished=include_unpublished),
    )
    if section_id is not None:
        stmt = stmt.where(Article.section_id == section_id)
    if status is not None:
        stmt = stmt.where(Article.status == status)
    return session.scalars(stmt.order_by(Article.section_id, Article.position, Article.id).limit(limit)).all()


def section_counts(session: Session, *, brand_id: int, include_internal: bool = False) -> dict[int, int]:
    """How many articles a reader may see in each section (one grouped count, not the rows)."""
    rows = session.execute(
        select(Article.section_id, func.count()).where(
            Article.brand_id == brand_id, *visible_articles(include_internal=include_internal),
        ).group_by(Article.section_id)
    )
    return dict(rows.all())  # type: ignore[arg-type]


def popular_articles(session: Session, *, brand_id: int, limit: int = 6) -> Sequence[Article]:
    """The most read published public articles."""
    return session.scalars(
        select(Article).where(Article.brand_id == brand_id, *visible_articles(include_internal=False))
        .order_by(Article.view_count.desc(), Article.id).limit(limit)
    ).all()


def articles_in_sections(session: Session, *, brand_id: int, section_ids: Sequence[int],
                         limit: int = 10_000) -> Sequence[Article]:
    """Published public articles of the given sections, in their order."""
    if not section_ids:
        return []
    return session.scalars(
        select(Article).where(Article.brand_id == brand_id, Article.section_id.in_(section_ids),
                              *visible_articles(include_internal=False))
        .order_by(Article.section_id, Article.position, Article.id).limit(limit)
    ).all()


def _check_language_field(language: str, *, field: str) -> None:
    try:
        check_language(language)
    except ValueError as exc:
        raise ValidationFailed(f"{language!r} is not {exc}.", details=[{"field": field, "value": language}]) from None


def _check_section(session: Session, *, brand_id: int, section_id: int) -> Category:
    section = session.get(Category, section_id)
    if section is None or section.brand_id != brand_id:
        raise ValidationFailed("The section does not exist in this brand.",
                               details=[{"field": "section_id", "value": section_id}])
    return section


def _check_slug_free(session: Session, *, brand_id: int, slug: str, article_id: int | None = None) -> None:
    taken = session.scalar(select(Article.id).where(Article.brand_id == brand_id, Article.slug == slug))
    if taken is not None and taken != article_id:
        raise Conflict(f"An article with slug {slug!r} already exists in this brand.", details={"field": "slug"})


def _check_related(session: Session, *, article: Article, related_ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(related_ids))
    if article.id in ids:
        raise ValidationFailed("An article cannot be related to itself.", details=[{"field": "related_ids"}])
    found = set(session.scalars(select(Article.id).where(Article.id.in_(ids), Article.brand_id == article.brand_id)))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed("Related articles must exist in the same brand.",
                               details=[{"field": "related_ids", "missing": missing}])
    return ids


def _unique_slug(session: Session, *, brand_id: int, title: str) -> str:
    base = content.slugify(title)
    slug, n = base, 2
    while session.scalar(select(Article.id).where(Article.brand_id == brand_id, Article.slug == slug)):
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_article(session: Session, *, principal: Principal, article_in: ArticleCreate,
                   brand: Brand | None = None) -> Article:
    check_can_write(principal)
    section = session.get(Category, article_in.section_id)
    if section is None:
        raise ValidationFailed("The section does not exist.", details=[{"field": "section_id",
                                                                         "value": article_in.section_id}])
    brand_id = brand.id if brand is not None else section.brand_id
    _check_section(session, brand_id=brand_id, section_id=article_in.section_id)
    if article_in.slug:
        _check_slug_free(session, brand_id=brand_id, slug=article_in.slug)
    slug = article_in.slug or _unique_slug(session, brand_id=brand_id, title=article_in.title)
    now = utcnow()
    article = Article(
        brand_id=brand_id, section_id=section.id, slug=slug, status=article_in.status,
        visibility=article_in.visibility, default_language=article_in.language, tags=article_in.tags,
        position=article_in.position, author_id=principal.user_id,
        published_at=now if article_in.status == ArticleStatus.published else None,
        view_count=0, helpful_count=0, unhelpful_count=0, created_at=now, updated_at=now,
    )
    session.add(article)
    session.flush()
    _write_translation(session, principal=principal, article=article, language=article_in.language,
                       translation_in=article_in)
    if article_in.related_ids:
        _set_related(session, article=article, ids=_check_related(session, article=article,
                                                                   related_ids=article_in.related_ids))
    events_service.record(
        session, verb="kb.article.created", actor=principal.actor, subject_type="kb_article", subject_id=article.id,
        brand_id=brand_id, data={"slug": slug, "status": article.status, "language": article.default_language},
    )
    return article


def update_article(session: Session, *, principal: Principal, article: Article, article_in: ArticleUpdate) -> Article:
    check_can_write(principal)
    changes = article_in.model_dump(exclude_unset=True)
    nulled = sorted(k for k, v in changes.items() if v is None)
    if nulled:
        raise ValidationFailed("These fields cannot be null.", details=[{"field": k} for k in nulled])
    if "section_id" in changes:
        _check_section(session, brand_id=article.brand_id, section_id=changes["section_id"])
    if "slug" in changes:
        _check_slug_free(session, brand_id=article.brand_id, slug=changes["slug"], article_id=article.id)
    related = changes.pop("related_ids", None)
    if related is not None:
        related = _check_related(session, article=article, related_ids=related)
    before = {k: getattr(article, k) for k in changes}
    for key, value in changes.items():
        setattr(article, key, value)
    if changes.get("status") == ArticleStatus.published and before.get("status") != ArticleStatus.published:
        article.published_at = utcnow()
    article.updated_at = utcnow()
    if "tags" in changes:
        sync_search_tags(session, article=article)
    if related is not None:
        before["related_ids"] = related_ids(session, article_id=article.id)
        changes["related_ids"] = related
        _set_related(session, article=article, ids=related)
    session.flush()
    verb = "kb.article.updated"
    if "status" in changes and before.get("status") != changes["status"]:
        verb = f"kb.article.{changes['status']}"  # kb.article.published / archived / draft
    events_service.record(session, verb=verb, actor=principal.actor, subject_type="kb_article",
                          subject_id=article.id, brand_id=article.brand_id,
                          data=events_service.diff(before, changes))
    return article


def save_translation(session: Session, *, principal: Principal, article: Article, language: str,
                     translation_in: TranslationIn) -> ArticleTranslation:
    """Create or change one language's words; each save is a new version in the history."""
    check_can_write(principal)
    _check_language_field(language, field="language")
    translation = _write_translation(session, principal=principal, article=article, language=language,
                                     translation_in=translation_in)
    article.updated_at = utcnow()
    session.flush()
    events_service.record(
        session, verb="kb.translation.saved", actor=principal.actor, subject_type="kb_article",
        subject_id=article.id, brand_id=article.brand_id,
        data={"language": language, "version": translation.version},
    )
    return translation


def _write_translation(session: Session, *, principal: Principal, article: Article, language: str,
                       translation_in: TranslationIn) -> ArticleTranslation:
    body_html = content.render_markdown(translation_in.body_md)
    body_text = content.plain_text(body_html)
    now = utcnow()
    translation = session.scalar(select(ArticleTranslation).where(
        ArticleTranslation.article_id == article.id, ArticleTranslation.language == language))
    if translation is None:
        translation = ArticleTranslation(article_id=article.id, language=language, version=0, created_at=now)
        session.add(translation)
    translation.title = translation_in.title.strip()
    translation.summary = translation_in.summary.strip() or content.summary_of(body_text)
    translation.body_md = translation_in.body_md
    translation.body_html = body_html
    translation.body_text = body_text
    translation.search_tags = " ".join(article.tags or [])
    translation.version += 1
    translation.updated_at = now
    session.add(ArticleVersion(article_id=article.id, language=language, version=translation.version,
                               title=translation.title, body_md=translation.body_md, author_id=principal.user_id,
                               created_at=now))
    session.flush()
    if semantic.enabled():  # the embedding is computed by a job, after commit, off the request
        jobs_service.enqueue(session, "kb.embed", {"translation_id": translation.id},
                             dedupe_key=f"kb.embed:{translation.id}:{translation.version}")
    return translation


def sync_search_tags(session: Session, *, article: Article) -> None:
    """Tags are indexed with each translation's words; copy them after the tags change."""
    text_tags = " ".join(article.tags or [])
    for translation in translations(session, article_id=article.id):
        if translation.search_tags != text_tags:
            translation.search_tags = text_tags
    session.flush()


def translations(session: Session, *, article_id: int) -> Sequence[ArticleTranslation]:
    return session.scalars(select(ArticleTranslation).where(ArticleTranslation.article_id == article_id)
                           .order_by(ArticleTranslation.language)).all()


def localized(session: Session, *, article: Article, language: str) -> tuple[ArticleTranslation, bool]:
    """The article in ``language``, else in its default language; and whether that fallback happened.

    A regional code falls back to its base language first: "pt-BR" → "pt" → default.
    """
    wanted = [language] + ([language.split("-")[0]] if "-" in language else []) + [article.default_language]
    rows = {t.language: t for t in session.scalars(select(ArticleTranslation).where(
        ArticleTranslation.article_id == article.id, ArticleTranslation.language.in_(wanted)))}
    for lang in wanted:
        if lang in rows:
            return rows[lang], lang != language
    raise NotFound(f"Article {article.id} has no text yet.", details={"id": article.id})


def versions(session: Session, *, article_id: int, language: str | None = None) -> Sequence[ArticleVersion]:
    stmt = select(ArticleVersion).where(ArticleVersion.article_id == article_id)
    if language:
        stmt = stmt.where(ArticleVersion.language == language)
    return session.scalars(stmt.order_by(ArticleVersion.language, ArticleVersion.version)).all()


def related_ids(session: Session, *, article_id: int) -> list[int]:
    return list(session.scalars(select(RelatedArticle.related_id).where(RelatedArticle.article_id == article_id)
                                .order_by(RelatedArticle.related_id)))


def _set_related(session: Session, *, article: Article, ids: list[int]) -> None:
    """"See also" is symmetric: the links are written in both directions."""
    old = related_ids(session, article_id=article.id)
    session.execute(delete(RelatedArticle).where(or_(
        RelatedArticle.article_id == article.id,
        (RelatedArticle.related_id == article.id) & RelatedArticle.article_id.in_(old),
    )))
    for other in ids:
        session.add(RelatedArticle(article_id=article.id, related_id=other))
        session.add(RelatedArticle(article_id=other, related_id=article.id))
    session.flush()


def related_articles(session: Session, *, article: Article, include_internal: bool = False) -> Sequence[Article]:
    return session.scalars(
        select(Article).join(RelatedArticle, RelatedArticle.related_id == Article.id)
        .where(RelatedArticle.article_id == article.id, *visible_articles(include_internal=include_internal))
        .order_by(Article.position, Article.id)
    ).all()


def titles(session: Session, *, article_ids: Sequence[int], language: str) -> dict[int, ArticleTranslation]:
    """For lists: each article's translation in ``language``, else its default language."""
    if not article_ids:
        return {}
    rows = session.execute(
        select(ArticleTranslation, Article.default_language)
        .join(Article, Article.id == ArticleTranslation.article_id)
        .where(ArticleTranslation.article_id.in_(article_ids),
               or_(ArticleTranslation.language == language, ArticleTranslation.language == Article.default_language))
    ).all()
    out: dict[int, ArticleTranslation] = {}
    for translation, _default in rows:
        if translation.article_id not in out or translation.language == language:
            out[translation.article_id] = translation
    return out


def languages_by_article(session: Session, *, brand_id: int) -> dict[str, list[str]]:
    """Published public articles' slugs with the languages each is written in (for the sitemap)."""
    rows = session.execute(
        select(Article.slug, ArticleTranslation.language).join(ArticleTranslation, ArticleTranslation.article_id == Article.id)
        .where(Article.brand_id == brand_id, *visible_articles(include_internal=False))
        .order_by(Article.slug, ArticleTranslation.language)
    ).all()
    out: dict[str, list[str]] = {}
    for slug, language in rows:
        out.setdefault(slug, []).append(language)
    return out
