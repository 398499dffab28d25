"""Every web (HTML) router, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from cartdesk.web.agent import (
    auth,
    conversations,
    customers,
    inbox,
    kb_articles,
    kb_categories,
    order_actions,
    store,
)
from cartdesk.web.agent import knowledge as kb_pages
from cartdesk.web.helpcenter import contact as hc_contact
from cartdesk.web.helpcenter import images as hc_images
from cartdesk.web.helpcenter import pages as hc_pages
from cartdesk.web.portal import conversations as portal_conversations
from cartdesk.web.portal import routes as portal

router = APIRouter(include_in_schema=False)
router.include_router(portal.router)
router.include_router(portal_conversations.router)
for module in (auth, inbox, conversations, customers, store, order_actions, kb_articles, kb_categories, kb_pages, hc_images, hc_pages, hc_contact):
    router.include_router(module.router)
