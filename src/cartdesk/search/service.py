"""One search interface over two engines: SQLite FTS5 and PostgreSQL full text.

``search`` parses what a person typed (search/query.py), runs it against the
backend for the session's dialect, and shapes the hits. Conversations and
messages are limited to what the principal may read (the permission is part of
each query, so an agent never learns that another team's conversation matches).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TypeVar

from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.customers import service as customers_service
from cartdesk.customers.models import Customer, IdentityKind
from cartdesk.search import postgres, sqlite
from cartdesk.search.query import Terms, parse
from cartdesk.search.schemas import ConversationHit, CustomerHit, MessageHit, SearchResults

T = TypeVar("T")
_BACKENDS: dict[str, ModuleType] = {"sqlite": sqlite, "postgresql": postgres}
_MARKED = re.compile("\x02(.*?)\x03", re.S)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d\s().-]{6,}$")


def backend_for(session: Session) -> ModuleType:
    return _BACKENDS[session.get_bind().dialect.name]


def marked_html(raw: str) -> str:
    """Engine output with matches between \\x02 and \\x03 as safe HTML with <mark>."""
    escaped = html.escape(" ".join(raw.split()), quote=False)
    return _MARKED.sub(r"<mark>\1</mark>", escaped).replace("\x02", "").replace("\x03", "")


def _exact_customer(session: Session, raw: str) -> Customer | None:
    """A customer whose email or phone is exactly what was typed (through the unique identity index)."""
    value = raw.strip()
    if _EMAIL.match(value):
        return customers_service.find_by_identity(session, kind=IdentityKind.email, value=value)
    if _PHONE.match(value) and sum(c.isdigit() for c in value) >= 6:
        return customers_service.find_by_identity(session, kind=IdentityKind.phone, value=value)
    return None


def _newest(fetch: Callable[[Terms], Sequence[T]], terms: Terms, limit: int) -> Sequence[T]:
    """The newest ``limit`` hits, trying the last word as a whole word before as a prefix.

    A whole word's posting list streams newest-first and the engine stops after
    ``limit`` hits, whatever the size of the index. A prefix makes both engines
    merge the posting lists of every word it starts before the first hit comes out
    ("ord" in three million messages is ~100 ms). So the prefix, whose hits include
    the whole word's, is only paid for when the whole word does not fill the page:
    while someone is still typing a word, or when it is rare.
    """
    if not terms.prefix:
        return fetch(terms)
    exact = fetch(terms.exact())
    return exact if len(exact) >= limit else fetch(terms)


def search(session: Session, *, principal: Principal, q: str, limit: int = 10) -> SearchResults:
    """Newest matches first in each group, at most ``limit`` per group."""
    terms = parse(q)
    results = SearchResults(conversations=[], messages=[], customers=[])
    if terms.empty:
        return results
    backend = backend_for(session)
    backend.prepare(session)
    conversations = _newest(
        lambda t: backend.conversations(session, principal=principal, terms=t, limit=limit), terms, limit
    )
    results.conversations = [
        ConversationHit.model_validate({**row._mapping, "highlight": marked_html(row.highlight or "")})
        for row in conversations
    ]
    messages = _newest(lambda t: backend.messages(session, principal=principal, terms=t, limit=limit), terms, limit)
    results.messages = [
        MessageHit.model_validate({**row._mapping, "snippet": marked_html(row.snippet or "")}) for row in messages
    ]
    if principal.has_scope("customers:read"):
        results.customers = [CustomerHit.model_validate(c) for c in _customers(session, backend, q, terms, limit)]
    return results


def _customers(session: Session, backend: ModuleType, q: str, terms: Terms, limit: int) -> list[Customer]:
    exact = _exact_customer(session, q)
    if exact is None or exact.merged_into_id is not None or exact.deleted_at is not None:
        return list(_newest(lambda t: backend.customers(session, terms=t, limit=limit), terms, limit))
    # A complete address was typed and is known: that customer first, then others
    # matching it as words, without widening its last part ("com") to a prefix.
    others = [c for c in backend.customers(session, terms=terms.exact(), limit=limit) if c.id != exact.id]
    return [exact, *others][:limit]
