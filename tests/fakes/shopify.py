"""A fake Shopify Admin REST API (2024-01), after shopify.dev's reference: the payload shapes
of orders/products/customers, cursor pagination through the Link header (page_info, no other
filters alongside), X-Shopify-Access-Token auth, 429 with Retry-After, and refunds/cancel."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API = "/admin/api/2024-01"


@dataclass
class FakeShopify:
    token: str = "shpat_test_token"
    orders: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    rate_limit_next: int = 0  # answer this many requests with 429 first
    fail_next: int = 0  # answer this many requests with 503 first
    calls: list[tuple[str, str]] = field(default_factory=list)
    refund_requests: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(900_000))
    _listing: tuple[Any, list[dict[str, Any]]] = (None, [])

    def add_order(self, *, number: int, email: str, lines: list[tuple[str, str, int, str]], shipping: str = "0.00",
                  updated_at: str = "2026-11-01T10:00:00-05:00", **extra: Any) -> dict[str, Any]:
        items = [{"id": next(self._ids), "sku": sku, "title": title, "quantity": qty, "price": price,
                  "total_discount": "0.00", "discount_allocations": [], "tax_lines": [], "variant_id": next(self._ids)}
                 for sku, title, qty, price in lines]
        total = sum(float(i["price"]) * i["quantity"] for i in items) + float(shipping)
        order = {"id": next(self._ids), "name": f"#{number}", "order_number": number, "email": email,
                 "currency": "USD", "created_at": "2026-10-30T09:00:00-05:00", "updated_at": updated_at,
                 "cancelled_at": None, "financial_status": "paid", "fulfillment_status": None,
                 "total_price": f"{total:.2f}", "line_items": items, "shipping_lines": [{"price": shipping}],
                 "customer": {"id": next(self._ids), "email": email, "first_name": "Ada", "last_name": "Lovelace"},
                 "shipping_address": {"name": "Ada Lovelace", "address1": "1 Main St", "city": "Denver",
                                      "province": "CO", "zip": "80202", "country_code": "US"},
                 "fulfillments": [], "refunds": [], **extra}
        # The payment: refunds must name it as their parent transaction.
        order["_transactions"] = [{"id": next(self._ids), "kind": "sale", "gateway": "shopify_payments",
                                   "amount": order["total_price"], "status": "success"}]
        self.orders.append(order)
        return order

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route(f"{API}/orders.json", self._create_order, methods=["POST"]),
            Route(f"{API}/{{resource:str}}.json", self._list, methods=["GET"]),
            Route(f"{API}/orders/{{order_id:int}}.json", self._get_order, methods=["GET", "PUT"]),
            Route(f"{API}/orders/{{order_id:int}}/refunds/calculate.json", self._calculate, methods=["POST"]),
            Route(f"{API}/orders/{{order_id:int}}/refunds.json", self._refund, methods=["POST"]),
            Route(f"{API}/orders/{{order_id:int}}/cancel.json", self._cancel, methods=["POST"]),
        ])

    def _gate(self, request: Request) -> JSONResponse | None:
        self.calls.append((request.method, str(request.url)))
        if request.headers.get("x-shopify-access-token") != self.token:
            return JSONResponse({"errors": "[API] Invalid API key or access token"}, status_code=401)
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return JSONResponse({"errors": "Exceeded 2 calls per second for api client."}, status_code=429,
                                headers={"Retry-After": "0.01"})
        if self.fail_next:
            self.fail_next -= 1
            return JSONResponse({"errors": "Service unavailable"}, status_code=503)
        return None

    async def _list(self, request: Request) -> JSONResponse:
        if (refused := self._gate(request)) is not None:
            return refused
        resource = request.path_params["resource"]
        rows = {"orders": self.orders, "products": self.products, "customers": self.customers}[resource]
        params = request.query_params
        if "page_info" in params:
            if set(params) - {"page_info", "limit"}:
                return JSONResponse({"errors": "page_info cannot be combined with other filters"}, status_code=400)
            state = json.loads(base64.urlsafe_b64decode(params["page_info"]))
            offset, since = state["offset"], state["since"]
        else:
            offset, since = 0, params.get("updated_at_min")
        limit = min(int(params.get("limit", 50)), 250)
        from datetime import datetime

        # Shopify answers from an index; sorting 100,000 orders for every page would make the fake,
        # which runs in the importer's process, cost more than the import (bench/commerce_bench.py).
        # So the listing is kept while the rows are unchanged (same ids and updated_at, in place or not).
        fingerprint = (resource, since, len(rows), hash(tuple((r["id"], r["updated_at"]) for r in rows)))
        if self._listing[0] != fingerprint:
            self._listing = (fingerprint, sorted(
                (r for r in rows if since is None
                 or datetime.fromisoformat(r["updated_at"]) >= datetime.fromisoformat(since)),
                key=lambda r: (r["updated_at"], r["id"])))
        chosen = self._listing[1]
        page = chosen[offset:offset + limit]
        headers = {}
        if offset + limit < len(chosen):
            info = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit, "since": since}).encode()).decode()
            headers["Link"] = f'<{request.base_url}{API.lstrip("/")}/{resource}.json?limit={limit}&page_info={info}>; rel="next"'
        return JSONResponse({resource: page}, headers=headers)

    async def _create_order(self, request: Request) -> JSONResponse:
        if (refused := self._gate(request)) is not None:
            return refused
        body = (await request.json())["order"]
        order = {"id": next(self._ids), "name": f"#{9000 + len(self.orders)}", "email": body.get("email"),
                 "line_items": [{"id": next(self._ids), **li} for li in body.get("line_items", [])],
                 "tags": body.get("tags", ""), "financial_status": body.get("financial_status", "pending"),
                 "fulfillments": [], "refunds": [], "created_at": "2026-11-03T10:00:00-05:00",
                 "updated_at": "2026-11-03T10:00:00-05:00", "currency": "USD", "total_price": "0.00"}
        self.orders.append(order)
        return JSONResponse({"order": order}, status_code=201)

    def _find(self, order_id: int) -> dict[str, Any] | None:
        return next((o for o in self.orders if o["id"] == order_id), None)

    async def _get_order(self, request: Request) -> JSONResponse:
        if (refused := self._gate(request)) is not None:
            return refused
        order = self._find(request.path_params["order_id"])
        if order is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if request.method == "PUT":
            order.update({k: v for k, v in (await request.json())["order"].items() if k != "id"})
        return JSONResponse({"order": order})

    async def _calculate(self, request: Request) -> JSONResponse:
        if (refused := self._gate(request)) is not None:
            return refused
        order = self._find(request.path_params["order_id"])
        if order is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        body = (await request.json())["refund"]
        prices = {li["id"]: float(li["price"]) for li in order["line_items"]}
        amount = sum(prices[li["line_item_id"]] * li["quantity"] for li in body.get("refund_line_items", []))
        amount += float((body.get("shipping") or {}).get("amount") or 0)
        sale = order["_transactions"][0]
        return JSONResponse({"refund": {"shipping": body.get("shipping"), "refund_line_items": body.get("refund_line_items", []),
                                        "transactions": [{"order_id": order["id"], "kind": "suggested_refund",
                                                          "gateway": sale["gateway"], "parent_id": sale["id"],
                                                          "amount": f"{amount:.2f}",
                                                          "maximum_refundable": order["total_price"]}]}})

    async def _refund(self, request: Request) -> JSONResponse:
        if (refused := self._gate(request)) is not None:
            return refused
        order = self._find(request.path_params["order_id"])
        if order is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        body = (await request.json())["refund"]
        self.refund_requests.append(body)
        parents = {t["id"] for t in order["_transactions"]}
        if any(t.get("parent_id") not in parents for t in body.get("transactions", [])):
            return JSONResponse({"errors": {"parent_id": ["is required and must be a transaction of this order"]}},
                                status_code=422)
        amount = sum(float(t["amount"]) for t in body.get("transactions", []))
        already = sum(float(t["amount"]) for r in order["refunds"] for t in r["transactions"])
        if already + amount > float(order["total_price"]) + 1e-9:
            return JSONResponse({"errors": {"base": ["Refund amount exceeds the refundable amount"]}}, status_code=422)
        refund = {"id": next(self._ids), "order_id": order["id"], "created_at": "2026-11-02T10:00:00-05:00",
                  "transactions": [{"amount": t["amount"], "kind": "refund", "status": "success"}
                                   for t in body.get("transactions", [])],
                  "refund_line_items": [{"line_item_id": li["line_item_id"], "quantity": li["quantity"],
                                         "subtotal": "0.00", "total_tax": "0.00"} for li in body.get("refund_line_items", [])]}
        order["refunds"].append(refund)
        return JSONResponse({"refund": refund}, status_code=201)

    async def _cancel(self, request: Request) -> JSONResponse:
        if (refused := self._gate(request)) is not None:
            return refused
        order = self._find(request.path_params["order_id"])
        if order is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if order.get("fulfillment_status") == "fulfilled":
            return JSONResponse({"error": "Cannot cancel a fulfilled order"}, status_code=422)
        order["cancelled_at"] = "2026-11-02T11:00:00-05:00"
        return JSONResponse({"order": order})


def signed_headers(secret: str, body: bytes, *, topic: str, webhook_id: str) -> dict[str, str]:
    """What Shopify sends with a webhook."""
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": digest, "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Shop-Domain": "cartdesk-test.myshopify.com", "Content-Type": "application/json"}
