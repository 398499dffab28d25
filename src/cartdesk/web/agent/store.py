"""The store beside the conversation: the customer 360 panel (the conversation page and the
customer page show it), the supervisor's approval queue and the admins' refund limits.
The order actions taken from the panel are in ``order_actions.py``; connected shops in ``shops.py``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.brands.models import Brand
from cartdesk.commerce import refunds, returns, service, shipments, store_credit
from cartdesk.commerce.models import FulfillmentStatus, Order, OrderStatus, Refund, RefundStatus
from cartdesk.commerce.policy import REASONS
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import AppError, Forbidden
from cartdesk.kit.money import format_money, parse_amount
from cartdesk.kit.routing import Router
from cartdesk.web.agent.common import sidebar
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.security import flash
from cartdesk.web.templating import is_htmx, render

router = Router()


def panel(session: Session, *, customer_id: int, limit: int = 5) -> dict[str, Any]:
    """What the side panel and the customer page show of the store: a few queries, all indexed by customer."""
    ids = service.customer_ids(session, customer_id=customer_id)
    orders = service.orders_for_customer(session, customer_id=customer_id, limit=limit, ids=ids)
    by_order = service.refunds_for_orders(session, order_ids=[o.id for o in orders])
    ltv, order_count, currency = service.lifetime_value(session, customer_id=customer_id, ids=ids)
    credit = store_credit.entries(session, customer_ids=ids, limit=5)
    return {
        "store": {
            "orders": [_order_view(session, o, by_order[o.id]) for o in orders],
            "returns": returns.returns_for_customer(session, customer_id=customer_id, limit=5, ids=ids),
            "lifetime_value": format_money(ltv, currency or "USD"),
            "order_count": order_count,
            "more": order_count > len(orders),
            "reasons": REASONS,
            "next_return_steps": {str(k): [str(v) for v in steps] for k, steps in returns.ALLOWED.items()},
            # Most customers never had store credit: the balances are summed only for those who did.
            "credit": _credit(session, ids, credit) if credit else None,
        },
        "money": format_money,
    }


def _credit(session: Session, ids: list[int], entries: Any) -> dict[str, Any]:
    balances = store_credit.balances(session, customer_ids=ids)
    # Credit is per brand: name the brand only when the customer holds credit with several.
    names = {b.id: b.name for b in session.scalars(select(Brand).where(Brand.id.in_({x.brand_id for x in balances})))} \
        if len({x.brand_id for x in balances}) > 1 else {}
    return {"balances": [(b, names.get(b.brand_id)) for b in balances], "entries": entries}


def _order_view(session: Session, order: Order, order_refunds: list[Refund]) -> dict[str, Any]:
    taken = refunds.taken_from(order_refunds)
    left = refunds.refundable_lines(session, order=order, done=taken)
    open_unshipped = order.status == OrderStatus.open and order.fulfillment_status == FulfillmentStatus.unfulfilled
    return {
        "o": order,
        "lines": [(li, left[li.id][0]) for li in order.lines],
        "shipping_left": order.shipping_total - taken.shipping,
        "refundable": order.paid_total - taken.total,
        "refunds": order_refunds,
        "can_cancel": open_unshipped,
        "can_readdress": open_unshipped,
        "can_reship": order.status != OrderStatus.cancelled and bool(order.shipments),
        "can_return": order.status != OrderStatus.cancelled and shipments.delivered_at(order) is not None,
    }


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


# --- the supervisor's approval queue -----------------------------------------------


@router.get("/approvals", name="approvals")
def approvals(request: Request, session: DbSession, principal: AgentPrincipal) -> Response:
    queue = refunds.awaiting_approval(session)
    return render(request, "agent/approvals.html", {
        **sidebar(session, principal=principal, active=None),
        "nav": "approvals",
        "queue": queue,
        "money": format_money,
        "can_decide": principal.is_supervisor,
    })


@router.post("/approvals/{refund_id}")
async def decide(request: Request, refund_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    form = await _form(request)
    refund = refunds.get_or_raise(session, refund_id=refund_id)
    try:
        refunds.decide(session, principal=principal, refund=refund, approve=form.get("decision") == "approve",
                       note=form.get("note", "")[:300])
        text = f"Refund {'approved' if refund.status != RefundStatus.declined else 'declined'}: " \
               f"{format_money(refund.amount, refund.currency)} on order {refund.order.number}."
        kind = "success"
    except AppError as exc:
        session.rollback()
        text, kind = exc.message, "error"
    flash(request, text, kind)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": "/approvals"})
    return RedirectResponse("/approvals", status_code=303)


# --- refund limits per role (admins) ------------------------------------------------


@router.get("/refund-limits", name="refund_limits")
def limits_page(request: Request, session: DbSession, principal: AgentPrincipal, saved: str = "") -> Response:
    if not principal.is_admin:
        raise Forbidden("Only admins set refund limits.")
    return render(request, "agent/refund_limits.html", {
        **sidebar(session, principal=principal, active=None),
        "nav": "approvals",
        "limits": {role.value: refunds.limit_for(session, role=role.value) for role in Role},
        "error": None,
    })


@router.post("/refund-limits")
async def save_limits(request: Request, session: DbSession, principal: AgentPrincipal) -> Response:
    if not principal.is_admin:
        raise Forbidden("Only admins set refund limits.")
    form = await _form(request)
    try:
        wanted = {role.value: (parse_amount(form[role.value], "USD") if form.get(role.value, "").strip() else None)
                  for role in Role}
        if any(v is not None and v < 0 for v in wanted.values()):
            raise ValueError("limits cannot be negative")
    except ValueError as exc:
        return render(request, "agent/refund_limits.html", {
            **sidebar(session, principal=principal, active=None), "nav": "approvals",
            "limits": {k: form.get(k, "") for k in form}, "error": f"{exc}."}, status_code=422)
    for role, amount in wanted.items():
        if refunds.limit_for(session, role=role) != amount:
            refunds.set_limit(session, actor=principal.actor, role=role, amount=amount)
    flash(request, "Refund limits saved.")
    return RedirectResponse("/refund-limits", status_code=303)
