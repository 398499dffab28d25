"""Shop credentials at rest: a connection's API credentials and webhook secret are stored
encrypted (``kit/secrets.py``, purpose ``shop``) and opened only to build a connector.

The key is the app's secret key. ``configure`` (create_app, the worker, the CLI) tells this
module which settings are in force, because connectors are also built by job handlers,
which get a session and a payload but no settings; unconfigured, the process settings are
used, which is what create_app would use by default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cartdesk.kit import secrets

if TYPE_CHECKING:
    from cartdesk.commerce.models import StoreConnection
    from cartdesk.config import Settings

PURPOSE = "shop"
_secret_key: str | None = None


@dataclass(frozen=True)
class ShopSecrets:
    credentials: dict[str, str]
    webhook_secret: str


def configure(settings: Settings) -> None:
    global _secret_key
    _secret_key = settings.resolved_secret_key()


def secret_key() -> str:
    if _secret_key is not None:
        return _secret_key
    from cartdesk.config import get_settings

    return get_settings().resolved_secret_key()


def seal(connection: StoreConnection, *, credentials: dict[str, str] | None = None,
         webhook_secret: str | None = None, key: str | None = None) -> None:
    """Encrypt what is given onto ``connection``; what is left None keeps its current value."""
    key = key or secret_key()
    if credentials is not None:
        connection.credentials_enc = secrets.encrypt(key, json.dumps(credentials, sort_keys=True), purpose=PURPOSE)
    if webhook_secret is not None:
        connection.webhook_secret_enc = secrets.encrypt(key, webhook_secret, purpose=PURPOSE)


def open_secrets(connection: StoreConnection, *, key: str | None = None) -> ShopSecrets:
    key = key or secret_key()
    raw = secrets.decrypt(key, connection.credentials_enc, purpose=PURPOSE)
    return ShopSecrets(credentials=json.loads(raw) if raw else {},
                       webhook_secret=secrets.decrypt(key, connection.webhook_secret_enc, purpose=PURPOSE) or "")
