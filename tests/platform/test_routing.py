"""kit/routing.Router: a router declines a path none of its routes can match, and nothing else changes."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRouter
from fastapi.testclient import TestClient
from starlette.routing import Match

from cartdesk.kit.routing import Router


def _scope(path: str, method: str = "GET") -> dict:
    return {"type": "http", "path": path, "method": method, "root_path": "", "headers": [], "query_string": b""}


def _app() -> tuple[FastAPI, Router, Router]:
    items = Router(prefix="/api/v1/items")

    @items.get("/{item_id}")
    def get_item(item_id: int) -> dict:
        return {"id": item_id}

    @items.post("")
    def create_item() -> dict:
        return {"created": True}

    pages = Router()
    inner = Router(prefix="/hc")

    @inner.get("/{brand}/search")
    def search(brand: str) -> dict:
        return {"brand": brand}

    pages.include_router(inner)

    @pages.get("/about/")
    def about() -> dict:
        return {"page": "about"}

    app = FastAPI()
    app.include_router(items)
    app.include_router(pages)
    return app, items, pages


def test_a_router_knows_the_fixed_start_of_its_paths() -> None:
    _, items, pages = _app()
    assert items.path_starts() == ("/api/v1/items", "/api/v1/items/")
    assert set(pages.path_starts()) == {"/about/", "/hc/"}


def test_a_path_outside_every_route_is_declined_at_once() -> None:
    app, items, pages = _app()
    included = [r for r in app.router.routes if getattr(r, "original_router", None) is items][0]
    assert included.matches(_scope("/hc/demo/search"))[0] == Match.NONE
    assert included.matches(_scope("/api/v1/items/5"))[0] == Match.FULL


def test_requests_route_as_before_405_and_slash_redirects_included() -> None:
    app, _, _ = _app()
    with TestClient(app) as client:
        assert client.get("/api/v1/items/7").json() == {"id": 7}
        assert client.post("/api/v1/items").json() == {"created": True}
        assert client.get("/hc/demo/search").json() == {"brand": "demo"}
        assert client.delete("/api/v1/items/7").status_code == 405  # a partial match still answers 405
        assert client.get("/nowhere").status_code == 404
        redirect = client.get("/about", follow_redirects=False)
        assert redirect.status_code == 307 and redirect.headers["location"].endswith("/about/")


def test_every_router_in_cartdesk_is_a_router(app) -> None:  # type: ignore[no-untyped-def]
    """A plain APIRouter would be walked route by route for every request after it."""
    seen: list[APIRouter] = []

    def walk(routes: list) -> None:  # type: ignore[type-arg]
        for route in routes:
            router = getattr(route, "original_router", None)
            if isinstance(router, APIRouter):
                seen.append(router)
                walk(router.routes)

    walk(app.router.routes)
    assert len(seen) > 20  # the API's routers and the web routers nested under web/routes.py
    assert [r for r in seen if not isinstance(r, Router)] == []
