"""Shopify (Admin REST API 2024-01): import, webhooks, and refunds/cancellations carried out in the shop.

Auth is the ``X-Shopify-Access-Token`` header. Lists are paged by cursor: the ``Link`` header's
``rel="next"`` URL carries ``page_info`` (and no other filter may ride along). Webhooks are
signed with ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(app secret, raw body)) and named
by ``X-Shopify-Webhook-Id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from cartdesk.commerce.connectors.base import (
    ExternalLine,
    ExternalOrder,
    ExternalProduct,
    ExternalRefund,
    ExternalShipment,
    Http,
    Rejected,
    signature_matches,
)
from cartdesk.commerce.credentials import ShopSecrets
from cartdesk.commerce.models import Order, Refund, StoreConnection

API = "/admin/api/2024-01"
PAGE_SIZE = 250
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
SHIPMENT_STATUS = {"delivered": "delivered", "in_transit": "in_transit", "out_for_delivery": "out_for_delivery",
                   "failure": "exception", "label_printed": "label_created", "confirmed": "label_created"}
KINDS = {"orders": ("orders", {"status": "any"}), "products": ("products", {}), "customers": ("customers", {})}


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _money(value: Any) -> Decimal:
    return Decimal(str(value or "0")).quantize(Decimal("0.01"))


class Shopify:
    platform = "shopify"

    def __init__(self, connection: StoreConnection, secrets: ShopSecrets, **http: Any) -> None:
        self.connection = connection
        self.secrets = secrets
        self.http = Http(connection, headers={"X-Shopify-Access-Token": secrets.credentials.get("access_token", "")},
                         **http)

    # --- reading ----------------------------------------------------------------------

    def pages(self, kind: str, since: datetime | None) -> Iterator[list[dict[str, Any]]]:
        resource, extra = KINDS[kind]
        params: dict[str, Any] | None = {"limit": PAGE_SIZE, "order": "updated_at asc", **extra}
        if since is not None:
            params["updated_at_min"] = since.isoformat()  # type: ignore[index]
        url: str | None = f"{API}/{resource}.json"
        while url:
            response = self.http.request("GET", url, params=params)
            yield response.json()[resource]
            match = _NEXT.search(response.headers.get("Link", ""))
            url, params = (match.group(1), None) if match else (None, None)

    def check(self) -> None:
        """One cheap authenticated read: raises Rejected (bad token, wrong address) or Retry (unreachable)."""
        self.http.request("GET", f"{API}/orders.json", params={"limit": 1, "status": "any", "fields": "id"})

    def get_order(self, external_id: str) -> dict[str, Any]:
        return self.http.request("GET", f"{API}/orders/{external_id}.json").json()["order"]

    def to_order(self, raw: dict[str, Any]) -> ExternalOrder:
        customer = raw.get("customer") or {}
        address = raw.get("shipping_address") or {}
        lines = [ExternalLine(
            external_id=str(li["id"]), sku=li.get("sku") or f"shopify-{li.get('variant_id') or li['id']}",
            title=li.get("title") or li.get("name") or "Item", quantity=int(li["quantity"]),
            unit_price=_money(li["price"]),
            discount=sum((_money(d["amount"]) for d in li.get("discount_allocations") or []), Decimal("0"))
            or _money(li.get("total_discount")),
            tax=sum((_money(t["price"]) for t in li.get("tax_lines") or []), Decimal("0")),
        ) for li in raw.get("line_items") or []]
        shipping = sum((_money(s["price"]) for s in raw.get("shipping_lines") or []), Decimal("0"))
        return ExternalOrder(
            external_id=str(raw["id"]), number=str(raw.get("name") or raw.get("order_number")).lstrip("#"),
            email=raw.get("email") or customer.get("email"),
            customer_name=" ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p) or None,
            currency=raw.get("currency") or "USD", placed_at=_dt(raw["created_at"]),  # type: ignore[arg-type]
            updated_at=_dt(raw["updated_at"]),  # type: ignore[arg-type]
            lines=lines, shipping_total=shipping,
            paid_total=_money(raw.get("total_price")) if raw.get("financial_status") not in ("pending", "voided")
            else Decimal("0"),
            cancelled=bool(raw.get("cancelled_at")),
            shipping_address={
                "name": address.get("name") or "", "line1": address.get("address1") or "",
                "line2": address.get("address2") or "", "city": address.get("city") or "",
                "region": address.get("province") or "", "postal_code": address.get("zip") or "",
                "country": address.get("country_code") or "", "phone": address.get("phone") or "",
            } if address else {},
            shipments=[ExternalShipment(
                external_id=str(f["id"]), carrier=f.get("tracking_company") or "Carrier",
                tracking_number=f.get("tracking_number") or "", tracking_url=f.get("tracking_url"),
                status=SHIPMENT_STATUS.get(f.get("shipment_status") or "", "in_transit"),
                shipped_at=_dt(f.get("created_at")),
                line_quantities={str(li["id"]): int(li["quantity"]) for li in f.get("line_items") or []},
            ) for f in raw.get("fulfillments") or [] if f.get("status") != "cancelled"],
            refunds=[ExternalRefund(
                external_id=str(r["id"]), created_at=_dt(r.get("created_at")),
                amount=sum((_money(t["amount"]) for t in r.get("transactions") or []
                            if t.get("kind") == "refund" and t.get("status") == "success"), Decimal("0")),
                line_quantities={str(li["line_item_id"]): (int(li["quantity"]),
                                                           _money(li.get("subtotal")) + _money(li.get("total_tax")))
                                 for li in r.get("refund_line_items") or []},
            ) for r in raw.get("refunds") or []],
        )

    def to_product(self, raw: dict[str, Any]) -> list[ExternalProduct]:
        return [ExternalProduct(
            external_id=str(v["id"]), sku=v.get("sku") or f"shopify-{v['id']}",
            title=raw["title"] + (f" — {v['title']}" if v.get("title") not in (None, "Default Title") else ""),
            description=raw.get("body_html") or "", category=raw.get("product_type") or "",
            price=_money(v["price"]), stock=v.get("inventory_quantity"),
            updated_at=_dt(raw["updated_at"]),  # type: ignore[arg-type]
        ) for v in raw.get("variants") or []]

    # --- webhooks ---------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        return signature_matches(self.secrets.webhook_secret, body, headers.get("x-shopify-hmac-sha256"))

    def delivery(self, headers: Mapping[str, str]) -> tuple[str, str]:
        return headers.get("x-shopify-webhook-id", ""), headers.get("x-shopify-topic", "")

    # --- actions ----------------------------------------------------------------------

    def refund(self, *, order: Order, refund: Refund, line_ids: dict[int, str]) -> str:
        """Shopify wants refund transactions tied to the payment they refund (``parent_id``): ask
        ``refunds/calculate`` for the suggested transaction, then create the refund against it."""
        lines = [{"line_item_id": int(line_ids[li.line_id]), "quantity": li.quantity, "restock_type": "no_restock"}
                 for li in refund.lines if li.line_id in line_ids]
        base = f"{API}/orders/{order.external_id}/refunds"
        calculated = self.http.request("POST", f"{base}/calculate.json", json={"refund": {
            "shipping": {"amount": str(refund.shipping)}, "refund_line_items": lines}}).json()["refund"]
        suggested = calculated.get("transactions") or []
        if not suggested:
            raise Rejected(f"Shopify suggests no transaction to refund on order {order.number}.")
        parent = suggested[0]
        body = {"refund": {
            "note": refund.reason or "Refund from Cartdesk",
            "notify": True,
            "shipping": {"amount": str(refund.shipping)},
            "refund_line_items": lines,
            "transactions": [{"parent_id": parent["parent_id"], "amount": str(refund.amount), "kind": "refund",
                              "gateway": parent.get("gateway", "")}],
        }}
        response = self.http.request("POST", f"{base}.json", json=body,
                                     headers={"Idempotency-Key": f"cartdesk-refund-{refund.id}"})
        return str(response.json()["refund"]["id"])

    def cancel(self, *, order: Order) -> None:
        self.http.request("POST", f"{API}/orders/{order.external_id}/cancel.json", json={"reason": "customer"})

    def update_address(self, *, order: Order) -> None:
        a = order.shipping_address
        self.http.request("PUT", f"{API}/orders/{order.external_id}.json", json={"order": {
            "id": int(order.external_id or 0), "shipping_address": {
                "name": a.get("name"), "address1": a.get("line1"), "address2": a.get("line2"), "city": a.get("city"),
                "province": a.get("region"), "zip": a.get("postal_code"), "country_code": a.get("country"),
                "phone": a.get("phone")}}})

    def create_replacement(self, *, order: Order, original: Order) -> str:
        body = {"order": {
            "email": order.email, "note": order.note, "financial_status": "paid", "send_receipt": False,
            "tags": f"cartdesk-replacement,replaces-{original.number}",
            "line_items": [{"title": li.title, "sku": li.sku, "quantity": li.quantity, "price": "0.00"}
                           for li in order.lines],
        }}
        return str(self.http.request("POST", f"{API}/orders.json", json=body).json()["order"]["id"])
