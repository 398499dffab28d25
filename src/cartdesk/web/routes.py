"""Every web (HTML) router, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from cartdesk.web.agent import auth, conversations, customers, inbox, mailboxes

router = APIRouter(include_in_schema=False)
for module in (auth, inbox, conversations, customers, mailboxes):
    router.include_router(module.router)
