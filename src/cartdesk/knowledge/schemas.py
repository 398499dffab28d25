from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cartdesk.knowledge.models import ArticleStatus, Visibility

LANGUAGE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_BODY = 200_000


def check_language(value: str) -> str:
    if not LANGUAGE.match(value):
        raise ValueError("a language code like 'en', 'de' or 'pt-BR'")
    return value


def _check_slug(value: str | None) -> str | None:
    if value is not None and not SLUG.match(value):
        raise ValueError("lower-case letters, digits and single hyphens, e.g. 'return-policy'")
    return value


def _check_tags(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    cleaned = []
    for tag in value:
        tag = tag.strip().lower()
        if not tag or len(tag) > 64:
            raise ValueError("tags must be 1 to 64 characters")
        cleaned.append(tag)
    return list(dict.fromkeys(cleaned))


class CategoryCreate(BaseModel):
    brand: str | int | None = Field(default=None, description="Brand slug or id; the default brand when omitted")
    parent_id: int | None = Field(default=None, description="Set to make this a section of that category")
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, max_length=120)
    description: str = Field(default="", max_length=500)
    icon: str = Field(default="book", max_length=32)
    position: int = 0
    translations: dict[str, dict[str, str]] = {}

    _slug = field_validator("slug")(classmethod(lambda cls, v: _check_slug(v)))


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    parent_id: int | None
    slug: str
    name: str
    description: str
    icon: str
    position: int
    translations: dict[str, Any]


class TranslationIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    body_md: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown (CommonMark + tables)")
    summary: str = Field(default="", max_length=500)


class ArticleCreate(TranslationIn):
    section_id: int
    slug: str | None = Field(default=None, max_length=160, description="Made from the title when omitted")
    language: str = Field(default="en", description="The article's default language")
    status: ArticleStatus = ArticleStatus.draft
    visibility: Visibility = Visibility.public
    tags: list[str] = []
    related_ids: list[int] = []
    position: int = 0

    _lang = field_validator("language")(classmethod(lambda cls, v: check_language(v)))
    _slug = field_validator("slug")(classmethod(lambda cls, v: _check_slug(v)))
    _tags = field_validator("tags")(classmethod(lambda cls, v: _check_tags(v)))


class ArticleUpdate(BaseModel):
    """Fields of the article itself; words change through PUT …/translations/{language}."""

    section_id: int | None = None
    slug: str | None = Field(default=None, max_length=160)
    status: ArticleStatus | None = None
    visibility: Visibility | None = None
    tags: list[str] | None = None
    related_ids: list[int] | None = None
    position: int | None = None

    _slug = field_validator("slug")(classmethod(lambda cls, v: _check_slug(v)))
    _tags = field_validator("tags")(classmethod(lambda cls, v: _check_tags(v)))


class TranslationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    language: str
    title: str
    summary: str
    body_md: str
    body_html: str
    version: int
    updated_at: datetime


class ArticleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    section_id: int
    slug: str
    status: ArticleStatus
    visibility: Visibility
    default_language: str
    tags: list[str]
    position: int
    published_at: datetime | None
    view_count: int
    helpful_count: int
    unhelpful_count: int
    created_at: datetime
    updated_at: datetime
    title: str = ""
    languages: list[str] = []
    related_ids: list[int] = []


class LocalizedArticle(BaseModel):
    """An article in the language asked for, or in its default language when that is missing."""

    article: ArticleRead
    translation: TranslationRead
    requested_language: str
    fallback: bool = Field(description="True when the requested language is missing")


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    language: str
    version: int
    title: str
    body_md: str
    author_id: int | None
    created_at: datetime


class ArticleFileRead(BaseModel):
    """A file under an article. ``url`` is its public download address, which answers
    while the article is published and public."""

    id: int
    article_id: int
    filename: str
    kind: str  # the checked file kind: its extension (pdf, docx, zip, txt, ...)
    label: str  # what the help center calls it: PDF, Word, ZIP, Text, ...
    content_type: str
    size: int
    url: str
    created_at: datetime


class SearchHit(BaseModel):
    article_id: int
    slug: str
    language: str
    title: str
    summary: str
    snippet_html: str = Field(description="Escaped text with <mark> around matching words")
    score: float
    visibility: Visibility
    url: str


class SearchResults(BaseModel):
    query: str
    language: str
    hits: list[SearchHit]
    expansions: list[str] = Field(default=[], description="Vocabulary words added for likely typos")


class FeedbackIn(BaseModel):
    helpful: bool
    comment: str = Field(default="", max_length=2000)
    language: str = "en"

    _lang = field_validator("language")(classmethod(lambda cls, v: check_language(v)))


class FeedbackRead(BaseModel):
    id: int
    article_id: int
    helpful: bool
