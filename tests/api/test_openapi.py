from __future__ import annotations

from typing import Any

EXPECTED = {
    ("get", "/api/v1/customers"), ("post", "/api/v1/customers"), ("get", "/api/v1/customers/{customer_id}"),
    ("patch", "/api/v1/customers/{customer_id}"), ("delete", "/api/v1/customers/{customer_id}"),
    ("post", "/api/v1/customers/{customer_id}/merge"), ("get", "/api/v1/customers/{customer_id}/conversations"),
    ("get", "/api/v1/users"), ("post", "/api/v1/users"), ("get", "/api/v1/users/{user_id}"),
    ("patch", "/api/v1/users/{user_id}"), ("get", "/api/v1/teams"), ("post", "/api/v1/teams"),
    ("patch", "/api/v1/teams/{team_id}"), ("get", "/api/v1/me"), ("get", "/api/v1/me/tokens"),
    ("post", "/api/v1/me/tokens"), ("delete", "/api/v1/me/tokens/{token_id}"), ("get", "/api/v1/search"),
    ("post", "/api/v1/attachments"), ("get", "/api/v1/attachments/{attachment_id}"),
    ("get", "/api/v1/brands"), ("post", "/api/v1/brands"), ("get", "/api/v1/brands/{brand_id}"),
    ("patch", "/api/v1/brands/{brand_id}"), ("get", "/api/v1/conversations/{conversation_id}/events"),
    ("get", "/healthz"), ("get", "/metrics"),
}


def _operations(spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                yield method, path, op


def test_openapi_documents_every_api_route(client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    operations = {(m, p): op for m, p, op in _operations(spec)}
    assert set(operations) >= EXPECTED
    for (method, path), op in operations.items():
        if not path.startswith("/api/"):
            continue
        assert op.get("summary"), (method, path)
        assert op.get("description"), (method, path)
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, (method, path)
        for code in success:
            if code == "204":
                continue
            content = op["responses"][code].get("content", {})
            assert content, (method, path, code)
            json_schema = content.get("application/json", {}).get("schema")
            if json_schema is not None:
                assert json_schema, (method, path)
        # Failures are documented with the one error shape.
        if "422" in op["responses"]:
            ref = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorResponse"), (method, path, ref)


def test_docs_page_loads(client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text and "/openapi.json" in response.text
