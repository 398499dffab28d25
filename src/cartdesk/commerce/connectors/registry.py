"""Which connector serves a connection's platform."""

from __future__ import annotations

from typing import Any

from cartdesk.commerce import credentials
from cartdesk.commerce.connectors.shopify import Shopify
from cartdesk.commerce.connectors.woocommerce import WooCommerce
from cartdesk.commerce.models import StoreConnection
from cartdesk.kit.errors import ValidationFailed

PLATFORMS: dict[str, Any] = {"shopify": Shopify, "woocommerce": WooCommerce}


def connector_for(connection: StoreConnection, **http: Any) -> Any:
    """The platform's connector, holding the connection's decrypted credentials (in memory only)."""
    try:
        platform = PLATFORMS[connection.platform]
    except KeyError:
        raise ValidationFailed(f"Unknown platform {connection.platform!r}.", details=[{"field": "platform"}]) from None
    return platform(connection, credentials.open_secrets(connection), **http)
