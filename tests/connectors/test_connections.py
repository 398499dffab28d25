"""Editing and disconnecting a connected shop (service and API): checked before anything
changes, never echoing a secret, and a disconnected shop neither syncs nor gets webhooks in,
while its orders stay."""

from __future__ import annotations

import json
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.commerce import credentials, shop_sync, sync
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.commerce.models import Order
from cartdesk.events.models import Event
from tests.api.conftest import caller, error_of
from tests.connectors.conftest import SECRET
from tests.fakes.shopify import signed_headers


def _events(session: Session, connection_id: int, verb: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.subject_type == "store_connection",
                                                    Event.subject_id == connection_id, Event.verb == verb)))


def _webhook(client, connection, raw, webhook_id: str):  # type: ignore[no-untyped-def]
    body = json.dumps(raw).encode()
    return client.post(f"/webhooks/shopify/{connection.id}", content=body,
                       headers=signed_headers(SECRET, body, topic="orders/updated", webhook_id=webhook_id))


def test_admins_edit_a_connection_through_the_api(client, session: Session, shopify) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    admin, supervisor = caller(session, role=Role.admin), caller(session, role=Role.supervisor)
    url = f"/api/v1/store-connections/{connection.id}"
    good_url = connection.base_url
    assert client.patch(url, headers=supervisor.headers, json={"base_url": "https://x.example"}).status_code == 403
    # A bad address refuses the whole edit: the token given with it is not stored either.
    r = client.patch(url, headers=admin.headers, json={"base_url": "ftp://nope", "credentials": {"access_token": "t2"}})
    assert r.status_code == 422 and error_of(r)["details"] == [{"field": "base_url"}]
    session.refresh(connection)
    assert credentials.open_secrets(connection).credentials == {"access_token": fake.token}
    assert not _events(session, connection.id, "store.updated")

    r = client.patch(url, headers=admin.headers, json={"base_url": "https://moved.example/",
                                                       "credentials": {"access_token": "shpat_new_token"}})
    assert r.status_code == 200 and r.json()["base_url"] == "https://moved.example" and "credentials" not in r.json()
    session.refresh(connection)
    assert credentials.open_secrets(connection).credentials == {"access_token": "shpat_new_token"}
    assert credentials.open_secrets(connection).webhook_secret == SECRET  # not given: kept
    [event] = _events(session, connection.id, "store.updated")
    assert event.data == {"base_url": {"before": good_url, "after": "https://moved.example"},
                          "credentials": "(changed)"}
    assert "shpat_new_token" not in json.dumps(event.data)
    # Point it back at the fake shop with the right token: the connector works with the new details.
    client.patch(url, headers=admin.headers, json={"base_url": good_url, "credentials": {"access_token": fake.token}})
    session.refresh(connection)
    assert shop_sync.check(connector_for(connection)) is None


def test_disconnecting_stops_sync_and_webhooks_and_keeps_the_orders(client, session: Session, shopify, runner) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    admin = caller(session, role=Role.admin)
    raw = fake.add_order(number=4101, email="noor@example.org", lines=[("TENT", "Tent", 1, "240.00")])

    @contextmanager
    def transaction():  # type: ignore[no-untyped-def]
        with session.begin_nested():
            yield session

    sync.run_import(transaction, connection_id=connection.id, connector_factory=lambda c: connector_for(c))

    def held() -> int:
        return session.scalar(select(func.count(Order.id)).where(Order.brand_id == connection.brand_id)) or 0

    assert held() == 1
    r = client.delete(f"/api/v1/store-connections/{connection.id}", headers=admin.headers)
    assert r.status_code == 200 and r.json()["is_active"] is False
    session.refresh(connection)
    assert not connection.is_active and connection.credentials_enc == connection.webhook_secret_enc == ""
    [event] = _events(session, connection.id, "store.disconnected")
    assert event.data == {"platform": "shopify", "base_url": connection.base_url}

    # Webhooks are refused, the recurring sync skips it, a queued sync does nothing; orders stay.
    assert _webhook(client, connection, {**raw, "updated_at": "2026-11-02T10:00:00Z"}, "w-after").status_code == 404
    assert shop_sync.request_all(session, period=99) == 0
    fake.add_order(number=4102, email="noor@example.org", lines=[("TENT", "Tent", 1, "240.00")])
    assert shop_sync.run(session, connection_id=connection.id, connector_factory=connector_for) is None
    assert held() == 1
    assert client.delete(f"/api/v1/store-connections/{connection.id}", headers=admin.headers).status_code == 404
    assert client.patch(f"/api/v1/store-connections/{connection.id}", headers=admin.headers,
                        json={"base_url": "https://x.example"}).status_code == 404
