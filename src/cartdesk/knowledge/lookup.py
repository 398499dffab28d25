"""Finding articles: help-center search, contact-form suggestions and the agent's composer.

One function, :func:`search_articles`, serves all three; they differ only in what the
reader may see (visitors: public articles; agents: internal ones too) and where
links point.
"""

from __future__ import annotations

from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from cartdesk.brands.models import Brand
from cartdesk.conversations.models import AuthorType, Message
from cartdesk.knowledge import search, semantic
from cartdesk.knowledge.models import Article, ArticleTranslation
from cartdesk.knowledge.schemas import SearchHit, SearchResults


def article_path(brand_slug: str, language: str, slug: str) -> str:
    """The public, SEO-friendly address of an article."""
    return f"/hc/{brand_slug}/{language}/articles/{slug}"


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(escape(text[last:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


def search_articles(
    session: Session, *, brand: Brand, q: str, language: str | None = None, include_internal: bool = False,
    limit: int = 8, hybrid: bool | None = None,
) -> SearchResults:
    """BM25, fused with semantic search when that is on (``hybrid`` None: as configured)."""
    language = language or brand.default_language
    query = search.parse(q)
    if query.empty:
        return SearchResults(query=q, language=language, hits=[])
    vocab = search.vocabulary(session, brand_id=brand.id, include_internal=include_internal)
    query = search.mark_common(search.expand_typos(query, vocab), vocab, language=language)
    fused = semantic.enabled() if hybrid is None else hybrid
    found = search.candidates(session, query=query, brand_id=brand.id, language=language,
                              fallback=brand.default_language, include_internal=include_internal,
                              limit=semantic.CANDIDATES if fused else limit)
    if fused:
        found = _fuse(session, found, brand=brand, q=q, language=language, include_internal=include_internal,
                      limit=limit)
    if not found:
        return SearchResults(query=q, language=language, hits=[], expansions=list(query.expansions))
    rows = {
        t.id: (t, a) for t, a in session.execute(
            select(ArticleTranslation, Article).join(Article, Article.id == ArticleTranslation.article_id)
            .where(ArticleTranslation.id.in_([c.translation_id for c in found]))
            # Not the Markdown and HTML bodies: a results list needs the plain text only.
            .options(load_only(ArticleTranslation.language, ArticleTranslation.title, ArticleTranslation.summary,
                               ArticleTranslation.body_text),
                     load_only(Article.slug, Article.visibility))
        )
    }
    hits = []
    for c in found:
        translation, article = rows[c.translation_id]
        text, spans = search.snippet(translation.body_text, query)
        hits.append(SearchHit(
            article_id=article.id, slug=article.slug, language=translation.language, title=translation.title,
            summary=translation.summary, snippet_html=_marked(text, spans), score=round(c.score, 6),
            visibility=article.visibility, url=article_path(brand.slug, language, article.slug),
        ))
    return SearchResults(query=q, language=language, hits=hits, expansions=list(query.expansions))


def _fuse(session: Session, found: list[search.Candidate], *, brand: Brand, q: str, language: str,
          include_internal: bool, limit: int) -> list[search.Candidate]:
    near = semantic.nearest(session, brand_id=brand.id, text=q, language=language, fallback=brand.default_language,
                            include_internal=include_internal)
    by_article = {c.article_id: c for c in found}
    for tid, aid, lang in near:
        by_article.setdefault(aid, search.Candidate(translation_id=tid, article_id=aid, language=lang, score=0.0))
    scores = semantic.fuse([c.article_id for c in found], [aid for _, aid, _ in near])
    ranked = sorted(scores, key=lambda aid: (-scores[aid], aid))[:limit]
    return [search.Candidate(translation_id=by_article[a].translation_id, article_id=a,
                             language=by_article[a].language, score=scores[a]) for a in ranked]


def latest_customer_text(session: Session, *, conversation_id: int) -> str:
    """What the customer said last: the composer's suggestions answer that."""
    row = session.execute(
        select(Message.body_text).where(Message.conversation_id == conversation_id,
                                        Message.author_type == AuthorType.customer)
        .order_by(Message.id.desc()).limit(1)
    ).first()
    return row[0] if row else ""
