"""The widget script and the shop page are served as a store would load them."""

from __future__ import annotations

import gzip

from fastapi.testclient import TestClient

from cartdesk.brands.models import Brand
from cartdesk.web.templating import STATIC_DIR

BUDGET = 30 * 1024  # the limit, gzipped, script and stylesheet together


def test_the_widget_stays_within_its_size_budget() -> None:
    sizes = {name: len(gzip.compress((STATIC_DIR / "widget" / name).read_bytes(), 9))
             for name in ("widget.js", "widget.css")}
    assert sum(sizes.values()) <= BUDGET, sizes


def test_widget_js_is_served_cross_origin_and_the_demo_shop_embeds_it(client: TestClient, brand: Brand) -> None:
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["access-control-allow-origin"] == "*"
    assert "attachShadow" in script.text
    shop = client.get("/demo/shop?brand=northwind")
    assert shop.status_code == 200
    assert '<script src="/widget.js" data-brand="northwind" async></script>' in shop.text
    assert client.get("/demo/shop?brand=nope").status_code == 422
