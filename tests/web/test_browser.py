"""The agent app in real Chromium, against a real server: login, inbox, reply, live
updates in a second agent's browser, and the collision indicator.

Waits are Playwright's auto-waiting assertions (bounded, polling the page), never
sleeps: a test says what must appear, not how long it takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.schemas import ConversationCreate
from cartdesk.events.schemas import SYSTEM
from tests.web.live import (
    IN_CI,
    PASSWORD,
    LiveServer,
    chromium,
    live_server,
    require_chromium,
)

pytestmark = pytest.mark.browser

if not IN_CI:  # in CI a missing Playwright must fail loudly, not skip
    pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_chromium()
    with live_server(tmp_path_factory.mktemp("live")) as live:
        yield live


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


class Agent:
    """One person at their own browser (a separate context: own cookies, own socket)."""

    def __init__(self, browser: Browser, server: LiveServer, name: str) -> None:
        self.server = server
        self.context = browser.new_context(viewport={"width": 1440, "height": 900})
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.email = server.store.agents[name]

    def login(self, next_path: str = "/") -> Page:
        page = self.page
        page.goto(self.server.url + next_path)
        expect(page).to_have_url(re.compile(r"/login"))
        page.fill("input[name=email]", self.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(self.server.url + next_path)
        return page

    def open(self, key: str) -> Page:
        self.page.goto(f"{self.server.url}/conversations/{self.server.store.conversations[key]}")
        expect(self.page.locator("#live-status")).to_have_attribute("data-state", "live")
        return self.page

    def close(self) -> None:
        assert not self.errors, f"JavaScript errors: {self.errors}"
        self.context.close()


@pytest.fixture
def agents(browser: Browser, server: LiveServer) -> Iterator[Any]:
    opened: list[Agent] = []

    def make(name: str) -> Agent:
        agent = Agent(browser, server, name)
        opened.append(agent)
        return agent

    yield make
    for agent in opened:
        agent.close()


def test_login_and_the_inbox_lists_conversations(agents, server: LiveServer) -> None:
    maria = agents("Maria Lopez")
    page = maria.login()
    rows = page.locator(".conv-row")
    expect(rows).to_have_count(len(server.store.conversations))
    expect(page.locator(".conv-row", has_text="Exchange for a different size")).to_be_visible()
    expect(page.locator("#view-nav [data-count=open]")).to_have_text(str(len(server.store.conversations)))
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    # Keyboard: j selects the first row, Enter opens it.
    page.keyboard.press("j")
    expect(rows.first).to_have_class(re.compile("is-selected"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/conversations/\d+$"))


def test_a_wrong_password_is_answered_on_the_form(agents, server: LiveServer) -> None:
    page = agents("Maria Lopez").page
    page.goto(server.url + "/login")
    page.fill("input[name=email]", "maria@example.com")
    page.fill("input[name=password]", "not it")
    page.click("button[type=submit]")
    expect(page.locator(".notice-error")).to_contain_text("don't match")


def test_open_a_conversation_and_reply_with_ctrl_enter(agents, server: LiveServer) -> None:
    maria = agents("Maria Lopez")
    page = maria.login()
    page.locator(".conv-row", has_text="Promo code problem").click()
    expect(page.locator("h1")).to_contain_text("Promo code problem")
    page.keyboard.press("r")
    expect(page.locator("#composer textarea")).to_be_focused()
    page.keyboard.type("Sorry about that! WELCOME10 works again now.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#thread .msg-out").last).to_contain_text("WELCOME10 works again now.")
    expect(page.locator("#composer textarea")).to_have_value("")
    expect(page.locator("#conv-head .badge")).to_have_text("Pending")
    expect(page.locator("#conv-notice")).to_contain_text("Reply sent")


def test_keyboard_moves_on_a_conversation(agents, server: LiveServer) -> None:
    maria = agents("Maria Lopez")
    maria.login()
    page = maria.open("size")
    page.keyboard.press("a")
    expect(page.locator("#conv-head")).to_contain_text("Maria Lopez")
    page.keyboard.press("n")
    expect(page.locator('#composer input[value="note"]')).to_be_checked()
    page.keyboard.type("Offered an exchange to L.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#thread .msg-note").last).to_contain_text("Offered an exchange to L.")
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.locator("#conv-head .badge")).to_have_text("Solved")
    expect(page.locator("#conv-head")).to_contain_text("Reopen")


def test_a_refused_move_is_shown_inline(agents, server: LiveServer) -> None:
    maria = agents("Maria Lopez")
    maria.login()
    page = maria.open("refund")
    page.click(".merge summary")
    page.once("dialog", lambda dialog: dialog.accept())
    page.fill(".merge-form input[name=source]", "99999")
    page.click(".merge-form button")
    expect(page.locator("#conv-notice .notice-error")).to_contain_text("no conversation #99999")


def test_a_second_agent_sees_the_reply_appear_without_reloading(agents, server: LiveServer) -> None:
    maria, tom = agents("Maria Lopez"), agents("Tom Becker")
    maria.login()
    tom.login()
    tom_page = tom.open("late")
    tom_page.evaluate("window.__stillTheSamePage = true")
    maria_page = maria.open("late")

    maria_page.fill("#composer textarea", "Good news: it is out for delivery tomorrow.")
    maria_page.click("#composer button[type=submit]")
    expect(maria_page.locator("#thread")).to_contain_text("out for delivery tomorrow")

    reply = tom_page.locator("#thread .msg-out").last
    expect(reply).to_contain_text("out for delivery tomorrow")
    expect(reply.locator(".msg-author")).to_have_text("Maria Lopez")
    assert tom_page.evaluate("window.__stillTheSamePage") is True


def test_a_new_conversation_appears_in_another_agents_inbox_live(agents, server: LiveServer) -> None:
    tom = agents("Tom Becker")
    page = tom.login()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.evaluate("window.__stillTheSamePage = true")
    before = int(page.locator("#view-nav [data-count=open]").inner_text())
    with server.db.transaction() as session:
        conversations_service.create(session, actor=SYSTEM, conversation_in=ConversationCreate(
            customer={"name": "Diego Fernández", "email": "diego@example.org"}, subject="Only part of my order arrived",
            message={"body": "The trekking poles are missing from the parcel."}, channel="email",
        ))
    expect(page.locator(".conv-row").first).to_contain_text("Only part of my order arrived")
    expect(page.locator("#view-nav [data-count=open]")).to_have_text(str(before + 1))
    assert page.evaluate("window.__stillTheSamePage") is True


def test_the_collision_indicator_shows_who_is_viewing_and_typing(agents, server: LiveServer) -> None:
    maria, tom = agents("Maria Lopez"), agents("Tom Becker")
    maria.login()
    tom.login()
    maria_page = maria.open("zip")
    tom_page = tom.open("zip")

    presence = maria_page.locator("#presence")
    expect(presence).to_be_visible()
    expect(presence).to_contain_text("Tom is viewing")
    expect(tom_page.locator("#presence")).to_contain_text("Maria is viewing")

    tom_page.click("#composer textarea")
    tom_page.keyboard.type("Let me check the warranty")
    expect(presence).to_contain_text("Tom is typing")

    # Back in the inbox, Maria sees Tom's avatar on the row he is looking at.
    maria_page.goto(server.url + "/")
    row = maria_page.locator(f'.conv-row[data-conversation-id="{server.store.conversations["zip"]}"]')
    expect(row.locator("[data-viewers] .avatar")).to_have_text("TB")

    tom_page.goto(server.url + "/")  # Tom leaves the conversation
    expect(row.locator("[data-viewers] .avatar")).to_have_count(0)


def test_tablet_width_keeps_everything_reachable(agents, server: LiveServer, tmp_path: Path) -> None:
    maria = agents("Maria Lopez")
    maria.context.pages[0].set_viewport_size({"width": 768, "height": 1024})
    page = maria.login()
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    page.click(".pane-head [data-toggle-sidebar]")
    expect(page.locator("#sidebar")).to_be_in_viewport()
    page.keyboard.press("Escape")
    page.locator(".conv-row").first.click()
    expect(page.locator("#composer")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-help")).to_be_visible()
