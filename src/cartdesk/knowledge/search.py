"""Article search: BM25-style ranking over SQLite FTS5 or PostgreSQL full text, one interface.

What a visitor types becomes a list of words (never query syntax: only ``\\w`` runs
survive, so nothing can be a syntax error or an injected operator). Common words
are dropped, the last word is a prefix while it is still being typed, and words are
OR-ed: "where is my parcel" must find the article that says "parcel" without "where".
Ranking is what rewards matching more and rarer words:

- SQLite: FTS5's ``bm25()`` with column weights title 10, tags 5, body 1, over an index
  of words stemmed in each translation's language (``kit/stemming.py``, Snowball; the
  query's words are stemmed the same way here), unicode61 folding diacritics.
- PostgreSQL: ``ts_rank`` over a weighted tsvector (title A, tags B, body C) with
  length normalisation, over a stored generated tsvector with a GIN index, built with the
  translation language's text-search configuration (``kb_regconfig``, migration 0009);
  articles holding every word are ranked alone first when there are enough (see ``_postgres``). This is
  not BM25 (PostgreSQL has none built in) but ranks the same way on our tests.

Typos: a word that is not in the brand's published vocabulary is expanded with its
nearest vocabulary words (edit distance 1, or 2 for long words, transpositions
count once), so "parcle" searches "parcle OR parcel". Expanding rather than
replacing means a correct word the vocabulary lacks still matches by its stem.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import Boolean, Integer, Row, String, bindparam, event, func, inspect, select, text
from sqlalchemy.orm import Session

from cartdesk.kit.stemming import stem
from cartdesk.knowledge.models import Article, ArticleStatus, ArticleTranslation, Visibility

MAX_TERMS = 12
MIN_PREFIX = 3
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no meaning for finding an article (English; other languages rank
# by IDF alone). Kept short on purpose: "return", "order", "not" are meaningful here.
STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "too", "us", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your", "yours", "im", "ive", "id", "dont"]
)


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...]  # what the person typed, normalised, stopwords removed
    prefix: bool  # the last word is still being typed
    expansions: tuple[str, ...] = ()  # vocabulary words standing in for typos
    # Everyday words, rarest first: on PostgreSQL they rank candidates but do not pick them
    # (``mark_common``), unless the others pick too few.
    common: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.words

    @property
    def normalized(self) -> str:
        return " ".join(self.words)


def parse(raw: str) -> Query:
    words = [w.lower() for w in _WORD.findall(raw or "")][: MAX_TERMS * 2]
    meaningful = [w for w in words if w not in STOPWORDS] or words
    meaningful = list(dict.fromkeys(w[:64] for w in meaningful))[:MAX_TERMS]
    typing = bool(raw) and not raw[-1].isspace() and bool(words) and meaningful[-1:] == words[-1:]
    return Query(words=tuple(meaningful), prefix=typing and len(meaningful[-1]) >= MIN_PREFIX)


@dataclass(frozen=True)
class Candidate:
    translation_id: int
    article_id: int
    language: str
    score: float  # higher is better, on either backend


@dataclass
class _Vocabulary:
    stamp: tuple[object, ...]
    checked_at: float = 0.0  # time.monotonic() when the stamp was last read
    counts: Counter[str] = field(default_factory=Counter)
    words: list[str] = field(default_factory=list)
    # In how many translations each stem occurs (stemmed in the translation's language), of ``docs``.
    stem_docs: Counter[str] = field(default_factory=Counter)
    docs: int = 0
    stems: list[str] = field(default_factory=list)  # sorted, for prefixes

    def docs_with(self, stem_: str, *, prefix: bool = False) -> int:
        """How many translations hold the stem (with ``prefix``: a stem starting with it; an
        upper bound, as one translation may hold several)."""
        if not prefix:
            return self.stem_docs[stem_]
        start = bisect.bisect_left(self.stems, stem_)
        total = 0
        for s in self.stems[start:]:
            if not s.startswith(stem_) or total >= self.docs:
                break
            total += self.stem_docs[s]
        return min(total, self.docs)


_vocab_cache: dict[tuple[int, bool], _Vocabulary] = {}
_vocab_lock = threading.Lock()
# How long a cached vocabulary is used before its stamp is read again: an edit made by
# another process is seen within this many seconds (this process's own edits at once,
# see ``_forget_on_flush``). Reading the stamp on every keystroke cost ~2 ms a search.
STAMP_TTL = 2.0


@event.listens_for(Session, "after_flush")
def _forget_on_flush(session: Session, _context: object) -> None:
    """An article written in this process drops the cached vocabularies at once."""
    if not _vocab_cache:
        return
    changed = any(isinstance(obj, Article | ArticleTranslation) for obj in (*session.new, *session.deleted))
    changed = changed or any(
        isinstance(obj, ArticleTranslation)
        or (isinstance(obj, Article) and any(inspect(obj).attrs[name].history.has_changes()
                                             for name in ("status", "visibility", "brand_id")))
        for obj in session.dirty
    )
    if changed:
        with _vocab_lock:
            _vocab_cache.clear()


def _published(brand_id: int, include_internal: bool) -> list[object]:
    where: list[object] = [Article.brand_id == brand_id, Article.status == ArticleStatus.published]
    if not include_internal:
        where.append(Article.visibility == Visibility.public)
    return where


def vocabulary(session: Session, *, brand_id: int, include_internal: bool) -> _Vocabulary:
    """The brand's published words with their frequencies, rebuilt when articles change.

    Kept per process. The stamp (one index-only aggregate) is read again after
    ``STAMP_TTL`` seconds, so another process's edit is seen within that time; an edit
    flushed in this process drops the cache at once.
    """
    # Every content change (text, status, visibility, tags) moves the article's updated_at,
    # so the newest updated_at and the count, both read from one index, tell when to rebuild.
    key = (brand_id, include_internal)
    cached = _vocab_cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached.checked_at < STAMP_TTL:
        return cached
    stamp = tuple(session.execute(
        select(func.count(), func.max(Article.updated_at)).where(Article.brand_id == brand_id)
    ).one())
    if cached is not None and cached.stamp == stamp:
        cached.checked_at = now
        return cached
    counts: Counter[str] = Counter()
    stem_docs: Counter[str] = Counter()
    docs = 0
    where = _published(brand_id, include_internal)
    rows = session.execute(
        select(ArticleTranslation.language, ArticleTranslation.title, ArticleTranslation.search_tags,
               ArticleTranslation.body_text)
        .join(Article, Article.id == ArticleTranslation.article_id).where(*where)
    )
    for language, title, tags, body in rows:
        words = [w.lower() for w in _WORD.findall(f"{title} {tags} {body}")]
        counts.update(w for w in words if len(w) > 2 and not w.isdigit())
        stem_docs.update({stem(language, w) for w in words})
        docs += 1
    vocab = _Vocabulary(stamp=stamp, checked_at=now, counts=counts, words=list(counts), stem_docs=stem_docs, docs=docs,
                        stems=sorted(stem_docs))
    with _vocab_lock:
        _vocab_cache[key] = vocab
    return vocab


def _max_distance(word: str) -> int:
    return 0 if len(word) < 4 else 1 if len(word) < 7 else 2


def expand_typos(query: Query, vocab: _Vocabulary) -> Query:
    """Add the closest vocabulary words for each word the brand's articles never use."""
    extra: list[str] = []
    for i, word in enumerate(query.words):
        typing = query.prefix and i == len(query.words) - 1
        if word in vocab.counts or (typing and any(w.startswith(word) for w in vocab.words)):
            continue
        limit = _max_distance(word)
        if not limit:
            continue
        matches = process.extract(word, vocab.words, scorer=OSA.distance, score_cutoff=limit, limit=8)
        best = sorted(matches, key=lambda m: (m[1], -vocab.counts[m[0]]))[:2]
        extra.extend(m[0] for m in best if m[1] == best[0][1] and m[0] not in query.words)
    return Query(words=query.words, prefix=query.prefix, expansions=tuple(dict.fromkeys(extra)))


# Which words pick the candidates to rank on PostgreSQL (all words rank them; see ``_postgres``):
# those in under this share of the brand's articles, plus the next rarest until together they
# are in at least MIN_PICKED articles. When they still pick less than a page (a rare word is often
# a half-typed or misspelt one), the everyday words join one at a time, rarest first, up to
# WIDEN_STEPS times.
COMMON_SHARE = 0.1
MIN_PICKED = 60
WIDEN_STEPS = 2


def mark_common(query: Query, vocab: _Vocabulary, *, language: str) -> Query:
    """Note the words that do not pick candidates, rarest first (the word being typed counts
    the articles holding a word that starts with it)."""
    if not vocab.docs:
        return query
    last = len(query.words) - 1
    docs = {w: vocab.docs_with(w if query.prefix and i == last else stem(language, w),
                               prefix=query.prefix and i == last) for i, w in enumerate(query.words)}
    by_rarity = sorted(docs, key=lambda w: docs[w])
    picked, reach = set(), 0
    for word in by_rarity:
        if docs[word] >= vocab.docs * COMMON_SHARE and reach >= MIN_PICKED:
            break
        picked.add(word)
        reach += docs[word]
    common = tuple(w for w in by_rarity if w not in picked)
    return Query(words=query.words, prefix=query.prefix, expansions=query.expansions, common=common)


# --- the two engines -----------------------------------------------------------------

def fts5_match(query: Query, languages: Sequence[str] = ("en",)) -> str:
    """``"a" OR "b" OR "c"*``: each word stemmed in each of the searched languages, a quoted
    phrase (never parsed as syntax), OR-ed; the word being typed is also a prefix, both
    stemmed and as typed (a stem of a half-typed word may not be a prefix of the whole one)."""
    def quoted(word: str) -> str:
        return '"' + word.replace('"', '""') + '"'

    phrases: list[str] = []
    last = len(query.words) - 1
    for i, word in enumerate(query.words):
        forms = dict.fromkeys(stem(lang, word) for lang in languages)
        if query.prefix and i == last:
            phrases += [quoted(f) + "*" for f in dict.fromkeys([*forms, word])]
        else:
            phrases += [quoted(f) for f in forms]
    phrases += [quoted(f) for w in query.expansions for f in dict.fromkeys(stem(lang, w) for lang in languages)]
    return " OR ".join(dict.fromkeys(phrases))


def tsquery(query: Query, *, every: bool = False, selective: bool = False, widen: int = 0) -> str:
    """``a | b | c:*`` for to_tsquery (``a & b & c:*`` with ``every``); with ``selective``
    without the common words but the ``widen`` rarest of them (all words if that leaves none).
    Words are ``\\w`` runs, so they need no quoting beyond the single quotes that make each
    one a literal lexeme."""
    parts = [f"'{w}'" for w in query.words]
    if query.prefix:
        parts[-1] += ":*"
    if every:
        return " & ".join(parts)
    if selective and query.common:
        left_out = set(query.common[widen:])
        kept = [p for w, p in zip(query.words, parts, strict=True) if w not in left_out]
        parts = kept or parts
    parts += [f"'{w}'" for w in query.expansions]
    return " | ".join(parts)


_SQLITE_WHERE = (
    "a.brand_id = :brand_id AND a.status = 'published' "
    "AND (a.visibility = 'public' OR :internal) AND t.language IN (:lang, :fallback)"
)
_SQLITE = text(
    "SELECT t.id, t.article_id, t.language, -bm25(kb_fts, 10.0, 5.0, 1.0) AS score "
    "FROM kb_fts JOIN kb_article_translations t ON t.id = kb_fts.rowid "
    "JOIN kb_articles a ON a.id = t.article_id "
    f"WHERE kb_fts MATCH :match AND {_SQLITE_WHERE} "
    "ORDER BY bm25(kb_fts, 10.0, 5.0, 1.0) LIMIT :limit"
)
# The best :top matches of the whole index first, ranked inside FTS5 without a join per
# match (an OR of everyday words matches most articles: joining each to its article to
# check brand, status and language took two thirds of the query), then filtered. When at
# least :limit of them pass, they are exactly the best :limit that pass (any match outside
# the top :top ranks below all of them); otherwise ``_SQLITE`` asks again over every match.
SQLITE_TOP = 200
_SQLITE_TOP = text(
    "SELECT t.id, t.article_id, t.language, -f.rank AS score "
    "FROM (SELECT rowid, bm25(kb_fts, 10.0, 5.0, 1.0) AS rank FROM kb_fts WHERE kb_fts MATCH :match "
    "      ORDER BY rank LIMIT :top) AS f "
    "JOIN kb_article_translations t ON t.id = f.rowid JOIN kb_articles a ON a.id = t.article_id "
    f"WHERE {_SQLITE_WHERE} ORDER BY f.rank LIMIT :limit"
)

def _configured(param: str) -> str:
    """The tsquery :param read in the visitor's language and, when the fallback language
    differs, also in that one (an English word typed on the German help center still finds
    the English fallback text). Constant-folded by the planner."""
    return (f"CASE WHEN :lang = :fallback THEN to_tsquery(kb_regconfig(:lang), :{param}) "
            f"ELSE to_tsquery(kb_regconfig(:lang), :{param}) || to_tsquery(kb_regconfig(:fallback), :{param}) END")


# kb_search (migration 0011): one narrow row per translation, its vector weighting title A,
# tags B, body C in the translation language's configuration, kept by a trigger.
# ``m`` selects the rows, ``q`` ranks them.
_POSTGRES = text(
    "SELECT s.translation_id, s.article_id, s.language, ts_rank(s.search_vector, q, 1) AS score "
    "FROM kb_search s JOIN kb_articles a ON a.id = s.article_id, "
    f"(SELECT {_configured('tsq')}, {_configured('match')}) AS qs(q, m) "
    "WHERE s.search_vector @@ m AND a.brand_id = :brand_id AND a.status = 'published' "
    "AND (a.visibility = 'public' OR :internal) AND s.language IN (:lang, :fallback) "
    "ORDER BY score DESC, s.translation_id LIMIT :limit"
).bindparams(
    # Written into the statement (safely quoted), not sent as parameters: psycopg prepares
    # a statement once it has run five times, and PostgreSQL's generic plan for it cannot see
    # how many rows the tsquery matches nor fold the language's configuration (broad queries
    # then took 40-60 ms instead of 20-26).
    bindparam("tsq", type_=String(), literal_execute=True), bindparam("match", type_=String(), literal_execute=True),
    bindparam("lang", type_=String(), literal_execute=True), bindparam("fallback", type_=String(), literal_execute=True),
    bindparam("brand_id", type_=Integer(), literal_execute=True), bindparam("internal", type_=Boolean(), literal_execute=True),
    bindparam("limit", type_=Integer(), literal_execute=True),
)


def candidates(
    session: Session, *, query: Query, brand_id: int, language: str, fallback: str, include_internal: bool,
    limit: int,
) -> list[Candidate]:
    """Best matches first, at most one per article: its ``language`` translation when it
    has one that matches, else the ``fallback`` one."""
    if query.empty:
        return []
    params = {"brand_id": brand_id, "internal": include_internal, "lang": language, "fallback": fallback,
              "limit": limit * 2}
    if session.get_bind().dialect.name == "sqlite":
        params["match"] = fts5_match(query, (language, fallback))
        rows: Sequence[Row[tuple[int, int, str, float]]] = session.execute(
            _SQLITE_TOP, {**params, "top": SQLITE_TOP}).all()
        if len(rows) < limit * 2:
            rows = session.execute(_SQLITE, params).all()
    else:
        rows = _postgres(session, query, params)
    best: dict[int, Candidate] = {}
    for tid, aid, lang, score in rows:
        seen = best.get(aid)
        if seen is None or (lang == language and seen.language != language):
            best[aid] = Candidate(translation_id=tid, article_id=aid, language=lang,
                                  score=max(float(score), seen.score if seen else float("-inf")))
    return sorted(best.values(), key=lambda c: (-c.score, c.article_id))[:limit]


def _postgres(session: Session, query: Query, params: dict[str, object]) -> Sequence[Row[tuple[int, int, str, float]]]:
    """ts_rank reads the stored vector of every row it ranks, and an OR of everyday words
    matches most articles (4,500 of 5,000 in the bench: 45-60 ms). So the rows to rank are
    found in steps, each taken only when the one before found too few (``limit`` is already
    twice the page):

    1. Articles holding every word, when there are at least a page and a half of them.
    2. Articles holding one of the query's rarer words (``mark_common``), ranked by all the
       words. BM25 (SQLite's ranking) weighs a word by its rarity, so an article holding only
       everyday words rarely belongs above these anyway.
   When they find less than a page (a rare word is often a half-typed or misspelt one), the
       next rarest everyday word picks too, up to ``WIDEN_STEPS`` times.
    3. Articles holding any word, the everyday ones included.

    With typo expansions the OR steps are the only ones that fit.
    """
    limit = int(params["limit"])  # type: ignore[call-overload]
    if len(query.words) > 1 and not query.expansions:
        every = tsquery(query, every=True)
        rows = session.execute(_POSTGRES, {**params, "tsq": every, "match": every}).all()
        if len(rows) >= limit * 3 // 4:
            return rows
    ranked = tsquery(query)
    for widen in range(WIDEN_STEPS + 1):
        picking = tsquery(query, selective=True, widen=widen)
        if picking == ranked:
            break
        rows = session.execute(_POSTGRES, {**params, "tsq": ranked, "match": picking}).all()
        if len(rows) >= limit:
            return rows
    return session.execute(_POSTGRES, {**params, "tsq": ranked, "match": ranked}).all()


_SNIPPET_WIDTH = 160


@lru_cache(maxsize=256)
def _snippet_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Built once per query, not once per hit."""
    if not words:
        return None
    return re.compile(r"\b(" + "|".join(re.escape(w[: max(3, len(w) - 2)]) for w in words) + r")\w*", re.IGNORECASE)


def snippet(body_text: str, query: Query) -> tuple[str, list[tuple[int, int]]]:
    """A window of the body around the first matching word, and the spans to highlight.

    Matching is by word start (a cheap stand-in for stemming: "deliver" marks
    "delivery"), the same on both engines.
    """
    pattern = _snippet_pattern(tuple(w for w in (*query.words, *query.expansions) if len(w) >= 3))
    if pattern is None:
        return body_text[:_SNIPPET_WIDTH], []
    first = pattern.search(body_text)
    start = 0 if first is None else max(0, first.start() - 40)
    if start:
        space = body_text.find(" ", start)
        start = space + 1 if 0 <= space < first.start() else start  # type: ignore[union-attr]
    window = body_text[start:start + _SNIPPET_WIDTH]
    spans = [(m.start(), m.end()) for m in pattern.finditer(window)]
    prefix = "…" if start else ""
    suffix = "…" if start + _SNIPPET_WIDTH < len(body_text) else ""
    shift = len(prefix)
    return prefix + window + suffix, [(a + shift, b + shift) for a, b in spans]
