"""Connected shops in the admin web app: connect, test the connection, sync now, see how it went."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role, User
from cartdesk.commerce import credentials, shop_sync
from cartdesk.commerce.models import StoreConnection
from cartdesk.jobs.models import Job
from cartdesk.jobs.runner import JobRunner
from tests.factories.auth import make_user
from tests.factories.conversations import make_brand
from tests.fakes.serve import serve
from tests.fakes.shopify import FakeShopify
from tests.web.conftest import HX, PAGE, login


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[FakeShopify, str]]:
    fake = FakeShopify()
    with serve(fake.app()) as url:
        yield fake, url


def _connect(client, token: str, brand, url: str, access_token: str):  # type: ignore[no-untyped-def]
    return client.post("/store-connections", headers=PAGE, data={
        "csrf_token": token, "brand": str(brand.id), "platform": "shopify", "base_url": url + "/",
        "access_token": access_token, "webhook_secret": "shopify-app-secret"})


def test_admins_connect_check_and_sync_a_shop(client, session: Session, shop, bound_db, settings) -> None:  # type: ignore[no-untyped-def]
    fake, url = shop
    fake.orders.clear()
    fake.add_order(number=3001, email="olivia@example.org", lines=[("COAT-1", "Wool coat", 1, "150.00")])
    brand = make_brand(session)
    token = login(client, make_user(session, role=Role.admin))
    assert 'href="/store-connections"' in client.get("/", headers=PAGE).text  # the rail's Shops item

    bad = client.post("/store-connections", headers=PAGE, data={
        "csrf_token": token, "brand": str(brand.id), "platform": "woocommerce", "base_url": "https://shop.example",
        "consumer_key": "ck_1"})
    assert bad.status_code == 422 and "Woocommerce needs consumer_secret" in bad.text
    r = _connect(client, token, brand, url, "shpat_wrong")
    assert r.status_code == 201
    connection = session.scalar(select(StoreConnection).where(StoreConnection.brand_id == brand.id))
    assert f"/webhooks/shopify/{connection.id}" in r.text and connection.base_url == url
    assert [j.name for j in session.scalars(select(Job).where(Job.dedupe_key == f"store-sync:{connection.id}:first"))] \
        == [shop_sync.SYNC_JOB]  # the first import is queued at once

    check = client.post(f"/store-connections/{connection.id}/check", headers=HX, data={"csrf_token": token})
    assert check.status_code == 200 and "The shop refused" in check.text and "401" in check.text
    credentials.seal(connection, credentials={"access_token": fake.token})
    session.commit()
    check = client.post(f"/store-connections/{connection.id}/check", headers=HX, data={"csrf_token": token})
    assert "Connected: the shop answered" in check.text and f'id="connection-{connection.id}"' in check.text

    for _ in range(2):  # a double click queues one sync
        now = client.post(f"/store-connections/{connection.id}/sync", headers=HX, data={"csrf_token": token})
        assert now.status_code == 200 and "Sync queued" in now.text
    assert len([j for j in session.scalars(select(Job).where(Job.name == shop_sync.SYNC_JOB))
                if j.payload == {"connection_id": connection.id}]) == 2  # first + now
    JobRunner(bound_db, settings=settings, worker_id="t").run_pending()
    page = client.get("/store-connections", headers=PAGE).text
    assert "1 orders · 0 products · 0 customers" in page and "not yet" not in page
    assert 'data-held>1<' in page and "Last sync failed" not in page


def test_a_generated_webhook_secret_is_shown_once(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    brand = make_brand(session)
    token = login(client, make_user(session, role=Role.admin))
    r = client.post("/store-connections", headers=PAGE, data={
        "csrf_token": token, "brand": str(brand.id), "platform": "woocommerce", "base_url": "https://shop.example",
        "consumer_key": "ck_1", "consumer_secret": "cs_1"})
    assert r.status_code == 201
    connection = session.scalar(select(StoreConnection).where(StoreConnection.brand_id == brand.id))
    secret = credentials.open_secrets(connection).webhook_secret
    assert len(secret) >= 32 and f"data-secret>{secret}<" in r.text
    assert secret not in client.get("/store-connections", headers=PAGE).text


def test_agents_and_supervisors_cannot_manage_shops(client, session: Session, agent: User) -> None:  # type: ignore[no-untyped-def]
    token = login(client, agent)
    assert client.get("/store-connections", headers=PAGE).status_code == 403
    assert client.post("/store-connections/1/sync", headers=HX, data={"csrf_token": token}).status_code == 403
    assert client.post("/store-connections/1/edit", headers=HX, data={"csrf_token": token}).status_code == 403
    assert client.post("/store-connections/1/disconnect", headers=HX, data={"csrf_token": token}).status_code == 403
    assert 'href="/store-connections"' not in client.get("/", headers=PAGE).text


def test_admins_edit_a_connection_from_the_page(client, session: Session, shop) -> None:  # type: ignore[no-untyped-def]
    fake, url = shop
    brand = make_brand(session)
    token = login(client, make_user(session, role=Role.admin))
    _connect(client, token, brand, url, "shpat_old")
    connection = session.scalar(select(StoreConnection).where(StoreConnection.brand_id == brand.id))
    page = client.get("/store-connections", headers=PAGE).text
    assert f'action="/store-connections/{connection.id}/edit"' in page and "shpat_old" not in page

    bad = client.post(f"/store-connections/{connection.id}/edit", headers=HX, data={
        "csrf_token": token, "base_url": "not-a-url", "access_token": "shpat_lost"})
    assert bad.status_code == 422 and bad.headers["X-Cartdesk-Inline"] == "1"
    assert "starts with https://" in bad.text and "<details class=\"connection-edit\" open>" in bad.text
    session.refresh(connection)
    assert credentials.open_secrets(connection).credentials == {"access_token": "shpat_old"}

    ok = client.post(f"/store-connections/{connection.id}/edit", headers=HX, data={
        "csrf_token": token, "base_url": url, "access_token": fake.token, "webhook_secret": ""})
    assert ok.status_code == 200 and "Saved" in ok.text and fake.token not in ok.text
    session.refresh(connection)
    opened = credentials.open_secrets(connection)
    assert opened.credentials == {"access_token": fake.token} and opened.webhook_secret == "shopify-app-secret"
    check = client.post(f"/store-connections/{connection.id}/check", headers=HX, data={"csrf_token": token})
    assert "Connected: the shop answered" in check.text


def test_disconnecting_from_the_page_asks_first_and_keeps_the_card(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    brand = make_brand(session)
    token = login(client, make_user(session, role=Role.admin))
    client.post("/store-connections", headers=PAGE, data={
        "csrf_token": token, "brand": str(brand.id), "platform": "woocommerce", "base_url": "https://shop.example",
        "consumer_key": "ck_1", "consumer_secret": "cs_1"})
    connection = session.scalar(select(StoreConnection).where(StoreConnection.brand_id == brand.id))
    page = client.get("/store-connections", headers=PAGE).text
    assert 'hx-confirm="Disconnect https://shop.example?' in page  # the browser asks before posting

    r = client.post(f"/store-connections/{connection.id}/disconnect", headers=PAGE, data={"csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    session.refresh(connection)
    assert connection.is_active is False
    page = client.get("/store-connections", headers=PAGE).text
    assert "Disconnected: no more syncs" in page and "data-disconnected" in page
    assert f"/store-connections/{connection.id}/sync" not in page and f"/webhooks/woocommerce/{connection.id}" not in page
    again = client.post(f"/store-connections/{connection.id}/disconnect", headers=HX, data={"csrf_token": token})
    assert again.status_code == 404
