from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def start_visitor(client: TestClient, brand: str, **extra: Any) -> dict[str, Any]:
    """A new visitor through the widget's own API: {token, visitor, config}."""
    response = client.post("/widget/api/session", json={"brand": brand, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
