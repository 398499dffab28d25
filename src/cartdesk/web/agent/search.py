"""The inbox search box, on top of the search domain (SQLite FTS5 / PostgreSQL full text).

Search looks across every conversation the agent may read, whatever view is open:
someone searching for an order number wants the case, not the case in this view.
A conversation found through one of its messages shows that message's excerpt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation
from cartdesk.search import service as search_service
from cartdesk.search.schemas import CustomerHit


@dataclass
class SearchPage:
    conversations: list[Conversation] = field(default_factory=list)
    # Excerpts are HTML-escaped by the search service, with the matches in <mark>.
    snippets: dict[int, Markup] = field(default_factory=dict)
    customers: list[CustomerHit] = field(default_factory=list)


def run(session: Session, *, principal: Principal, q: str, limit: int = 25) -> SearchPage:
    results = search_service.search(session, principal=principal, q=q, limit=limit)
    page = SearchPage(customers=list(results.customers))
    for hit in results.messages:
        page.snippets.setdefault(hit.conversation_id, Markup(hit.snippet))
    ids = list(dict.fromkeys([*(h.id for h in results.conversations), *(h.conversation_id for h in results.messages)]))
    found = (conversations_service.get(session, conversation_id=i) for i in ids)
    page.conversations = sorted(
        (c for c in found if c is not None and c.merged_into_id is None),
        key=lambda c: (c.last_activity_at, c.id),
        reverse=True,
    )
    return page
