"""The help center in real Chromium against a real server: search as you type, the
contact form's suggestions ending in a recorded deflection, and an agent inserting an
article link into a reply."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from cartdesk.db.engine import Database
from cartdesk.knowledge.models import Deflection
from cartdesk.knowledge.schemas import ArticleCreate, CategoryCreate
from tests.web.live import (
    IN_CI,
    PASSWORD,
    LiveServer,
    Store,
    chromium,
    live_server,
    require_chromium,
)
from tests.web.live import seed as seed_agents

pytestmark = pytest.mark.browser

if not IN_CI:
    pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, expect  # noqa: E402

expect.set_options(timeout=10_000)

ARTICLES = [
    ("Where is my parcel?", "Open the tracking link in your shipping confirmation email to follow your parcel."),
    ("Return an item", "Print the prepaid return label from your account and drop the parcel at a post office."),
    ("Payment methods", "We accept Visa, Mastercard and PayPal."),
]


def _seed(db: Database) -> Store:
    store = seed_agents(db)
    from cartdesk.auth import service as auth_service
    from cartdesk.auth.models import Role
    from cartdesk.auth.schemas import UserCreate
    from cartdesk.events.schemas import SYSTEM
    from cartdesk.knowledge import service as kb_service

    with db.transaction() as session:
        lead = auth_service.create_user(session, actor=SYSTEM, user_in=UserCreate(
            email="lead@example.com", name="Lee Lead", role=Role.supervisor, password=PASSWORD))
        writer = auth_service.principal_for(lead)
        top = kb_service.create_category(session, actor=SYSTEM, category_in=CategoryCreate(brand="northwind", name="Help"))
        section = kb_service.create_category(session, actor=SYSTEM, category_in=CategoryCreate(
            brand="northwind", name="Orders", parent_id=top.id))
        for title, body in ARTICLES:
            kb_service.create_article(session, principal=writer, article_in=ArticleCreate(
                section_id=section.id, title=title, body_md=body, status="published"))
    return store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_chromium()
    with live_server(tmp_path_factory.mktemp("hc"), seeder=_seed) as live:
        yield live


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def test_search_as_you_type(server: LiveServer, browser: Browser) -> None:
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/hc/northwind/en")
    page.locator("#hc-q").press_sequentially("where is my parc", delay=30)
    first = page.locator("#instant-results .hc-hit").first
    expect(first).to_contain_text("Where is my parcel?")
    expect(first.locator("mark").first).to_have_text(re.compile("parcel", re.I))
    page.locator("#hc-q").fill("paypall")  # a typo still finds the article
    expect(page.locator("#instant-results .hc-hit").first).to_contain_text("Payment methods")
    page.locator("#instant-results .hc-hit a").first.click()
    expect(page).to_have_url(re.compile(r"/hc/northwind/en/articles/payment-methods\?q="))
    expect(page.locator("h1")).to_have_text("Payment methods")
    page.get_by_role("button", name="Yes").click()
    expect(page.locator("#feedback")).to_contain_text("Thanks for letting us know")
    assert errors == []


def test_contact_form_deflection(server: LiveServer, browser: Browser) -> None:
    page = browser.new_context().new_page()
    page.goto(server.url + "/hc/northwind/en/contact")
    page.locator("#contact-subject").press_sequentially("How do I send back my jacket? I need a return label", delay=10)
    suggestion = page.locator("#suggestions .hc-suggest").first
    expect(suggestion).to_contain_text("Return an item")
    suggestion.locator("summary").click()
    suggestion.get_by_role("button", name="This answered my question").click()
    expect(page.locator("#contact")).to_contain_text("Glad that helped")
    with server.db.transaction(read_only=True) as session:
        rows = session.execute(select(Deflection.query, func.count()).group_by(Deflection.query)).all()
    assert len(rows) == 1 and "return label" in rows[0][0]


def test_agent_inserts_an_article_link(server: LiveServer, browser: Browser) -> None:
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(server.url + "/login")
    page.fill("input[name=email]", server.store.agents["Tom Becker"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.goto(f"{server.url}/conversations/{server.store.conversations['late']}")
    assist = page.locator("#kb-assist")
    assist.locator("input[name=q]").fill("parcel tracking")
    item = assist.locator(".kb-assist-item").first
    expect(item).to_contain_text("Where is my parcel?")
    item.get_by_role("button", name="Insert link").click()
    expect(page.locator("#composer textarea")).to_have_value(
        re.compile(r"Where is my parcel\?: http://127\.0\.0\.1:\d+/hc/northwind/en/articles/where-is-my-parcel"))


def test_writer_previews_markdown_and_inserts_an_uploaded_image(server: LiveServer, browser: Browser,
                                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    import base64

    png = tmp_path_factory.mktemp("img") / "parcel label.png"
    png.write_bytes(base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="))
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/login")
    page.fill("input[name=email]", "lead@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.goto(server.url + "/kb/articles/1")
    expect(page.locator("#kb-preview")).to_contain_text("Open the tracking link")
    body = page.locator("textarea[name=body_md]")
    body.fill("## Label\n\n**Print** it.")
    expect(page.locator("#kb-preview h2")).to_have_text("Label")
    page.locator("form[aria-label=\"Add an image\"] input[type=file]").set_input_files(str(png))
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("button", name="Insert in the text").click()
    expect(body).to_have_value(re.compile(r"!\[parcel label\]\(/hc/northwind/images/\d+/parcel%20label\.png\)"))
    image = page.locator("#kb-preview img")
    expect(image).to_have_attribute("src", re.compile(r"/hc/northwind/images/\d+/"))
    assert page.evaluate("img => img.complete && img.naturalWidth", image.element_handle()) == 1  # really loaded
    assert errors == []


def test_writer_attaches_a_file_that_visitors_download(server: LiveServer, browser: Browser) -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
    page = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/login")
    page.fill("input[name=email]", "lead@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.goto(server.url + "/kb/articles/1")
    page.locator("form[aria-label=\"Attach a file\"] input[type=file]").set_input_files(
        files=[{"name": "returns form.pdf", "mimeType": "application/pdf", "buffer": pdf}])
    page.get_by_role("button", name="Attach", exact=True).click()
    expect(page.locator('#kb-files [data-file="returns form.pdf"]')).to_contain_text("PDF")
    public = page.locator(".kb-view-public").get_attribute("href")  # opens in a new tab
    assert public and public.startswith("/hc/northwind/en/articles/")
    page.goto(server.url + public)
    link = page.locator(".hc-files a.hc-file")
    expect(link).to_contain_text("returns form.pdf")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "returns form.pdf"
    assert open(download.value.path(), "rb").read() == pdf  # noqa: PTH123, SIM115
    assert errors == []
