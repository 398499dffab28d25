"""Connected shops: connect, edit and disconnect (admins).

Credentials are sealed before they reach a row (``credentials.py``) and never appear in
events. Disconnecting stops the shop's sync and refuses its webhooks; the orders, customers
and products it brought in stay, and so does the connection row (marked inactive, its
credentials erased), so the history keeps saying where those orders came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from cartdesk.commerce import credentials
from cartdesk.commerce.models import StoreConnection
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.errors import ValidationFailed

NEEDED = {"shopify": ("access_token",), "woocommerce": ("consumer_key", "consumer_secret")}


@dataclass
class ConnectionUpdate:
    """What an admin changes; None (or an empty credential) keeps the current value."""

    base_url: str | None = None
    credentials: dict[str, str] | None = None
    webhook_secret: str | None = None


def check_platform(platform: str) -> None:
    if platform not in NEEDED:
        raise ValidationFailed(f"Unknown platform {platform!r}.", details=[{"field": "platform"}])


def check_base_url(base_url: str) -> str:
    base_url = base_url.strip()
    if not base_url.startswith(("https://", "http://")) or len(base_url) > 500:
        raise ValidationFailed("The shop's address starts with https://.", details=[{"field": "base_url"}])
    return base_url.rstrip("/")


def check_credentials(platform: str, values: dict[str, str]) -> dict[str, str]:
    needed = NEEDED[platform]
    missing = [k for k in needed if not (values.get(k) or "").strip()]
    if missing:
        raise ValidationFailed(f"{platform.capitalize()} needs {', '.join(missing)}.",
                               details=[{"field": f"credentials.{k}"} for k in missing])
    return {k: values[k].strip() for k in needed}


def check_webhook_secret(secret: str) -> str:
    if not 8 <= len(secret) <= 200:
        raise ValidationFailed("The webhook secret is 8 to 200 characters.", details=[{"field": "webhook_secret"}])
    return secret


def create(session: Session, *, actor: Actor, brand_id: int, platform: str, base_url: str,
           credentials_in: dict[str, str], webhook_secret: str) -> StoreConnection:
    check_platform(platform)
    base_url = check_base_url(base_url)
    values = check_credentials(platform, credentials_in)
    webhook_secret = check_webhook_secret(webhook_secret)
    connection = StoreConnection(brand_id=brand_id, platform=platform, base_url=base_url)
    credentials.seal(connection, credentials=values, webhook_secret=webhook_secret)
    session.add(connection)
    session.flush()
    events_service.record(session, verb="store.connected", actor=actor, subject_type="store_connection",
                          subject_id=connection.id, brand_id=brand_id, data={"platform": platform, "base_url": base_url})
    return connection


def update(session: Session, *, actor: Actor, connection: StoreConnection,
           connection_in: ConnectionUpdate) -> StoreConnection:
    """Change the address or credentials: everything is checked before anything changes."""
    changed: dict[str, object] = {}
    base_url = check_base_url(connection_in.base_url) if connection_in.base_url is not None else None
    given = {k: v.strip() for k, v in (connection_in.credentials or {}).items() if k in NEEDED[connection.platform]
             and v and v.strip()}
    new_credentials = None
    if given:
        # A form may change one key of two: the others keep their current values.
        current = credentials.open_secrets(connection).credentials
        new_credentials = check_credentials(connection.platform, {**current, **given})
    secret = connection_in.webhook_secret.strip() if connection_in.webhook_secret else ""
    if secret:
        check_webhook_secret(secret)
    if base_url is not None and base_url != connection.base_url:
        changed["base_url"] = {"before": connection.base_url, "after": base_url}
        connection.base_url = base_url
    if new_credentials is not None:
        credentials.seal(connection, credentials=new_credentials)
        changed["credentials"] = "(changed)"
    if secret:
        credentials.seal(connection, webhook_secret=secret)
        changed["webhook_secret"] = "(changed)"
    if changed:
        connection.last_error = None  # the next sync or check tells again
        session.flush()
        events_service.record(session, verb="store.updated", actor=actor, subject_type="store_connection",
                              subject_id=connection.id, brand_id=connection.brand_id, data=changed)
    return connection


def disconnect(session: Session, *, actor: Actor, connection: StoreConnection) -> StoreConnection:
    """Stop syncing and refuse the shop's webhooks; keep what was imported.

    Queued sync and webhook jobs find the connection inactive and do nothing; actions on
    its orders are no longer carried out in the shop."""
    connection.is_active = False
    connection.credentials_enc = connection.webhook_secret_enc = ""  # nothing left to leak
    session.flush()
    events_service.record(session, verb="store.disconnected", actor=actor, subject_type="store_connection",
                          subject_id=connection.id, brand_id=connection.brand_id,
                          data={"platform": connection.platform, "base_url": connection.base_url})
    return connection
