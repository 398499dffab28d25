"""Which connector serves a connection's platform."""

from __future__ import annotations

from typing import Any

from cartdesk.commerce.connectors.shopify import Shopify
from cartdesk.commerce.connectors.woocommerce import WooCommerce
from cartdesk.commerce.models import StoreConnection
from cartdesk.kit.errors import ValidationFailed

PLATFORMS: dict[str, Any] = {"shopify": Shopify, "woocommerce": WooCommerce}


def connector_for(connection: StoreConnection, **http: Any) -> Any:
    try:
        return PLATFORMS[connection.platform](connection, **http)
    except KeyError:
        raise ValidationFailed(f"Unknown platform {connection.platform!r}.", details=[{"field": "platform"}]) from None
