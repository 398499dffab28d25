"""Every web (HTML) router, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from cartdesk.web.agent import auth, conversations, customers, inbox, kb_articles
from cartdesk.web.agent import knowledge as kb_pages
from cartdesk.web.helpcenter import contact as hc_contact
from cartdesk.web.helpcenter import pages as hc_pages

router = APIRouter(include_in_schema=False)
for module in (auth, inbox, conversations, customers, kb_articles, kb_pages, hc_pages, hc_contact):
    router.include_router(module.router)
