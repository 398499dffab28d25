"""Signing in and out of the agent app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from cartdesk.auth import service as auth_service
from cartdesk.auth.deps import SESSION_USER_KEY, SESSION_VERSION_KEY, optional_principal
from cartdesk.auth.schemas import Principal
from cartdesk.db.deps import DbSession
from cartdesk.kit.routing import Router
from cartdesk.web.security import flash, rotate_csrf_token, safe_next, tokens_match
from cartdesk.web.templating import render

router = Router()


def _login_page(request: Request, *, email: str = "", next_url: str = "/", error: str | None = None,
                status_code: int = 200) -> Response:
    return render(
        request, "agent/login.html", {"email": email, "next": next_url, "error": error}, status_code=status_code
    )


@router.get("/login", name="login")
def login_form(
    request: Request, principal: Principal | None = Depends(optional_principal), next: str = "/"
) -> Response:
    if principal is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_url=safe_next(next))


@router.post("/login")
def login_submit(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    next_url = safe_next(next)
    # Login CSRF: without this, another site could sign a victim into the attacker's account.
    if not tokens_match(request.session.get("csrf"), csrf_token):
        return _login_page(request, email=email, next_url=next_url, status_code=403,
                           error="Your sign-in form expired. Please try again.")
    throttle = request.app.state.login_throttle
    ip = request.client.host if request.client else None
    wait = throttle.retry_after(email=email, ip=ip)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        return _login_page(request, email=email, next_url=next_url, status_code=429,
                           error=f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.")
    user = auth_service.authenticate(session, email=email, password=password)
    if user is None:
        throttle.record_failure(email=email, ip=ip)
        return _login_page(request, email=email, next_url=next_url, status_code=400,
                           error="That email and password don't match an active account.")
    throttle.record_success(email=email)
    # A fresh session at login: nothing from before sign-in (a planted id or token) survives.
    request.session.clear()
    request.session[SESSION_USER_KEY] = user.id
    request.session[SESSION_VERSION_KEY] = user.session_version
    rotate_csrf_token(request)
    return RedirectResponse(next_url, status_code=303)


@router.post("/logout", name="logout")
def logout(request: Request) -> Response:
    # The CSRF middleware has already checked the token: a stray cross-site POST cannot sign you out.
    request.session.clear()
    flash(request, "You have been signed out.", "info")
    return RedirectResponse("/login", status_code=303)
