from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.commerce import credentials
from cartdesk.commerce.models import StoreConnection
from cartdesk.config import Settings
from cartdesk.db.engine import Database
from cartdesk.jobs.runner import JobRunner
from cartdesk.kit.clock import utcnow
from tests.factories.conversations import make_brand
from tests.fakes.serve import serve
from tests.fakes.shopify import FakeShopify

SECRET = "whsec_cartdesk_test_secret"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow() + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _shop_secret_key(settings: Settings) -> None:
    """Credentials are sealed with the app's secret key; these tests build no app, so set it here."""
    credentials.configure(settings)


@pytest.fixture
def runner(bound_db: Database, settings: Settings) -> JobRunner:
    return JobRunner(bound_db, settings=settings, clock=Clock(), worker_id="test-runner")


@pytest.fixture
def brand(session: Session) -> Brand:
    return make_brand(session)


@pytest.fixture(scope="module")
def shopify_server() -> Iterator[tuple[FakeShopify, str]]:
    fake = FakeShopify()
    with serve(fake.app()) as url:
        yield fake, url


@pytest.fixture
def shopify(shopify_server: tuple[FakeShopify, str], session: Session, brand: Brand):  # type: ignore[no-untyped-def]
    fake, url = shopify_server
    fake.orders.clear(), fake.products.clear(), fake.customers.clear(), fake.calls.clear()
    fake.refund_requests.clear()
    fake.rate_limit_next = fake.fail_next = 0
    connection = StoreConnection(brand_id=brand.id, platform="shopify", base_url=url)
    credentials.seal(connection, credentials={"access_token": fake.token}, webhook_secret=SECRET)
    session.add(connection)
    session.flush()
    return fake, connection
