"""Every router, mounted in one place: the app's table of contents."""

from __future__ import annotations

from fastapi import FastAPI


def include_all(app: FastAPI) -> None:
    from cartdesk.conversations.routes import router as conversations

    for router in (conversations,):
        app.include_router(router)
