"""The store in real Chromium: an agent's refund above the limit from the side panel going through a
supervisor's approval, and a customer's portal journey (track → return → label).

Set CARTDESK_SHOTS=/some/dir to keep screenshots of the panel and the portal pages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import UserCreate
from cartdesk.brands import service as brands_service
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.schemas import ConversationCreate
from cartdesk.db.engine import Database
from cartdesk.events.schemas import SYSTEM
from tests.factories.commerce import make_order, make_product, ship
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
from playwright.sync_api import Browser, Page, expect  # noqa: E402

expect.set_options(timeout=10_000)
SHOTS = Path(os.environ["CARTDESK_SHOTS"]) if os.environ.get("CARTDESK_SHOTS") else None


def _seed(db: Database) -> Store:
    store = Store()
    with db.transaction() as session:
        brand = brands_service.create(session, slug="northwind", name="Northwind Outfitters",
                                      support_email="support@northwind.example", color="#2f6b4f")
        for name, email, role in (("Maria Lopez", "maria@example.com", Role.agent),
                                  ("Sam Supervisor", "sam@example.com", Role.supervisor)):
            auth_service.create_user(session, actor=SYSTEM, user_in=UserCreate(
                email=email, name=name, role=role, password=PASSWORD))
            store.agents[name] = email
        conversation = conversations_service.create(session, actor=SYSTEM, conversation_in=ConversationCreate(
            customer={"name": "Hannah Kim", "email": "hannah@example.org"}, subject="My parcel never arrived",
            message={"body": "The tracking stopped a week ago. Can you help?"}, channel="email", brand=brand.id))
        store.conversations["lost"] = conversation.id
        tent = make_product(session, brand=brand, title="Alpine Lite 2-person tent", price="249.00", category="Camping")
        poles = make_product(session, brand=brand, title="Kestrel trekking poles", price="69.00", category="Accessories")
        socks = make_product(session, brand=brand, title="Merino hiking socks", price="18.00", final_sale=True)
        lost = make_order(session, brand=brand, number="NW-31042", customer_id=conversation.customer_id,
                          lines=[{"sku": tent.sku, "quantity": 1}, {"sku": poles.sku, "quantity": 1}],
                          shipping="9.95")
        ship(session, order=lost)
        delivered = make_order(session, brand=brand, number="NW-31077", customer_id=conversation.customer_id,
                               lines=[{"sku": poles.sku, "quantity": 2}, {"sku": socks.sku, "quantity": 3}],
                               shipping="0", discount_code=None)
        ship(session, order=delivered, delivered_days_ago=3)
        assert delivered.total == Decimal("192.00")
    return store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_chromium()
    with live_server(tmp_path_factory.mktemp("live"), seeder=_seed) as live:
        yield live


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def _page(browser: Browser, width: int = 1440, height: int = 900) -> Page:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _login(page: Page, server: LiveServer, name: str, next_path: str) -> None:
    page.goto(server.url + next_path)
    page.fill("input[name=email]", server.store.agents[name])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(server.url + next_path)


def _shot(page: Page, name: str, locator: str | None = None) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (page.locator(locator) if locator else page).screenshot(path=str(SHOTS / name))


def test_agent_refund_above_the_limit_is_approved_by_a_supervisor(browser: Browser, server: LiveServer) -> None:
    conversation = f"/conversations/{server.store.conversations['lost']}"
    agent = _page(browser)
    _login(agent, server, "Maria Lopez", conversation)
    order = agent.locator('details.order[data-order="NW-31042"]')
    order.locator(":scope > summary").click()  # the newest order is open; this one was placed earlier
    expect(order.locator(".order-lines")).to_contain_text("Alpine Lite 2-person tent")
    expect(order.locator(".timeline")).to_contain_text("Picked up · Leeds")
    _shot(agent, "store-side-panel.png", "#conv-side")
    refund = order.locator('details[data-action="refund"]')
    refund.locator(":scope > summary").click()
    refund.locator("input[aria-label='Units of Alpine Lite 2-person tent to refund']").fill("1")
    refund.locator("input[name=reason]").fill("Parcel lost by the carrier")
    refund.locator("button[type=submit]").click()
    expect(agent.locator("#conv-notice")).to_contain_text("Refund of $249.00 sent to a supervisor for approval.")
    expect(agent.locator("#thread")).to_contain_text("above their limit of $100.00 and awaits a supervisor")
    expect(agent.locator('details.order[data-order="NW-31042"]')).to_contain_text("awaiting approval")
    assert agent.locator("a[href='/approvals']").count() == 0

    supervisor = _page(browser)
    _login(supervisor, server, "Sam Supervisor", "/approvals")
    card = supervisor.locator("article.approval")
    expect(card).to_contain_text("$249.00")
    expect(card).to_contain_text("Parcel lost by the carrier")
    _shot(supervisor, "store-approvals.png")
    card.locator("input[name=note]").fill("Carrier confirmed the loss")
    card.locator("button[value=approve]").click()
    expect(supervisor.locator(".toasts")).to_contain_text("Refund approved: $249.00 on order NW-31042.")
    expect(supervisor.locator("article.approval")).to_have_count(0)

    agent.reload()
    expect(agent.locator("#thread")).to_contain_text(
        "Sam Supervisor approved the refund of $249.00 on order NW-31042 — Carrier confirmed the loss.")
    expect(agent.locator('details.order[data-order="NW-31042"]')).to_contain_text("partially refunded")
    assert not agent.errors and not supervisor.errors  # type: ignore[attr-defined]


def test_customer_tracks_returns_and_prints_a_label(browser: Browser, server: LiveServer) -> None:
    page = _page(browser, 1024, 900)
    page.goto(server.url + "/portal/northwind")
    page.fill("input[name=number]", "NW-31077")
    page.fill("input[name=email]", "someone-else@example.org")
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_contain_text("We couldn't find an order with that number and email.")
    page.fill("input[name=email]", "hannah@example.org")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/portal/northwind/o/"))
    expect(page.locator(".timeline li").first).to_contain_text("Delivered")
    _shot(page, "portal-order.png")
    page.click("text=Return items")
    socks = page.locator(".pick-item", has_text="Merino hiking socks")
    expect(socks.locator("[data-decision]")).to_have_text(
        "Merino hiking socks was a final-sale item; final-sale items cannot be returned.")
    expect(socks.locator("input[type=checkbox]")).to_be_disabled()
    poles = page.locator(".pick-item", has_text="Kestrel trekking poles")
    expect(poles.locator("[data-decision]")).to_contain_text("can be returned until")
    poles.locator("input[type=checkbox]").check()
    poles.locator("select[name^=qty_]").select_option("2")
    poles.locator("select[name^=reason_]").select_option("not_as_described")
    _shot(page, "portal-return.png")
    page.click("button:has-text('Request return')")
    expect(page.locator("h1")).to_contain_text("Return R")
    rma = page.locator("[data-rma]").inner_text()
    expect(page.locator(".status")).to_have_text("Approved")
    expect(page.locator("[data-refund]")).to_contain_text("as soon as we receive the parcel")
    _shot(page, "portal-return-done.png")
    href = page.locator("[data-label]").get_attribute("href")
    pdf = page.request.get(server.url + str(href))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF") and rma.encode() in pdf.body()
    if SHOTS is not None:
        (SHOTS / "return-label.pdf").write_bytes(pdf.body())
    assert not page.errors  # type: ignore[attr-defined]
