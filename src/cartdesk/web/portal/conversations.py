"""'My conversations' in the portal: the customer behind a signed order link reads their
conversations with this brand (never the team's notes) and replies to them.

The link proves the customer owns the order's email, so the conversations shown are those
of that customer (and anyone merged into them) with this brand; anything else is a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from cartdesk.commerce import portal
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation
from cartdesk.conversations.schemas import ConversationCreate
from cartdesk.customers import service as customers_service
from cartdesk.db.deps import DbSession
from cartdesk.events.schemas import Actor
from cartdesk.kit.errors import NotFound
from cartdesk.kit.routing import Router
from cartdesk.web.portal.routes import _brand, _ctx, _expired, _order
from cartdesk.web.templating import render

router = Router(prefix="/portal")


def _conversation(session: Session, *, brand_id: int, customer_id: int | None, conversation_id: int) -> Conversation:
    for conversation in portal.conversations_for(session, brand_id=brand_id, customer_id=customer_id, limit=200):
        if conversation.id == conversation_id:
            return conversation
    raise NotFound("No such conversation.")


@router.get("/{slug}/o/{token}/conversations/{conversation_id}")
def conversation_page(request: Request, slug: str, token: str, conversation_id: int, session: DbSession,
                      error: str | None = None) -> Response:
    brand = _brand(session, slug)
    order = _order(request, session, brand, token)
    if order is None:
        return _expired(request, brand)
    conversation = _conversation(session, brand_id=brand.id, customer_id=order.customer_id,
                                 conversation_id=conversation_id)
    messages = conversations_service.list_messages(session, conversation_id=conversation.id, include_notes=False)
    return render(request, "portal/conversation.html", _ctx(
        brand, o=order, token=token, conversation=conversation, messages=messages, error=error))


@router.post("/{slug}/o/{token}/conversations/{conversation_id}")
def reply(request: Request, slug: str, token: str, conversation_id: int, session: DbSession,
          body: Annotated[str, Form()] = "") -> Response:
    brand = _brand(session, slug)
    order = _order(request, session, brand, token)
    if order is None:
        return _expired(request, brand)
    conversation = _conversation(session, brand_id=brand.id, customer_id=order.customer_id,
                                 conversation_id=conversation_id)
    if not body.strip():
        return conversation_page(request, slug, token, conversation_id, session, error="Write a message first.")
    customer = customers_service.get_or_raise(session, customer_id=conversation.customer_id)
    message = conversations_service.receive_message(session, conversation=conversation, customer=customer,
                                                    body=body.strip()[:20000], meta={"via": "portal"})
    return RedirectResponse(f"/portal/{brand.slug}/o/{token}/conversations/{message.conversation_id}#latest",
                            status_code=303)



@router.post("/{slug}/o/{token}/conversations")
def ask_about_order(request: Request, slug: str, token: str, session: DbSession,
                    body: Annotated[str, Form()] = "") -> Response:
    """A new conversation about this order. It arrives like an email from the customer (the address the
    order was found with), so the team's replies reach them by email as well as here."""
    brand = _brand(session, slug)
    order = _order(request, session, brand, token)
    if order is None:
        return _expired(request, brand)
    if not body.strip():
        return RedirectResponse(f"/portal/{brand.slug}/o/{token}#ask", status_code=303)
    customer = {"id": order.customer_id} if order.customer_id else {"email": order.email}
    conversation = conversations_service.create(session, actor=Actor(type="customer", id=order.customer_id,
                                                                     name=order.email), conversation_in=ConversationCreate(
        customer=customer, subject=f"Question about order {order.number}", message={"body": body.strip()[:20000]},
        channel="email", brand=brand.id, tags=["portal"]))
    return RedirectResponse(f"/portal/{brand.slug}/o/{token}/conversations/{conversation.id}#latest", status_code=303)
