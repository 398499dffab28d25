"""The knowledge base: categories with sections, articles and their translations,
version history, feedback, and what visitors searched, read and did next.

An article belongs to one brand and one section. Its words live in
``ArticleTranslation`` rows, one per language; the article's ``default_language``
translation always exists and is what a visitor gets when their language is missing.
``status`` and ``visibility`` are the article's, not the translation's: publishing
publishes every language at once. ``body_html`` and ``body_text`` are derived from
``body_md`` by the service (rendered, then sanitised) and never written directly.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cartdesk.db.base import Base, TimestampMixin


class ArticleStatus(enum.StrEnum):
    draft = "draft"  # only the team sees it
    published = "published"  # live in the help center (or to agents, when internal)
    archived = "archived"  # out of the help center and search; history kept


class Visibility(enum.StrEnum):
    public = "public"  # in the help center
    internal = "internal"  # agents only: in the composer's suggestions and the agent API


class Category(TimestampMixin, Base):
    """A category (``parent_id`` is None) or a section inside one. Names in other
    languages are in ``translations`` as ``{"de": {"name": ..., "description": ...}}``."""

    __tablename__ = "kb_categories"
    __table_args__ = (UniqueConstraint("brand_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("kb_categories.id"))
    slug: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500), default="")
    icon: Mapped[str] = mapped_column(String(32), default="book")
    position: Mapped[int] = mapped_column(default=0)
    translations: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Article(TimestampMixin, Base):
    """One article. Counters are kept by the service: ``view_count`` from the page's
    view beacon, ``helpful_count``/``unhelpful_count`` from feedback."""

    __tablename__ = "kb_articles"
    __table_args__ = (
        UniqueConstraint("brand_id", "slug"),
        Index("ix_kb_articles_section", "section_id", "status", "position"),
        # The search vocabulary's freshness check: newest change per brand (knowledge/search.py).
        Index("ix_kb_articles_brand_updated", "brand_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    section_id: Mapped[int] = mapped_column(ForeignKey("kb_categories.id"))
    slug: Mapped[str] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(16), default=ArticleStatus.draft)
    visibility: Mapped[str] = mapped_column(String(16), default=Visibility.public)
    default_language: Mapped[str] = mapped_column(String(16), default="en")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(default=0)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None]
    view_count: Mapped[int] = mapped_column(default=0)
    helpful_count: Mapped[int] = mapped_column(default=0)
    unhelpful_count: Mapped[int] = mapped_column(default=0)


class ArticleTranslation(TimestampMixin, Base):
    """An article's words in one language; the search index covers these rows.
    ``search_tags`` is the article's tags as text, copied here so the index sees them."""

    __tablename__ = "kb_article_translations"
    __table_args__ = (UniqueConstraint("article_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(String(500), default="")
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    search_tags: Mapped[str] = mapped_column(String(1000), default="")
    version: Mapped[int] = mapped_column(default=1)


class ArticleVersion(Base):
    """Every saved state of a translation, oldest first; never changed once written."""

    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "language", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    body_md: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class RelatedArticle(Base):
    """"See also" links, stored one way; the service writes both directions."""

    __tablename__ = "kb_related_articles"

    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True)
    related_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True)


class Feedback(Base):
    """A visitor's "did this help?" answer, with an optional comment."""

    __tablename__ = "kb_feedback"
    __table_args__ = (Index("ix_kb_feedback_article", "article_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class ArticleView(Base):
    """One view of an article page by a browser (the page's beacon), for views over time."""

    __tablename__ = "kb_article_views"
    __table_args__ = (Index("ix_kb_article_views_brand_time", "brand_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class SearchLog(Base):
    """A search someone finished (not every keystroke): what, how many results, which one
    they opened. ``normalized`` is the lower-cased, de-duplicated words, for grouping."""

    __tablename__ = "kb_searches"
    __table_args__ = (Index("ix_kb_searches_brand_time", "brand_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    query: Mapped[str] = mapped_column(String(300))
    normalized: Mapped[str] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # helpcenter | contact | agent | api
    # A random per-browser id (from the signed session cookie), so a person's keystrokes
    # collapse into one search and a later click is credited to it. Not a person's identity.
    visitor: Mapped[str] = mapped_column(String(64), default="")
    result_count: Mapped[int]
    clicked_article_id: Mapped[int | None] = mapped_column(ForeignKey("kb_articles.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class ArticleViewDaily(Base):
    """Views of one article on one UTC day, rolled up from ``kb_article_views`` once the
    raw rows are older than ``kb_activity_raw_days`` (see ``rollup.py``)."""

    __tablename__ = "kb_article_views_daily"
    __table_args__ = (Index("ix_kb_article_views_daily_brand_day", "brand_id", "day"),)

    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    views: Mapped[int]


class SearchDaily(Base):
    """Finished searches of one wording on one UTC day, by outcome, rolled up from
    ``kb_searches``: what insights needs (no results / no click) without the visitor ids."""

    __tablename__ = "kb_searches_daily"

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    normalized: Mapped[str] = mapped_column(String(300), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)  # none | noclick | clicked
    searches: Mapped[int]


class ArticleImage(Base):
    """An image uploaded for articles: the bytes are an ordinary attachment (same store,
    same row); this row makes it public under the brand's help center."""

    __tablename__ = "kb_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class ArticleAttachment(Base):
    """A file offered for download under an article (a PDF form, a size chart as a
    spreadsheet, a zip of labels). The bytes are an ordinary attachment; this row ties
    it to the article, so it is public exactly when the article is. ``kind`` is the
    checked file kind (``files.KINDS``), decided from the name and the bytes together."""

    __tablename__ = "kb_article_attachments"
    __table_args__ = (Index("ix_kb_article_attachments_article", "article_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class Deflection(Base):
    """A visitor on the contact form who left satisfied with an article instead of writing to us."""

    __tablename__ = "kb_deflections"
    __table_args__ = (Index("ix_kb_deflections_brand_time", "brand_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("kb_articles.id", ondelete="SET NULL"))
    query: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime]


class Embedding(Base):
    """A translation's sentence embedding (semantic search, the ``[ml]`` extra): float32
    values as bytes, normalised to unit length; ``version`` is the translation's version
    it was computed from, so a stale vector is recomputed, never used."""

    __tablename__ = "kb_embeddings"
    __table_args__ = (Index("ix_kb_embeddings_brand", "brand_id"),)

    translation_id: Mapped[int] = mapped_column(
        ForeignKey("kb_article_translations.id", ondelete="CASCADE"), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    model: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
