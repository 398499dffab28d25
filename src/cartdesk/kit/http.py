"""The HTTP error shape, in one place: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cartdesk.kit.errors import AppError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
    429: "rate_limited",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        # The first element says where (body, query, path …); only that is dropped, so a
        # field that is itself called "body" (message.body) keeps its name.
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]
        details.append({"field": ".".join(loc) or None, "message": err.get("msg"), "type": err.get("type")})
    return details


def _constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)  # psycopg names the constraint
    if diag is not None and getattr(diag, "constraint_name", None):
        return str(diag.constraint_name)
    text = str(exc.orig)  # SQLite: "UNIQUE constraint failed: customers.email"
    return text.split(":", 1)[1].strip() if "constraint failed:" in text else None


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text or "lock timeout" in text


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Any:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        handler = getattr(request.app.state, "html_error_handler", None)
        if handler is not None and wants_html(request):
            return handler(request, exc.status_code, exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        fields = ", ".join(d["field"] for d in details if d["field"]) or "the request"
        return JSONResponse(
            error_body("validation_error", f"Invalid input in {fields}.", details), status_code=422
        )

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint the services did not check first, typically a race between two
        # requests creating the same thing. The transaction was rolled back, so nothing
        # was saved; the client may re-read and retry.
        log.info("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return JSONResponse(
            error_body("conflict", "This change conflicts with data saved meanwhile (a duplicate or a removed "
                       "reference); nothing was saved. Re-read and try again.", {"constraint": _constraint(exc)}),
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    async def _operational_error(request: Request, exc: OperationalError) -> JSONResponse:
        if not _is_busy(exc):
            raise exc
        log.warning("database busy on %s %s: %s", request.method, request.url.path, exc.orig)
        return JSONResponse(
            error_body("busy", "The database is busy; nothing was saved. Try again in a moment."),
            status_code=503, headers={"Retry-After": "1"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        handler = getattr(request.app.state, "html_error_handler", None)
        if handler is not None and wants_html(request):
            return handler(request, exc.status_code, str(exc.detail))
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )
