"""Search on PostgreSQL: GIN expression indexes over to_tsvector (migration 0001).

The vector expressions below are written exactly as the index definitions,
with the configuration as a literal, so the planner matches them to the index
(a bound parameter for the configuration, or any other spelling, would silently
turn every search into a sequential scan; tests/api/test_search.py checks the
plans name the indexes).

Terms are matched literally with plainto_tsquery (the same meaning as on
SQLite, where every word is a quoted phrase), plus a ``to_tsquery('word':*)``
prefix for the word being typed; neither can fail on any input.

Ordering: newest first (id DESC) with LIMIT, not ts_rank over every match. A
rank needs every matching row's vector; a common word in millions of messages
would read them all. Newest-first lets the planner either walk the primary key
backwards and stop after ``limit`` matches (frequent words) or take the few
matches from the GIN index and sort them (rare words), and it chooses between
the two from the index statistics. Headlines are computed only for the rows
returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.conversations.models import Conversation, Message
from cartdesk.conversations.service import visible_to
from cartdesk.customers.models import Customer
from cartdesk.search.query import Terms, tsquery_prefix

MESSAGE_VECTOR = "to_tsvector('english', messages.body_text)"
SUBJECT_VECTOR = "to_tsvector('english', conversations.subject)"
CUSTOMER_VECTOR = (
    "to_tsvector('simple', coalesce(customers.name, '') || ' ' || coalesce(customers.email, '') "
    "|| ' ' || coalesce(customers.phone, ''))"
)
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


def messages(session: Session, *, principal: Principal, terms: Terms, limit: int) -> Sequence[Any]:
    return session.execute(messages_query(principal=principal, terms=terms, limit=limit)).all()


def messages_query(*, principal: Principal, terms: Terms, limit: int) -> Select[Any]:
    query = _tsquery("english", terms)
    hits = (
        select(
            Message.id,
            Message.conversation_id,
            Conversation.number.label("conversation_number"),
            Conversation.subject.label("conversation_subject"),
            Message.direction,
            Message.created_at,
            Message.body_text,
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(_matches(MESSAGE_VECTOR, query), visible_to(principal))
        .order_by(Message.id.desc())
        .limit(limit)
        .subquery("hits")
    )
    stmt = select(
        hits.c.id, hits.c.conversation_id, hits.c.conversation_number, hits.c.conversation_subject,
        hits.c.direction, hits.c.created_at,
        func.ts_headline(literal_column("'english'"), hits.c.body_text, query, _HEADLINE_OPTIONS).label("snippet"),
    ).order_by(hits.c.id.desc())
    return stmt


def conversations(session: Session, *, principal: Principal, terms: Terms, limit: int) -> Sequence[Any]:
    return session.execute(conversations_query(principal=principal, terms=terms, limit=limit)).all()


def conversations_query(*, principal: Principal, terms: Terms, limit: int) -> Select[Any]:
    query = _tsquery("english", terms)
    stmt = (
        select(
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
        )
        .where(_matches(SUBJECT_VECTOR, query), visible_to(principal), Conversation.merged_into_id.is_(None))
        .order_by(Conversation.id.desc())
        .limit(limit)
    )
    return stmt


def customers(session: Session, *, terms: Terms, limit: int) -> Sequence[Customer]:
    return session.scalars(customers_query(terms=terms, limit=limit)).all()


def customers_query(*, terms: Terms, limit: int) -> Select[Any]:
    stmt = (
        select(Customer)
        .where(
            _matches(CUSTOMER_VECTOR, _tsquery("simple", terms)),
            Customer.merged_into_id.is_(None),
            Customer.deleted_at.is_(None),
        )
        .order_by(Customer.id.desc())
        .limit(limit)
    )
    return stmt
