"""Wiring the web app into the FastAPI app: sessions, CSRF, templates, static files, error pages.

Called once from ``create_app``; nothing here runs at import time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Scope

from cartdesk.config import Settings
from cartdesk.kit.http import error_body
from cartdesk.web.deps import LoginRequired, login_redirect
from cartdesk.web.security import CSRFMiddleware, LoginThrottle
from cartdesk.web.templating import STATIC_DIR, create_templates

SESSION_COOKIE = "cartdesk_session"

_ERROR_TITLES = {
    403: "You can't do that",
    404: "Nothing here",
    405: "Not allowed",
    409: "That clashed with a change",
    413: "Too large",
    422: "Check your input",
    429: "Slow down",
}


def install(app: FastAPI, settings: Settings) -> None:
    app.state.templates = create_templates()
    app.state.login_throttle = LoginThrottle()
    app.state.html_error_handler = html_error_page
    app.add_exception_handler(LoginRequired, _login_required)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Middleware added last runs first: sessions must be decoded before the CSRF check reads them.
    app.add_middleware(CSRFMiddleware, reject=_csrf_reject)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key(),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.session_cookie_secure,
    )


async def _login_required(request: Request, exc: LoginRequired) -> Response:
    return login_redirect(request, exc.next_url)


def html_error_page(request: Request, status_code: int, message: str) -> Response:
    """Errors for people: a page (or, for htmx, the same page plus a header the toast reads)."""
    if status_code == 401:
        return login_redirect(request, request.url.path)
    if status_code == 404 and message in ("Not Found", ""):
        message = "This page does not exist, or you do not have access to it."
    return _error_response(request, status_code, message)


def _error_response(request: Request, status_code: int, message: str) -> HTMLResponse:
    title = _ERROR_TITLES.get(status_code, "Something went wrong")
    response = request.app.state.templates.TemplateResponse(
        request,
        "agent/error.html",
        {"status_code": status_code, "title": title, "message": message},
        status_code=status_code,
    )
    response.headers["X-Message"] = quote(message)
    return response


def _csrf_reject(scope: Scope, message: str) -> Any:
    request = Request(scope)
    wants_page = "text/html" in request.headers.get("accept", "") or request.headers.get("hx-request") == "true"
    if request.url.path.startswith("/api/") or not wants_page:
        return JSONResponse(error_body("csrf_failed", message), status_code=403)
    return _error_response(request, 403, message)
