"""Every web (HTML) router, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from cartdesk.web.agent import auth, chat, chat_settings, conversations, customers, inbox
from cartdesk.web.widget import routes as widget

router = APIRouter(include_in_schema=False)
for module in (auth, inbox, conversations, customers, chat, chat_settings, widget):
    router.include_router(module.router)
