"""A fake WooCommerce REST API v3 (/wp-json/wc/v3), after woocommerce.github.io/woocommerce-rest-api-docs:
order/product shapes, page/per_page pagination with X-WP-Total and X-WP-TotalPages, modified_after,
HTTP Basic auth with consumer key and secret, 429s, refunds and status updates."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API = "/wp-json/wc/v3"


@dataclass
class FakeWoo:
    key: str = "ck_test"
    secret: str = "cs_test"
    orders: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    rate_limit_next: int = 0
    calls: list[str] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(700))

    def add_order(self, *, email: str, lines: list[tuple[str, str, int, str]], shipping: str = "0.00",
                  modified: str = "2026-11-01T10:00:00", status: str = "processing") -> dict[str, Any]:
        items = []
        for sku, name, qty, price in lines:
            subtotal = f"{float(price) * qty:.2f}"
            items.append({"id": next(self._ids), "name": name, "product_id": next(self._ids), "sku": sku,
                          "quantity": qty, "price": float(price), "subtotal": subtotal, "total": subtotal,
                          "total_tax": "0.00"})
        total = sum(float(i["total"]) for i in items) + float(shipping)
        order_id = next(self._ids)
        order = {"id": order_id, "number": str(order_id), "status": status, "currency": "EUR",
                 "date_created_gmt": "2026-10-30T09:00:00", "date_modified_gmt": modified,
                 "total": f"{total:.2f}", "shipping_total": shipping, "shipping_tax": "0.00",
                 "billing": {"first_name": "Bo", "last_name": "Jensen", "email": email},
                 "shipping": {"first_name": "Bo", "last_name": "Jensen", "address_1": "Nørregade 1",
                              "city": "Aarhus", "postcode": "8000", "country": "DK"},
                 "line_items": items, "refunds": []}
        self.orders.append(order)
        return order

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route(f"{API}/{{resource:str}}", self._list, methods=["GET", "POST"]),
            Route(f"{API}/orders/{{order_id:int}}", self._order, methods=["GET", "PUT"]),
            Route(f"{API}/orders/{{order_id:int}}/refunds", self._refund, methods=["POST"]),
        ])

    def _gate(self, request: Request) -> JSONResponse | None:
        self.calls.append(f"{request.method} {request.url}")
        expected = "Basic " + base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
                                 "data": {"status": 401}}, status_code=401)
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return JSONResponse({"code": "rate_limited"}, status_code=429, headers={"Retry-After": "0.01"})
        return None

    async def _list(self, request: Request) -> JSONResponse:
        if (refused := self._gate(request)) is not None:
            return refused
        rows = {"orders": self.orders, "products": self.products, "customers": self.customers}[request.path_params["resource"]]
        p = request.query_params
        per_page, page = min(int(p.get("per_page", 10)), 100), int(p.get("page", 1))
        after = p.get("modified_after")
        chosen = sorted((r for r in rows if not after or r.get("date_modified_gmt", "") > after),
                        key=lambda r: (r.get("date_modified_gmt", ""), r["id"]))
        total_pages = max(1, -(-len(chosen) // per_page))
        return JSONResponse(chosen[(page - 1) * per_page: page * per_page],
                            headers={"X-WP-Total": str(len(chosen)), "X-WP-TotalPages": str(total_pages)})

    async def _order(self, request: Request) -> JSONResponse:
        if (refused := self._gate(request)) is not None:
            return refused
        order = next((o for o in self.orders if o["id"] == request.path_params["order_id"]), None)
        if order is None:
            return JSONResponse({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}, status_code=404)
        if request.method == "PUT":
            order.update(await request.json())
        return JSONResponse(order)

    async def _refund(self, request: Request) -> JSONResponse:
        if (refused := self._gate(request)) is not None:
            return refused
        order = next((o for o in self.orders if o["id"] == request.path_params["order_id"]), None)
        if order is None:
            return JSONResponse({"code": "woocommerce_rest_shop_order_invalid_id"}, status_code=404)
        body = await request.json()
        refunded = -sum(float(r["total"]) for r in order["refunds"])
        if refunded + float(body["amount"]) > float(order["total"]) + 1e-9:
            return JSONResponse({"code": "woocommerce_rest_cannot_create_order_refund",
                                 "message": "Invalid refund amount."}, status_code=400)
        refund = {"id": next(self._ids), "reason": body.get("reason", ""), "total": f"-{float(body['amount']):.2f}"}
        order["refunds"].append(refund)
        return JSONResponse({**refund, "amount": body["amount"], "line_items": body.get("line_items", [])}, status_code=201)


def signed_headers(secret: str, body: bytes, *, topic: str, delivery_id: str) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Signature": digest, "X-WC-Webhook-Delivery-ID": delivery_id,
            "X-WC-Webhook-Resource": topic.split(".")[0], "X-WC-Webhook-Event": topic.split(".")[1],
            "Content-Type": "application/json"}
