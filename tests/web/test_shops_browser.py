"""Connected shops in real Chromium: an admin connects a (fake) Shopify shop, tests the
connection, syncs it and sees the orders that came in, replaces a revoked token through the
edit form, then disconnects the shop (after confirming) and still sees its orders counted.

Set CARTDESK_SHOTS=/some/dir to keep a screenshot of the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import UserCreate
from cartdesk.brands import service as brands_service
from cartdesk.config import Settings
from cartdesk.db.engine import Database
from cartdesk.events.schemas import SYSTEM
from cartdesk.jobs.runner import JobRunner
from tests.fakes.serve import serve
from tests.fakes.shopify import FakeShopify
from tests.web.live import (
    IN_CI,
    PASSWORD,
    LiveServer,
    Store,
    chromium,
    live_server,
    require_chromium,
)

pytestmark = pytest.mark.browser

if not IN_CI:
    pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

expect.set_options(timeout=10_000)
SHOTS = Path(os.environ["CARTDESK_SHOTS"]) if os.environ.get("CARTDESK_SHOTS") else None


def _seed(db: Database) -> Store:
    store = Store()
    with db.transaction() as session:
        brands_service.create(session, slug="northwind", name="Northwind Outfitters",
                              support_email="support@northwind.example", color="#2f6b4f")
        auth_service.create_user(session, actor=SYSTEM, user_in=UserCreate(
            email="ada@example.com", name="Ada Admin", role=Role.admin, password=PASSWORD))
    store.agents["Ada Admin"] = "ada@example.com"
    return store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_chromium()
    with live_server(tmp_path_factory.mktemp("live"), seeder=_seed) as live:
        yield live


def test_an_admin_connects_tests_and_syncs_a_shop(server: LiveServer, tmp_path: Path) -> None:
    fake = FakeShopify()
    for n in range(3):
        fake.add_order(number=4100 + n, email=f"buyer{n}@example.org", lines=[("TENT-2", "Alpine tent", 1, "249.00")],
                       updated_at=f"2026-11-01T10:0{n}:00-05:00")
    with serve(fake.app()) as shop_url, chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url + "/store-connections")
        page.fill("input[name=email]", "ada@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("a.rail-item[href='/store-connections']")).to_have_class("rail-item is-active")

        page.fill("input[name=base_url]", shop_url)
        page.fill("input[name=access_token]", fake.token)
        page.fill("input[name=webhook_secret]", "shopify-app-client-secret")
        page.click("form.limits-form button[type=submit]")
        expect(page.locator("[data-created]")).to_contain_text("the first sync is queued")
        card = page.locator("article.connection").first
        card.locator("[data-check]").click()
        expect(card.locator("[data-notice]")).to_contain_text("the shop answered")

        # The job runner (a worker process in production) carries out the queued syncs.
        JobRunner(server.db, settings=Settings(database_url="sqlite://", secret_key="x" * 32),
                  worker_id="browser-test").run_pending()
        page.locator("article.connection").first.locator("[data-sync]").click()
        expect(page.locator("article.connection").first.locator("[data-notice]")).to_contain_text("Sync queued")
        page.goto(server.url + "/store-connections")
        expect(page.locator("[data-held]").first).to_have_text("3")
        expect(page.locator("[data-imported]").first).to_contain_text("3 orders")
        expect(page.locator("[data-last-error]")).to_have_count(0)
        if SHOTS is not None:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "store-connections.png"), full_page=True)

        # The shop revokes the token: the next sync says so on the page.
        fake.token = "revoked"
        page.locator("article.connection").first.locator("[data-sync]").click()
        expect(page.locator("article.connection").first.locator("[data-notice]")).to_contain_text("Sync queued")
        JobRunner(server.db, settings=Settings(database_url="sqlite://", secret_key="x" * 32),
                  worker_id="browser-test").run_pending()
        page.goto(server.url + "/store-connections")
        expect(page.locator("[data-last-error]").first).to_contain_text("401")
        if SHOTS is not None:
            page.locator("article.connection").first.screenshot(path=str(SHOTS / "store-connection-error.png"))

        # The admin pastes the shop's new token into the edit form; the connection works again.
        fake.token = "shpat_rotated"
        card = page.locator("article.connection").first
        card.locator("[data-edit]").click()
        card.locator("[data-edit-form] input[name=access_token]").fill("shpat_rotated")
        if SHOTS is not None:
            card.screenshot(path=str(SHOTS / "store-connection-edit.png"))
        card.locator("[data-edit-form] button[type=submit]").click()
        card = page.locator("article.connection").first
        expect(card.locator("[data-notice]")).to_contain_text("Saved")
        card.locator("[data-check]").click()
        expect(page.locator("article.connection").first.locator("[data-notice]")).to_contain_text("the shop answered")

        # Disconnecting asks first; dismissing the question changes nothing.
        questions: list[str] = []

        def answer(accept: bool):  # type: ignore[no-untyped-def]
            def handle(dialog):  # type: ignore[no-untyped-def]
                questions.append(dialog.message)
                dialog.accept() if accept else dialog.dismiss()
            return handle

        card = page.locator("article.connection").first
        card.locator("[data-edit]").click()
        page.once("dialog", answer(False))
        card.locator("[data-disconnect]").click()
        expect(card.locator("[data-sync]")).to_be_visible()
        page.once("dialog", answer(True))
        card.locator("[data-disconnect]").click()
        card = page.locator("article.connection").first
        expect(card.locator("[data-state]")).to_have_text("Disconnected")
        expect(card.locator("[data-held]")).to_have_text("3")  # the imported orders stay
        expect(card.locator("[data-sync]")).to_have_count(0)
        assert len(questions) == 2 and "3 orders already imported stay" in questions[0]
        if SHOTS is not None:
            page.screenshot(path=str(SHOTS / "store-connections-disconnected.png"), full_page=True)
        assert errors == []
        browser.close()
