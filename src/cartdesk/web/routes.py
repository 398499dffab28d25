"""Every web (HTML) router, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from cartdesk.web.agent import (
    auth,
    conversations,
    customers,
    inbox,
    mail_original,
    mailboxes,
    order_actions,
    store,
)
from cartdesk.web.portal import conversations as portal_conversations
from cartdesk.web.portal import routes as portal

router = APIRouter(include_in_schema=False)
router.include_router(portal.router)
router.include_router(portal_conversations.router)
for module in (auth, inbox, conversations, customers, store, order_actions, mailboxes, mail_original):
    router.include_router(module.router)
