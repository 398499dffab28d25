"""Shop credentials are stored encrypted: the row never holds the token, the connector still works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.commerce import connections, credentials, shop_sync
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.commerce.models import StoreConnection
from cartdesk.db.migrate import downgrade, upgrade
from cartdesk.kit import secrets
from tests.connectors.conftest import SECRET
from tests.factories.auth import make_user, principal
from tests.fakes.shopify import signed_headers


def _raw_row(session: Session, connection_id: int) -> str:
    row = session.execute(text("SELECT * FROM store_connections WHERE id = :id"), {"id": connection_id}).mappings().one()
    return json.dumps({k: str(v) for k, v in row.items()})


def test_the_row_holds_no_plaintext_and_the_connector_still_works(session: Session, shopify) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    raw = _raw_row(session, connection.id)
    assert fake.token not in raw and SECRET not in raw and "access_token" not in raw
    assert set(credentials.open_secrets(connection).credentials) == {"access_token"}
    connector = connector_for(connection, sleep=lambda s: None)
    assert shop_sync.check(connector) is None  # the fake shop accepted the decrypted token
    body = b'{"id": 1}'
    def headers(secret: str) -> dict[str, str]:
        return {k.lower(): v for k, v in signed_headers(secret, body, topic="orders/updated", webhook_id="w1").items()}

    assert connector_for(connection).verify(headers(SECRET), body)
    assert not connector_for(connection).verify(headers("forged-secret"), body)


def test_created_and_edited_connections_are_sealed(session: Session, brand) -> None:  # type: ignore[no-untyped-def]
    admin = principal(make_user(session, role=Role.admin))
    connection = connections.create(session, actor=admin.actor, brand_id=brand.id, platform="woocommerce",
                                     base_url="https://shop.example/", webhook_secret="woo-hook-secret-1",
                                     credentials_in={"consumer_key": "ck_plain_1", "consumer_secret": "cs_plain_1"})
    connections.update(session, actor=admin.actor, connection=connection,
                       connection_in=connections.ConnectionUpdate(credentials={"consumer_secret": "cs_plain_2"}))
    raw = _raw_row(session, connection.id)
    assert not any(s in raw for s in ("ck_plain_1", "cs_plain_1", "cs_plain_2", "woo-hook-secret-1"))
    assert credentials.open_secrets(connection).credentials == {"consumer_key": "ck_plain_1",
                                                                "consumer_secret": "cs_plain_2"}


def test_another_secret_key_cannot_open_them(session: Session, shopify) -> None:  # type: ignore[no-untyped-def]
    _, connection = shopify
    with pytest.raises(secrets.UndecryptableSecret):
        credentials.open_secrets(connection, key="some-other-key")


def test_mailbox_passwords_sealed_before_the_move_still_open() -> None:
    # What channels/email/secrets.py produced: the "email" purpose keeps its key derivation.
    import base64
    import hashlib

    from cryptography.fernet import Fernet

    old = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"cartdesk-email-secrets:k").digest()))
    assert secrets.decrypt("k", old.encrypt(b"imap-pass").decode(), purpose="email") == "imap-pass"


def test_the_migration_encrypts_existing_rows_and_the_downgrade_restores_them(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine, "0007")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO brands (slug, name, default_language, timezone, currency, color, next_conversation_number, "
            "created_at, updated_at) VALUES ('b', 'B', 'en', 'UTC', 'EUR', '#000', 1, '2026-01-01 00:00:00', "
            "'2026-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO store_connections (brand_id, platform, base_url, credentials, webhook_secret, is_active, "
            "imported_customers, imported_products, imported_orders, created_at, updated_at) VALUES "
            "(1, 'shopify', 'https://s.example', :creds, 'whsec_plain_9', 1, 0, 0, 0, "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"), {"creds": json.dumps({"access_token": "shpat_plain_9"})})
    upgrade(engine, secret_key="migration-key")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM store_connections")).mappings().one()
    assert "credentials" not in row and "webhook_secret" not in row
    assert "shpat_plain_9" not in str(dict(row)) and "whsec_plain_9" not in str(dict(row))
    opened = credentials.open_secrets(StoreConnection(**{k: row[k] for k in ("credentials_enc", "webhook_secret_enc")}),
                                      key="migration-key")
    assert opened.credentials == {"access_token": "shpat_plain_9"} and opened.webhook_secret == "whsec_plain_9"
    downgrade(engine, "0007", secret_key="migration-key")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT credentials, webhook_secret FROM store_connections")).one()
    assert json.loads(row[0]) == {"access_token": "shpat_plain_9"} and row[1] == "whsec_plain_9"
    engine.dispose()
