"""WooCommerce (REST API v3 under /wp-json/wc/v3): import, webhooks, refunds and cancellations.

Auth is HTTP Basic with the consumer key and secret (over HTTPS). Lists are paged by
``page``/``per_page``; ``X-WP-TotalPages`` says how many pages there are. Webhooks are
signed with ``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(webhook secret, raw body)) and
named by ``X-WC-Webhook-Delivery-ID``. WooCommerce core has no shipment tracking, so
shipments come only from Cartdesk's own API for these stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cartdesk.commerce.connectors.base import (
    ExternalLine,
    ExternalOrder,
    ExternalProduct,
    ExternalRefund,
    Http,
    signature_matches,
)
from cartdesk.commerce.credentials import ShopSecrets
from cartdesk.commerce.models import Order, Refund, StoreConnection

API = "/wp-json/wc/v3"
PAGE_SIZE = 100
UNPAID = ("pending", "failed", "checkout-draft")


def _dt(value: str | None) -> datetime | None:
    # The *_gmt fields are UTC without an offset.
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


def _money(value: Any) -> Decimal:
    return Decimal(str(value or "0")).quantize(Decimal("0.01"))


class WooCommerce:
    platform = "woocommerce"

    def __init__(self, connection: StoreConnection, secrets: ShopSecrets, **http: Any) -> None:
        self.connection = connection
        self.secrets = secrets
        creds = secrets.credentials
        self.http = Http(connection, auth=(creds.get("consumer_key", ""), creds.get("consumer_secret", "")), **http)

    def check(self) -> None:
        """One cheap authenticated read: raises Rejected (bad keys, wrong address) or Retry (unreachable)."""
        self.http.request("GET", f"{API}/orders", params={"per_page": 1})

    def pages(self, kind: str, since: datetime | None) -> Iterator[list[dict[str, Any]]]:
        page, total = 1, 1
        while page <= total:
            params: dict[str, Any] = {"per_page": PAGE_SIZE, "page": page, "orderby": "modified", "order": "asc"}
            if kind == "customers":
                params["orderby"] = "id"
            if since is not None and kind != "customers":
                params["modified_after"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
                params["dates_are_gmt"] = "true"
            response = self.http.request("GET", f"{API}/{kind}", params=params)
            total = int(response.headers.get("X-WP-TotalPages") or 1)
            yield response.json()
            page += 1

    def get_order(self, external_id: str) -> dict[str, Any]:
        return self.http.request("GET", f"{API}/orders/{external_id}").json()

    def to_order(self, raw: dict[str, Any]) -> ExternalOrder:
        billing, shipping = raw.get("billing") or {}, raw.get("shipping") or {}
        lines = []
        for li in raw.get("line_items") or []:
            subtotal, total = _money(li.get("subtotal")), _money(li.get("total"))
            quantity = int(li["quantity"])
            lines.append(ExternalLine(
                external_id=str(li["id"]), sku=li.get("sku") or f"woo-{li.get('product_id') or li['id']}",
                title=li.get("name") or "Item", quantity=quantity,
                unit_price=(subtotal / quantity).quantize(Decimal("0.01")) if quantity else subtotal,
                discount=subtotal - total if subtotal > total else Decimal("0"), tax=_money(li.get("total_tax")),
            ))
        name = " ".join(p for p in (shipping.get("first_name"), shipping.get("last_name")) if p)
        status = raw.get("status", "")
        return ExternalOrder(
            external_id=str(raw["id"]), number=str(raw.get("number") or raw["id"]), email=billing.get("email"),
            customer_name=" ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p) or None,
            currency=raw.get("currency") or "USD",
            placed_at=_dt(raw.get("date_created_gmt")),  # type: ignore[arg-type]
            updated_at=_dt(raw.get("date_modified_gmt")),  # type: ignore[arg-type]
            lines=lines,
            shipping_total=_money(raw.get("shipping_total")) + _money(raw.get("shipping_tax")),
            paid_total=Decimal("0") if status in UNPAID else _money(raw.get("total")),
            cancelled=status == "cancelled",
            shipping_address={
                "name": name, "line1": shipping.get("address_1") or "", "line2": shipping.get("address_2") or "",
                "city": shipping.get("city") or "", "region": shipping.get("state") or "",
                "postal_code": shipping.get("postcode") or "", "country": shipping.get("country") or "",
            } if shipping.get("address_1") else {},
            # The order shows refunds as {id, total: "-10.00"}; their lines need a second call we skip.
            refunds=[ExternalRefund(external_id=str(r["id"]), amount=-_money(r.get("total")), created_at=None)
                     for r in raw.get("refunds") or []],
        )

    def to_product(self, raw: dict[str, Any]) -> list[ExternalProduct]:
        categories = raw.get("categories") or []
        return [ExternalProduct(
            external_id=str(raw["id"]), sku=raw.get("sku") or f"woo-{raw['id']}", title=raw.get("name") or "Product",
            description=raw.get("description") or "", category=categories[0]["name"] if categories else "",
            price=_money(raw.get("price")), stock=raw.get("stock_quantity"),
            updated_at=_dt(raw.get("date_modified_gmt")),  # type: ignore[arg-type]
        )]

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        return signature_matches(self.secrets.webhook_secret, body, headers.get("x-wc-webhook-signature"))

    def delivery(self, headers: Mapping[str, str]) -> tuple[str, str]:
        return headers.get("x-wc-webhook-delivery-id", ""), headers.get("x-wc-webhook-topic", "")

    def refund(self, *, order: Order, refund: Refund, line_ids: dict[int, str]) -> str:
        body = {"amount": str(refund.amount), "reason": refund.reason or "Refund from Cartdesk", "api_refund": True,
                "line_items": [{"id": int(line_ids[li.line_id]), "quantity": li.quantity, "refund_total": str(li.amount)}
                               for li in refund.lines if li.line_id in line_ids]}
        return str(self.http.request("POST", f"{API}/orders/{order.external_id}/refunds", json=body).json()["id"])

    def cancel(self, *, order: Order) -> None:
        self.http.request("PUT", f"{API}/orders/{order.external_id}", json={"status": "cancelled"})

    def update_address(self, *, order: Order) -> None:
        a = order.shipping_address
        first, _, last = (a.get("name") or "").partition(" ")
        self.http.request("PUT", f"{API}/orders/{order.external_id}", json={"shipping": {
            "first_name": first, "last_name": last, "address_1": a.get("line1"), "address_2": a.get("line2"),
            "city": a.get("city"), "state": a.get("region"), "postcode": a.get("postal_code"),
            "country": a.get("country")}})

    def create_replacement(self, *, order: Order, original: Order) -> str:
        body = {"status": "processing", "set_paid": True, "customer_note": f"Replacement for order {original.number}",
                "billing": {"email": order.email},
                "line_items": [{"name": li.title, "sku": li.sku, "quantity": li.quantity, "total": "0.00"}
                               for li in order.lines]}
        return str(self.http.request("POST", f"{API}/orders", json=body).json()["id"])
