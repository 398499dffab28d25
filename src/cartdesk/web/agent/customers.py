"""Customers: the searchable list and one customer's page with their conversations."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.schemas import ConversationFilters
from cartdesk.customers import service as customers_service
from cartdesk.db.deps import DbSession
from cartdesk.kit.routing import Router
from cartdesk.web.agent.common import sidebar
from cartdesk.web.agent.store import panel as store_panel
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.templating import render

router = Router(prefix="/customers")
PAGE_SIZE = 30


@router.get("", name="customers")
def customer_list(
    request: Request, session: DbSession, principal: AgentPrincipal, q: str = "", cursor: str = ""
) -> Response:
    rows, next_cursor = customers_service.list_customers(
        session, q=q.strip() or None, limit=PAGE_SIZE, cursor=cursor or None
    )
    more_url = None
    if next_cursor:
        more_url = "/customers?" + urlencode({**({"q": q.strip()} if q.strip() else {}), "cursor": next_cursor})
    return render(request, "agent/customers.html", {
        **sidebar(session, principal=principal, active=None),
        "nav": "customers",
        "customers": rows,
        "q": q.strip(),
        "more_url": more_url,
    })


@router.get("/{customer_id}", name="customer")
def customer_page(
    request: Request, customer_id: int, session: DbSession, principal: AgentPrincipal, cursor: str = ""
) -> Response:
    customer = customers_service.get_or_raise(session, customer_id=customer_id)
    if customer.id != customer_id:
        # Merged away: old links land on the surviving customer.
        return RedirectResponse(f"/customers/{customer.id}", status_code=303)
    result = conversations_service.list_conversations(
        session, principal=principal, filters=ConversationFilters(customer=customer.id), limit=25,
        cursor=cursor or None,
    )
    return render(request, "agent/customer.html", {
        **sidebar(session, principal=principal, active=None),
        "nav": "customers",
        "customer": customer,
        "conversations": result.items,
        "more_url": f"/customers/{customer.id}?cursor={result.next_cursor}" if result.next_cursor else None,
        **store_panel(session, customer_id=customer.id, limit=20),
    })
