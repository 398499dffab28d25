"""The error shape as an OpenAPI schema, so /docs shows what a failing call returns."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: not_found, validation_error, …", examples=["not_found"])
    message: str = Field(description="For people; may change between versions")
    details: Any = Field(default=None, description="Structured context, e.g. the fields that failed validation")


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer of the API has this shape."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, unknown, revoked or expired token",
    403: "Your role or token scopes do not allow this",
    404: "No such thing, or not visible to you",
    409: "Conflicts with the current state",
    413: "Payload too large",
    422: "Invalid input; `details` names the fields",
    503: "Unavailable",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: the listed statuses, documented with the error shape."""
    return {code: {"model": ErrorResponse, "description": _DESCRIPTIONS.get(code, "Error")} for code in codes}
