"""Search on SQLite: FTS5 external-content tables kept in step by triggers (migration 0001).

Ordering: newest first, by rowid, with LIMIT. FTS5 walks its doclists in rowid
order and tells the planner the ORDER BY is already satisfied, so a query stops
after ``limit`` visible matches instead of collecting and ranking every match:
the word "order" in three million messages costs about what a rare word does
(prefixes are dearer; service._newest says when they are used). Ranking by
bm25() would read the whole match set first, and for a help desk the recent
conversation is nearly always the one wanted.

The FTS table is the outer loop and each match is joined by primary key, so the
visibility filter is applied per match while streaming (tests/api/test_search.py
checks the plan never sorts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, column, literal_column, select, table, text
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.conversations.models import Conversation, Message
from cartdesk.conversations.service import visible_to
from cartdesk.customers.models import Customer
from cartdesk.search.query import Terms, fts5_match

_messages_fts = table("messages_fts", column("rowid"))
_conversations_fts = table("conversations_fts", column("rowid"))
_customers_fts = table("customers_fts", column("rowid"))

# Matches are wrapped in \x02 … \x03 (characters that never survive into HTML) and
# turned into <mark> after escaping, in the service.
_MESSAGE_SNIPPET = literal_column("snippet(messages_fts, 0, char(2), char(3), '…', 16)")
_SUBJECT_HIGHLIGHT = literal_column("highlight(conversations_fts, 0, char(2), char(3))")


def prepare(session: Session) -> None:
    """Nothing to set up on SQLite."""


def messages(session: Session, *, principal: Principal, terms: Terms, limit: int) -> Sequence[Any]:
    return session.execute(messages_query(principal=principal, terms=terms, limit=limit)).all()


def messages_query(*, principal: Principal, terms: Terms, limit: int) -> Select[Any]:
    stmt = (
        select(
            Message.id,
            Message.conversation_id,
            Conversation.number.label("conversation_number"),
            Conversation.subject.label("conversation_subject"),
            Message.direction,
            Message.created_at,
            _MESSAGE_SNIPPET.label("snippet"),
        )
        .select_from(_messages_fts)
        .join(Message, Message.id == _messages_fts.c.rowid)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(text("messages_fts MATCH :match").bindparams(match=fts5_match(terms)), visible_to(principal))
        .order_by(_messages_fts.c.rowid.desc())
        .limit(limit)
    )
    return stmt


def conversations(session: Session, *, principal: Principal, terms: Terms, limit: int) -> Sequence[Any]:
    return session.execute(conversations_query(principal=principal, terms=terms, limit=limit)).all()


def conversations_query(*, principal: Principal, terms: Terms, limit: int) -> Select[Any]:
    stmt = (
        select(
            Conversation.id,
            Conversation.number,
            Conversation.brand_id,
            Conversation.subject,
            Conversation.status,
            Conversation.customer_id,
            Conversation.last_activity_at,
            _SUBJECT_HIGHLIGHT.label("highlight"),
        )
        .select_from(_conversations_fts)
        .join(Conversation, Conversation.id == _conversations_fts.c.rowid)
        .where(
            text("conversations_fts MATCH :match").bindparams(match=fts5_match(terms)),
            visible_to(principal),
            Conversation.merged_into_id.is_(None),
        )
        .order_by(_conversations_fts.c.rowid.desc())
        .limit(limit)
    )
    return stmt


def customers(session: Session, *, terms: Terms, limit: int) -> Sequence[Customer]:
    return session.scalars(customers_query(terms=terms, limit=limit)).all()


def customers_query(*, terms: Terms, limit: int) -> Select[Any]:
    stmt = (
        select(Customer)
        .select_from(_customers_fts)
        .join(Customer, Customer.id == _customers_fts.c.rowid)
        .where(
            text("customers_fts MATCH :match").bindparams(match=fts5_match(terms)),
            Customer.merged_into_id.is_(None),
            Customer.deleted_at.is_(None),
        )
        .order_by(_customers_fts.c.rowid.desc())
        .limit(limit)
    )
    return stmt
