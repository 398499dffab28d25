"""Who is connected, and which frames they may receive.

Part of the realtime web edge (see ``routes.py``): it asks auth who the caller is
and conversations which conversations they may read. The hub never imports this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from cartdesk.auth import service as auth_service
from cartdesk.auth.deps import SESSION_USER_KEY, SESSION_VERSION_KEY
from cartdesk.auth.schemas import Principal
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation
from cartdesk.db.engine import Database
from cartdesk.kit.errors import Unauthorized
from cartdesk.realtime.presence import Viewer

# Events about these subjects go to agents even without a conversation (a customer edited).
FORWARDED_SUBJECTS = frozenset({"conversation", "message", "customer"})
# Verbs after which an agent's right to see a conversation may have changed.
VISIBILITY_VERBS = frozenset({"conversation.assigned", "conversation.updated", "conversation.merged"})
_VISIBILITY_TTL_SECONDS = 60.0
_VISIBILITY_CACHE_MAX = 5000


@dataclass(frozen=True, slots=True)
class Listener:
    principal: Principal
    viewer: Viewer


def authenticate(database: Database, *, session_data: dict[str, Any], token: str | None) -> Listener | None:
    """The caller behind a connection: an API token if one is given, else the session cookie.

    Runs in a worker thread (it reads the database); None means "not authenticated".
    """
    with database.transaction(read_only=True) as session:
        if token:
            try:
                row, user = auth_service.resolve_token(session, token=token)
            except Unauthorized:
                return None
            principal = auth_service.principal_for(user, scopes=row.scopes, via_token=True)
        else:
            user_id = session_data.get(SESSION_USER_KEY)
            if not user_id:
                return None
            user = auth_service.get(session, user_id=int(user_id))
            if user is None or not user.is_active or session_data.get(SESSION_VERSION_KEY) != user.session_version:
                return None
            principal = auth_service.principal_for(user)
        return Listener(principal=principal, viewer=Viewer(user_id=user.id, name=user.name, initials=user.initials))


class Gate:
    """Decides, per connection, which frames are sent.

    Admins and supervisors see everything. Agents see a conversation's events and
    presence only if ``conversations.service.visible_to`` lets them read it; the
    answer is cached for a minute and re-checked after assignment, team changes
    and merges, so a busy inbox costs one indexed lookup per conversation.
    """

    def __init__(self, database: Database, principal: Principal) -> None:
        self.database = database
        self.principal = principal
        self._seen: dict[int, tuple[bool, float]] = {}

    async def allows(self, frame: dict[str, Any]) -> bool:
        kind = frame.get("type")
        if kind == "event":
            return await self._allows_event(frame["event"])
        if kind == "presence":
            return self.principal.has_scope("conversations:read") and await self.can_see(frame["conversation_id"])
        return True

    async def _allows_event(self, event: dict[str, Any]) -> bool:
        conversation_id = event.get("conversation_id")
        if conversation_id is None:
            if event.get("subject_type") not in FORWARDED_SUBJECTS:
                return False
            return self.principal.has_scope("customers:read")
        if not self.principal.has_scope("conversations:read"):
            return False
        if event.get("verb") in VISIBILITY_VERBS:
            self._seen.pop(conversation_id, None)
        return await self.can_see(conversation_id)

    async def can_see(self, conversation_id: int) -> bool:
        if self.principal.is_supervisor:
            return True
        now = time.monotonic()
        cached = self._seen.get(conversation_id)
        if cached is not None and now - cached[1] < _VISIBILITY_TTL_SECONDS:
            return cached[0]
        visible = await run_in_threadpool(self._query, conversation_id)
        if len(self._seen) >= _VISIBILITY_CACHE_MAX:
            self._seen.clear()
        self._seen[conversation_id] = (visible, now)
        return visible

    def _query(self, conversation_id: int) -> bool:
        with self.database.transaction(read_only=True) as session:
            found = session.scalar(
                select(Conversation.id).where(
                    Conversation.id == conversation_id, conversations_service.visible_to(self.principal)
                )
            )
        return found is not None
