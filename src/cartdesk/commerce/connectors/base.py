"""What a store platform connector does, and the HTTP plumbing they share.

A connector turns the platform's API into Cartdesk's records and back:

- ``pages(kind, since)`` yields pages of raw customers/products/orders updated since a time,
  following the platform's pagination; ``sync.py`` maps them through ``to_*`` into rows.
- ``verify(headers, body)`` checks a webhook's signature; ``delivery(headers)`` names the
  delivery (for idempotency) and its topic.
- ``refund`` / ``cancel`` carry out in the shop what an agent did in Cartdesk; they run in
  durable jobs, after commit, and raise ``Retry`` when the shop is unreachable or busy.

Rate limits: a 429 waits for ``Retry-After`` (capped) and tries again, a few times, then
gives up with ``Retry`` so the job runner backs off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx

from cartdesk.commerce.models import Order, Refund, StoreConnection

MAX_RATE_LIMIT_WAITS = 5
MAX_RETRY_AFTER_SECONDS = 10.0


class Retry(Exception):
    """The shop is down, slow or rate-limiting: try the job again later."""


class Rejected(Exception):
    """The shop said no for good (a 4xx other than 429): retrying will not help."""


@dataclass
class ExternalLine:
    external_id: str
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")


@dataclass
class ExternalShipment:
    external_id: str
    carrier: str
    tracking_number: str
    tracking_url: str | None
    status: str
    shipped_at: datetime | None
    line_quantities: dict[str, int] = field(default_factory=dict)  # external line id → units


@dataclass
class ExternalRefund:
    external_id: str
    amount: Decimal
    created_at: datetime | None
    line_quantities: dict[str, tuple[int, Decimal]] = field(default_factory=dict)


@dataclass
class ExternalOrder:
    external_id: str
    number: str
    email: str | None
    customer_name: str | None
    currency: str
    placed_at: datetime
    updated_at: datetime
    lines: list[ExternalLine]
    shipping_total: Decimal
    paid_total: Decimal
    cancelled: bool
    shipping_address: dict[str, Any]
    shipments: list[ExternalShipment] = field(default_factory=list)
    refunds: list[ExternalRefund] = field(default_factory=list)


@dataclass
class ExternalProduct:
    external_id: str
    sku: str
    title: str
    description: str
    category: str
    price: Decimal
    stock: int | None
    updated_at: datetime


class Connector(Protocol):
    platform: str

    def check(self) -> None: ...
    def pages(self, kind: str, since: datetime | None) -> Iterator[list[dict[str, Any]]]: ...
    def to_order(self, raw: dict[str, Any]) -> ExternalOrder: ...
    def to_product(self, raw: dict[str, Any]) -> list[ExternalProduct]: ...
    def verify(self, headers: Mapping[str, str], body: bytes) -> bool: ...
    def delivery(self, headers: Mapping[str, str]) -> tuple[str, str]: ...
    def refund(self, *, order: Order, refund: Refund, line_ids: dict[int, str]) -> str: ...
    def cancel(self, *, order: Order) -> None: ...


def sign(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, raw body)): how Shopify and WooCommerce both sign webhooks."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(secret: str, body: bytes, given: str | None) -> bool:
    return bool(secret) and bool(given) and hmac.compare_digest(sign(secret, body), given or "")


class Http:
    """httpx with the platform's auth, 429 handling and errors turned into Retry/Rejected.

    The client (and its connection pool) is opened on the first request, so a connector built
    only to verify a webhook opens nothing; whoever builds a connector that talks to the shop
    closes it (``close``), or its sockets wait for the garbage collector."""

    def __init__(self, connection: StoreConnection, *, headers: dict[str, str] | None = None,
                 auth: tuple[str, str] | None = None, transport: httpx.BaseTransport | None = None,
                 sleep=time.sleep) -> None:  # type: ignore[no-untyped-def]
        self._options: dict[str, Any] = {
            "base_url": connection.base_url.rstrip("/"), "headers": headers or {}, "auth": auth,
            "timeout": httpx.Timeout(15.0, connect=5.0), "transport": transport}
        self._client: httpx.Client | None = None
        self.sleep = sleep

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(**self._options)
        return self._client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for _ in range(MAX_RATE_LIMIT_WAITS):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                raise Retry(f"{method} {url}: {exc.__class__.__name__}: {exc}") from exc
            if response.status_code == 429:
                self.sleep(min(float(response.headers.get("Retry-After") or 1.0), MAX_RETRY_AFTER_SECONDS))
                continue
            if response.status_code >= 500:
                raise Retry(f"{method} {url}: the shop answered {response.status_code}")
            if response.status_code >= 400:
                raise Rejected(f"{method} {url}: {response.status_code} {response.text[:300]}")
            return response
        raise Retry(f"{method} {url}: still rate-limited after {MAX_RATE_LIMIT_WAITS} waits")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
