"""Keyset pagination: opaque cursors that stay fast at any depth.

A cursor encodes the sort key of the last row served; the next page asks for rows
strictly after it. Unlike OFFSET, page 10,000 costs the same as page 1.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from cartdesk.kit.errors import ValidationFailed


def encode_cursor(values: list[Any]) -> str:
    payload = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, types: tuple[type, ...]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong shape")
        out: list[Any] = []
        for value, typ in zip(values, types, strict=True):
            if typ is datetime:
                out.append(datetime.fromisoformat(value))
            elif value is None:
                out.append(None)
            else:
                out.append(typ(value))
        return out
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(
            "The cursor is not valid; use next_cursor from a previous page.",
            details=[{"field": "cursor", "message": str(exc)}],
        ) from exc
