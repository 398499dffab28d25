"""The inbox: views, filters, search and the conversation list.

One route, one template: a normal request gets the whole page, an htmx request
(filter change, search, "Load more", a live refresh) gets the fragment and picks
the parts it needs with ``hx-select``.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Team, User
from cartdesk.channels.chat import service as chat_service
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.schemas import ConversationFilters
from cartdesk.db.deps import DbSession
from cartdesk.kit.routing import Router
from cartdesk.web.agent import search as web_search
from cartdesk.web.agent.common import (
    CHANNELS,
    DEFAULT_VIEW,
    VIEWS,
    View,
    int_or_none,
    priority_or_none,
    sidebar,
)
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.templating import CHANNEL_LABELS, PRIORITY_LABELS, render

router = Router()
PAGE_SIZE = 25


@router.get("/", name="inbox")
@router.get("/inbox")
def inbox(
    request: Request,
    session: DbSession,
    principal: AgentPrincipal,
    view: str = DEFAULT_VIEW,
    channel: str = "",
    tag: str = "",
    team: str = "",
    assignee: str = "",
    priority: str = "",
    q: str = "",
    cursor: str = "",
) -> Response:
    current = VIEWS.get(view) or VIEWS[DEFAULT_VIEW]
    params = _clean_params(view=current.key, channel=channel, tag=tag, team=team, assignee=assignee,
                           priority=priority, q=q)
    found = None
    if params["q"]:
        found = web_search.run(session, principal=principal, q=params["q"], limit=PAGE_SIZE)
        items, next_cursor = found.conversations, None
    else:
        result = conversations_service.list_conversations(
            session, principal=principal, filters=_filters(current, params), limit=PAGE_SIZE, cursor=cursor or None
        )
        items, next_cursor = result.items, result.next_cursor
    teams = auth_service.list_teams(session)
    agents = auth_service.list_users(session, active_only=True)
    # A search spans every view and filter, so only the search itself is "active".
    active = {"q": params["q"]} if params["q"] else {k: v for k, v in params.items() if v and k != "view"}
    more_url = None
    if next_cursor:
        more_url = "/?" + urlencode({**{k: v for k, v in params.items() if v}, "cursor": next_cursor})
    return render(request, "agent/inbox.html", {
        **sidebar(session, principal=principal, active=current.key),
        "nav": "inbox",
        "view": current,
        "params": params,
        "active_filters": active,
        "chips": _chips(active, teams=teams, agents=agents),
        "conversations": items,
        "more_url": more_url,
        "search": found,
        "channels": CHANNELS,
        "teams": teams,
        "agents": agents,
        "chat_unread": chat_service.unread_counts(
            session, conversation_ids=[c.id for c in items if c.channel == chat_service.CHANNEL]),
    })


def _clean_params(**raw: str) -> dict[str, str]:
    """The query as the page understands it: unknown values are dropped, not errors (old links keep working)."""
    return {
        "view": raw["view"],
        "channel": raw["channel"] if raw["channel"] in CHANNELS else "",
        "tag": raw["tag"].strip(),
        "team": raw["team"] if int_or_none(raw["team"]) else "",
        "priority": raw["priority"] if priority_or_none(raw["priority"]) else "",
        "assignee": raw["assignee"] if raw["assignee"] in ("me", "none") or int_or_none(raw["assignee"]) else "",
        "q": raw["q"].strip(),
    }


def _filters(view: View, params: dict[str, str]) -> ConversationFilters:
    return ConversationFilters(
        status=list(view.statuses),
        assignee=view.assignee or params["assignee"] or None,
        team=int_or_none(params["team"]),
        tag=params["tag"] or None,
        channel=params["channel"] or None,
        priority=priority_or_none(params["priority"]),
    )


def _chips(active: dict[str, str], *, teams: Sequence[Team], agents: Sequence[User]) -> list[tuple[str, str]]:
    """The active filters as (name, value) labels above the list."""
    team_names = {str(t.id): t.name for t in teams}
    agent_names = {str(a.id): a.name for a in agents} | {"me": "Me", "none": "Nobody"}
    labels = {
        "q": ("Search", lambda v: f"“{v}”"),
        "channel": ("Channel", lambda v: CHANNEL_LABELS.get(v, v)),
        "priority": ("Priority", lambda v: PRIORITY_LABELS.get(v, v)),
        "assignee": ("Assignee", lambda v: agent_names.get(v, v)),
        "team": ("Team", lambda v: team_names.get(v, v)),
        "tag": ("Tag", lambda v: v),
    }
    return [(labels[k][0], labels[k][1](v)) for k, v in active.items()]
