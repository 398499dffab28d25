"""Every router, mounted in one place: the app's table of contents."""

from __future__ import annotations

from fastapi import FastAPI


def include_all(app: FastAPI) -> None:
    from cartdesk.auth.routes import router as people
    from cartdesk.brands.routes import router as brands
    from cartdesk.commerce.routes import router as store
    from cartdesk.commerce.webhook_routes import router as store_hooks
    from cartdesk.conversations.attachment_routes import router as attachments
    from cartdesk.conversations.routes import router as conversations
    from cartdesk.customers.routes import router as customers
    from cartdesk.knowledge.routes import router as knowledge
    from cartdesk.realtime.routes import router as realtime
    from cartdesk.search.routes import router as search
    from cartdesk.web.routes import router as web

    for router in (conversations, realtime, customers, attachments, search, people, brands, knowledge, store, store_hooks, web):
        app.include_router(router)
