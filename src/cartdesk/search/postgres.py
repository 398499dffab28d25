"""Search on PostgreSQL: a stored ``search_vector`` column per searched table, GIN-indexed.

The columns (migration 0013) are generated from the text with a literal configuration
(``to_tsvector('english', body_text)`` and so on), so a query tests the stored vector and
nothing is parsed again per row; tests/api/test_search.py checks the plans name the
indexes. Before 0013 these were expression indexes, and every row the executor looked at
(a walked row, a recheck) cost a ``to_tsvector()`` parse: a walk over 2,903 messages at 1M took
77 ms on the expression against 8.4 ms on the column.

Terms are matched literally with plainto_tsquery (the same meaning as on
SQLite, where every word is a quoted phrase), plus a ``to_tsquery('word':*)``
prefix for the word being typed; neither can fail on any input.

Ordering is newest first (id DESC) with LIMIT, never ts_rank over every match
(a rank needs every matching row). There are two ways to get the newest hits,
and each is ruinous where the other shines, because every row the executor looks
at is a heap row read:

* walk the primary key backwards and stop after ``limit`` matches: ~10/f rows
  for a word in a fraction f of rows, so instant for "order", but a full table
  walk for a rare or absent word (seconds to minutes at three million messages);
* take the matches from the GIN index, then sort them: cost grows with the
  number of matches, so instant for a rare word and slow for "order".

The planner chooses from its statistics, but it caps its guess for any word
missing from them at 0.5 %, exactly the rare words it must not walk for. So we
choose: a query whose every word is known to be common (in the column's
most-common-elements statistics at >= COMMON_FRACTION) walks; anything else
reads the index first, fenced in a MATERIALIZED CTE so the planner cannot turn
it back into a walk. Either way the work is bounded by about 10/COMMON_FRACTION
rows or by the matches of a word rarer than that.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text, true
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.conversations.models import Conversation, Message
from cartdesk.conversations.service import visible_to
from cartdesk.customers.models import Customer
from cartdesk.search.query import Terms, tsquery_prefix

# The stored vectors (migration 0013): messages and subjects in 'english', customers'
# name, email and phone in 'simple'. The queries' configurations below must match.
MESSAGE_VECTOR = "messages.search_vector"
SUBJECT_VECTOR = "conversations.search_vector"
CUSTOMER_VECTOR = "customers.search_vector"
# \x02 … \x03 around matches; the service escapes the text and turns them into <mark>.
_HEADLINE_OPTIONS = "StartSel=\x02, StopSel=\x03, MaxWords=28, MinWords=12, ShortWord=2, MaxFragments=1"


def _tsquery(config: str, terms: Terms) -> Any:
    cfg = literal_column(f"'{config}'")
    prefix = tsquery_prefix(terms)
    words = terms.head if prefix else terms.words
    query = func.plainto_tsquery(cfg, " ".join(words))
    if prefix is not None:
        query = query.op("&&")(func.to_tsquery(cfg, prefix))
    return query


def _matches(vector: str, query: Any) -> Any:
    return literal_column(vector).bool_op("@@")(query)


COMMON_FRACTION = 0.01
_STATS_SECONDS = 600.0
_stats: dict[str, tuple[float, dict[str, float]]] = {}


def _lexeme_frequencies(session: Session, table: str) -> dict[str, float]:
    """Fraction of ``table``'s rows holding each common lexeme, from ANALYZE's statistics of
    its ``search_vector`` column (cached a while)."""
    now = time.monotonic()
    cached = _stats.get(table)
    if cached is not None and now - cached[0] < _STATS_SECONDS:
        return cached[1]
    row = session.execute(
        text(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = :table AND attname = 'search_vector'"
        ),
        {"table": table},
    ).first()
    freqs = dict(zip(row[0], row[1], strict=False)) if row is not None and row[0] else {}
    _stats[table] = (now, freqs)
    return freqs


def _lexemes(session: Session, config: str, words: str) -> list[str]:
    if not words:
        return []
    return list(session.scalars(
        text("SELECT unnest(tsvector_to_array(to_tsvector(CAST(:cfg AS regconfig), :words)))")
        .bindparams(cfg=config, words=words)
    ))


def is_common(session: Session, *, config: str, table: str, terms: Terms) -> bool:
    """True when every word is known to be in at least COMMON_FRACTION of the rows."""
    freqs = _lexeme_frequencies(session, table)
    if not freqs:
        return False
    prefix = tsquery_prefix(terms)
    words = terms.head if prefix else terms.words
    estimates = [freqs.get(lexeme, 0.0) for lexeme in _lexemes(session, config, " ".join(words))]
    if prefix is not None:
        # The typed word's stem stands for every common lexeme it starts.
        stems = _lexemes(session, config, terms.last or "")
        estimates += [sum(f for lexeme, f in freqs.items() if lexeme.startswith(stem)) for stem in stems]
    if not estimates:
        return False
    return min(estimates) >= COMMON_FRACTION


def _newest(stmt: Select[Any], *, id_column: Any, match: Any, limit: int, common: bool) -> Select[Any]:
    """``stmt`` (the wanted columns and filters) restricted to matches, newest ``limit`` first.

    Common: walk ``id_column`` backwards. Otherwise the matches come from the GIN
    index in a MATERIALIZED CTE, are sorted newest first in a derived table, and
    that sorted list drives a nested loop over ``stmt`` (a LATERAL subquery) that
    stops once ``limit`` rows pass its filters, so headlines are computed for
    those rows only. Joined plainly, the planner liked to merge-join the matches
    against a backwards walk of the primary key (the whole table when the newest
    match is old), or to join every match and sort afterwards.
    """
    if common:
        return stmt.where(match).order_by(id_column.desc()).limit(limit)
    found = select(id_column.label("id")).where(match).cte("found").prefix_with("MATERIALIZED")
    ordered = select(found.c.id).order_by(found.c.id.desc()).subquery("ordered")
    hit = stmt.where(id_column == ordered.c.id).offset(0).lateral("hit")
    return select(hit).select_from(ordered).join(hit, true()).order_by(ordered.c.id.desc()).limit(limit)


def prepare(session: Session) -> None:
    """Once per search transaction. The fenced plans carry large cost estimates that
    would trigger JIT compilation, which costs more (~30 ms) than the query itself."""
    session.execute(text("SET LOCAL jit = off"))


def messages(session: Session, *, principal: Principal, terms: Terms, limit: int) -> Sequence[Any]:
    common = is_common(session, config="english", table="messages", terms=terms)
    return session.execute(messages_query(principal=principal, terms=terms, limit=limit, common=common)).all()


def messages_query(*, principal: Principal, terms: Terms, limit: int, common: bool = False) -> Select[Any]:
    query = _tsquery("english", terms)
    stmt = (
        select(
            Message.id,
            Message.conversation_id,
            Conversation.number.label("conversation_number"),
            Conversation.subject.label("conversation_subject"),
            Message.direction,
            Message.created_at,
            # Computed only for the rows returned (and those a visibility filter drops).
            func.ts_headline(literal_column("'english'"), Message.body_text, query, _HEADLINE_OPTIONS).label("snippet"),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(visible_to(principal))
    )
    return _newest(stmt, id_column=Message.id, match=_matches(MESSAGE_VECTOR, query), limit=limit, common=common)


def conversations(session: Session, *, principal: Principal, terms: Terms, limit: int) -> Sequence[Any]:
    common = is_common(session, config="english", table="conversations", terms=terms)
    return session.execute(conversations_query(principal=principal, terms=terms, limit=limit, common=common)).all()


def conversations_query(*, principal: Principal, terms: Terms, limit: int, common: bool = False) -> Select[Any]:
    query = _tsquery("english", terms)
    stmt = select(
        Conversation.id,
        Conversation.number,
        Conversation.brand_id,
        Conversation.subject,
        Conversation.status,
        Conversation.customer_id,
        Conversation.last_activity_at,
        func.ts_headline(
            literal_column("'english'"), Conversation.subject, query, "StartSel=\x02, StopSel=\x03, HighlightAll=true"
        ).label("highlight"),
    ).where(visible_to(principal), Conversation.merged_into_id.is_(None))
    return _newest(stmt, id_column=Conversation.id, match=_matches(SUBJECT_VECTOR, query), limit=limit, common=common)


def customers(session: Session, *, terms: Terms, limit: int) -> Sequence[Customer]:
    common = is_common(session, config="simple", table="customers", terms=terms)
    ids = session.scalars(customers_query(terms=terms, limit=limit, common=common)).all()
    if not ids:
        return []
    return session.scalars(select(Customer).where(Customer.id.in_(ids)).order_by(Customer.id.desc())).all()


def customers_query(*, terms: Terms, limit: int, common: bool = False) -> Select[Any]:
    """The ids of the newest matching customers."""
    stmt = select(Customer.id).where(Customer.merged_into_id.is_(None), Customer.deleted_at.is_(None))
    match = _matches(CUSTOMER_VECTOR, _tsquery("simple", terms))
    return _newest(stmt, id_column=Customer.id, match=match, limit=limit, common=common)
