"""Every web (HTML) router, in one place."""

from __future__ import annotations

from cartdesk.kit.routing import Router
from cartdesk.web.agent import (
    auth,
    chat,
    chat_settings,
    conversations,
    customers,
    inbox,
    kb_articles,
    kb_categories,
    mail_original,
    mailboxes,
    order_actions,
    shops,
    store,
)
from cartdesk.web.agent import knowledge as kb_pages
from cartdesk.web.helpcenter import contact as hc_contact
from cartdesk.web.helpcenter import files as hc_files
from cartdesk.web.helpcenter import images as hc_images
from cartdesk.web.helpcenter import pages as hc_pages
from cartdesk.web.portal import conversations as portal_conversations
from cartdesk.web.portal import routes as portal
from cartdesk.web.widget import routes as widget

router = Router(include_in_schema=False)
router.include_router(portal.router)
router.include_router(portal_conversations.router)
for module in (auth, inbox, conversations, customers, chat, chat_settings, store, order_actions, shops, mailboxes, mail_original,
               kb_articles, kb_categories, kb_pages, hc_images, hc_files, hc_pages, hc_contact, widget):
    router.include_router(module.router)
