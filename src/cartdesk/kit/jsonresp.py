"""Fast JSON responses for hot read paths.

Read models are built as plain dicts by SQL (see conversations/queries.py) and
serialised once with orjson; FastAPI's response_model stays on the route for the
OpenAPI document but is not re-validated when a Response is returned directly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(data: Any) -> bytes:
    # UTC datetimes as "...Z", like Pydantic does for the other routes.
    return orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)


def json_response(data: Any, *, status_code: int = 200) -> Response:
    return Response(dumps(data), status_code=status_code, media_type="application/json")
