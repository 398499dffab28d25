"""The knowledge base inside the agent app: article suggestions in the composer, and the
insights page for supervisors."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response

from cartdesk.brands import service as brands_service
from cartdesk.conversations import service as conversations_service
from cartdesk.db.deps import DbSession
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Forbidden
from cartdesk.kit.routing import Router
from cartdesk.knowledge import insights, lookup
from cartdesk.knowledge import service as kb_service
from cartdesk.web.agent.common import sidebar
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.templating import render

router = Router(prefix="/kb")


@router.get("/assist/{conversation_id}")
def assist(request: Request, conversation_id: int, session: DbSession, principal: AgentPrincipal,
           q: str = "") -> Response:
    """Articles for the subject and the customer's latest message (or what the agent typed in the box),
    internal playbooks included, with links to the public pages for the reply."""
    conversation = conversations_service.get_or_raise(session, conversation_id=conversation_id, principal=principal)
    brand = brands_service.get_or_raise(session, brand_id=conversation.brand_id)
    # The subject says what the case is about; the latest message what is asked now.
    text = q.strip() or f"{conversation.subject} {lookup.latest_customer_text(session, conversation_id=conversation.id)}"
    language = conversation.customer.language or brand.default_language
    results = lookup.search_articles(session, brand=brand, q=text[:500] + " ", language=language,
                                     include_internal=True, limit=4)
    base = str(request.app.state.settings.base_url or "").rstrip("/")
    return render(request, "agent/_kb_assist.html", {
        "c": conversation, "results": results, "q": q, "base": base,
        "translations": {t.article_id: t for t in kb_service.titles(
            session, article_ids=[h.article_id for h in results.hits], language=language).values()},
    })


@router.get("/insights")
def insights_page(request: Request, session: DbSession, principal: AgentPrincipal, brand: str | None = None,
                  days: int = 30) -> Response:
    if not principal.is_supervisor:
        raise Forbidden("The knowledge-base insights are for supervisors and admins.")
    days = max(1, min(days, 365))
    chosen = brands_service.resolve(session, ref=brand)
    since = utcnow() - timedelta(days=days)
    series = insights.daily(session, brand_id=chosen.id, days=days)
    poor = insights.poorly_rated(session, brand_id=chosen.id, since=since)
    return render(request, "agent/kb_insights.html", {
        **sidebar(session, principal=principal, active=None),
        "nav": "kb", "brand": chosen, "brands": brands_service.list_brands(session), "days": days,
        "no_results": insights.searches_without_results(session, brand_id=chosen.id, since=since)[:12],
        "no_clicks": insights.searches_without_clicks(session, brand_id=chosen.id, since=since)[:12],
        "poor": poor,
        "titles": kb_service.titles(session, article_ids=[r.article.id for r in poor],
                                    language=chosen.default_language),
        "series": series, "peak": max([d.views for d in series] + [1]),
        "total_views": sum(d.views for d in series), "total_deflections": sum(d.deflections for d in series),
    })
