"""Order actions from the store panel: refund, cancel, change address, reship, open a return,
move a return on.

Each action is one function over the posted form; it runs from the conversation page (answering
like every other move there, ``conversations._act``: the fragment with a notice, the action noted
in the thread) or from the customer page (a redirect with a flash). A refused action (shipped
already, above what was paid) rolls back and says why.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.commerce import actions, refunds, returns, service
from cartdesk.commerce.models import Order, RefundStatus, ReturnStatus
from cartdesk.commerce.schemas import Address, RefundCreate, ReturnCreate
from cartdesk.conversations.models import Conversation
from cartdesk.customers import service as customers_service
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import AppError, Forbidden, NotFound, ValidationFailed
from cartdesk.kit.money import format_money, parse_amount
from cartdesk.kit.routing import Router
from cartdesk.web.agent.conversations import _act
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.security import flash

router = Router()
Form = dict[str, str]
Action = Callable[[Session, Principal, Order, Form, int | None], str]


def _ints(form: Form, prefix: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for key, value in form.items():
        if key.startswith(prefix) and value.strip():
            try:
                out[int(key[len(prefix):])] = int(value)
            except ValueError as exc:
                raise ValidationFailed("Quantities are whole numbers.") from exc
    return {k: v for k, v in out.items() if v > 0}


def refund(session: Session, principal: Principal, order: Order, form: Form, conversation_id: int | None) -> str:
    try:
        shipping = parse_amount(form.get("shipping") or "0", order.currency)
    except ValueError as exc:
        raise ValidationFailed(f"Shipping: {exc}.") from exc
    lines = [{"line_id": k, "quantity": v} for k, v in _ints(form, "qty_").items()]
    done = refunds.request_refund(session, principal=principal, order=order, refund_in=RefundCreate(
        order_id=order.id, lines=lines, shipping=shipping, reason=form.get("reason", "")[:300],
        conversation_id=conversation_id))
    money = format_money(done.amount, order.currency)
    if done.status == RefundStatus.awaiting_approval:
        return f"Refund of {money} sent to a supervisor for approval."
    return f"Refunded {money} on order {order.number}."


def cancel(session: Session, principal: Principal, order: Order, form: Form, conversation_id: int | None) -> str:
    actions.cancel_order(session, principal=principal, order=order, reason=form.get("reason", "")[:200],
                         conversation_id=conversation_id)
    return f"Order {order.number} cancelled."


def change_address(session: Session, principal: Principal, order: Order, form: Form,
                   conversation_id: int | None) -> str:
    address = Address(**{k: form.get(k, "").strip() for k in (
        "name", "line1", "line2", "city", "region", "postal_code", "country")})
    actions.change_address(session, principal=principal, order=order, address=address, conversation_id=conversation_id)
    return f"Shipping address of order {order.number} changed."


def reship(session: Session, principal: Principal, order: Order, form: Form, conversation_id: int | None) -> str:
    replacement = actions.reship(session, principal=principal, order=order, reason=form.get("reason", "")[:200],
                                 conversation_id=conversation_id)
    return f"Replacement order {replacement.number} created."


def create_return(session: Session, principal: Principal, order: Order, form: Form,
                  conversation_id: int | None) -> str:
    items = [{"line_id": k, "quantity": v, "condition": form.get("condition", "unopened")}
             for k, v in _ints(form, "ret_").items()]
    if not items:
        raise ValidationFailed("Choose the items to return.")
    ret = returns.create_return(session, actor=principal.actor, order=order, via="agent", return_in=ReturnCreate(
        order_id=order.id, items=items, reason=form.get("reason", "")[:64],
        resolution=form.get("resolution") or "refund", conversation_id=conversation_id))
    return f"Return {ret.rma} opened."


ORDER_ACTIONS: dict[str, Action] = {
    "refund": refund, "cancel": cancel, "address": change_address, "reship": reship, "return": create_return,
}


def _customer_order(session: Session, customer_id: int, order_id: int) -> Order:
    # Only this customer's orders (theirs or of anyone merged into them) can be acted on from their pages.
    order = service.get_order_or_raise(session, order_id=order_id)
    if order.customer_id not in service.customer_ids(session, customer_id=customer_id):
        raise Forbidden("That order belongs to another customer.")
    return order


def _move_return(session: Session, principal: Principal, customer_id: int, return_id: int, form: Form) -> str:
    ret = returns.get_or_raise(session, return_id=return_id)
    _customer_order(session, customer_id, ret.order_id)
    try:
        target = ReturnStatus(form.get("status", ""))
    except ValueError as exc:
        raise ValidationFailed("Choose what happened to the return.") from exc
    returns.transition(session, principal=principal, ret=ret, status=target)
    return f"Return {ret.rma} marked {target}."


async def _form(request: Request) -> Form:
    return {k: str(v) for k, v in (await request.form()).items()}


@router.post("/conversations/{conversation_id}/orders/{order_id}/{name}")
async def from_conversation(request: Request, conversation_id: int, order_id: int, name: str, session: DbSession,
                            principal: AgentPrincipal) -> Response:
    run = ORDER_ACTIONS.get(name)
    if run is None:
        raise NotFound("No such order action.")
    form = await _form(request)

    def action(conversation: Conversation) -> str:
        order = _customer_order(session, conversation.customer_id, order_id)
        return run(session, principal, order, form, conversation.id)

    return _act(request, session, principal, conversation_id, action)


@router.post("/conversations/{conversation_id}/returns/{return_id}/status")
async def return_from_conversation(request: Request, conversation_id: int, return_id: int, session: DbSession,
                                   principal: AgentPrincipal) -> Response:
    form = await _form(request)
    return _act(request, session, principal, conversation_id,
                lambda conversation: _move_return(session, principal, conversation.customer_id, return_id, form))


def _on_customer_page(request: Request, session: Session, customer_id: int, run: Callable[[], str]) -> Response:
    customers_service.get_or_raise(session, customer_id=customer_id)
    try:
        flash(request, run())
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


@router.post("/customers/{customer_id}/orders/{order_id}/{name}")
async def from_customer_page(request: Request, customer_id: int, order_id: int, name: str, session: DbSession,
                             principal: AgentPrincipal) -> Response:
    run = ORDER_ACTIONS.get(name)
    if run is None:
        raise NotFound("No such order action.")
    form = await _form(request)
    return _on_customer_page(request, session, customer_id, lambda: run(
        session, principal, _customer_order(session, customer_id, order_id), form, None))


@router.post("/customers/{customer_id}/returns/{return_id}/status")
async def return_from_customer_page(request: Request, customer_id: int, return_id: int, session: DbSession,
                                    principal: AgentPrincipal) -> Response:
    form = await _form(request)
    return _on_customer_page(request, session, customer_id,
                             lambda: _move_return(session, principal, customer_id, return_id, form))
