"""Who is using the web app. Pages declare ``AgentPrincipal``; a visitor who is not
logged in is sent to the login page (an htmx request is told to navigate there,
rather than having the login page swapped into a fragment)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from cartdesk.auth.deps import optional_principal
from cartdesk.auth.schemas import Principal


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def login_url(next_url: str | None) -> str:
    if not next_url or next_url == "/":
        return "/login"
    return "/login?next=" + quote(next_url, safe="/")


def login_redirect(request: Request, next_url: str | None) -> Response:
    url = login_url(next_url)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _return_path(request: Request) -> str:
    """Where to come back to after login: the page, not the fragment an htmx call asked for."""
    current = request.headers.get("hx-current-url") if request.headers.get("hx-request") else None
    if current:
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    if request.method != "GET":
        return "/"
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def agent_principal(request: Request, principal: Principal | None = Depends(optional_principal)) -> Principal:
    if principal is None:
        raise LoginRequired(_return_path(request))
    return principal


AgentPrincipal = Annotated[Principal, Depends(agent_principal)]
