"""REST API for search.

Unlike the other API routes this handler is a plain ``def``, so FastAPI runs it
in the thread pool: a search over millions of rows can take tens of
milliseconds, almost all of it inside the database driver with the GIL
released, and on the event loop it would stall every other request meanwhile.

At most ``SEARCHES_AT_ONCE`` searches run at a time in a process; the others wait
their turn, holding no database connection once their token is cached. Thirty-two at once on PostgreSQL
(2 cores) each took seconds and together ran out of pooled connections, where
four at a time finish each in tens of milliseconds (docs/performance.md).
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Query

from cartdesk.auth.deps import ConversationsRead
from cartdesk.db.deps import DbSession
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router
from cartdesk.search import service
from cartdesk.search.schemas import SearchResults

SEARCHES_AT_ONCE = 4
_turns = threading.BoundedSemaphore(SEARCHES_AT_ONCE)

router = Router(prefix="/api/v1/search", tags=["search"], responses=error_responses(401, 403, 422))


@router.get("", response_model=SearchResults, summary="Search conversations, messages and customers")
def search(
    session: DbSession,
    principal: ConversationsRead,
    q: Annotated[str, Query(min_length=1, max_length=500, description="What to look for; the last word may be partial")],
    limit: Annotated[int, Query(ge=1, le=50, description="At most this many hits per group")] = 10,
) -> SearchResults:
    """Full-text search, newest first in each group. Every word must match; the last word
    matches as a prefix while it is being typed (no trailing space). Quotes, brackets and
    operators in `q` are ordinary characters. Conversations and messages are limited to
    those you may read; customers need the `customers:read` scope (an exact email or phone
    finds the customer first)."""
    with _turns:
        return service.search(session, principal=principal, q=q, limit=limit)
