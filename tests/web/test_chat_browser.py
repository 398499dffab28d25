"""Live chat in two real Chromium contexts against a real server: a shopper on the demo
shop with the widget, an agent in the inbox, messages both ways, typing, reload and resume,
and the offline path where the agent's answer goes out by email.

Jobs run in the server (as in production), so replies are delivered by the chat adapter.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from cartdesk.auth.models import Availability, User
from cartdesk.brands import service as brands_service
from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat.schemas import WidgetSettingsUpdate
from cartdesk.customers.models import Customer
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

if not IN_CI:
    pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_chromium()
    with live_server(tmp_path_factory.mktemp("chat"), run_jobs_in_process=True, job_poll_interval=0.2,
                     dev_outbox_channels="email") as live:
        yield live


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def _page(browser: Browser, errors: list[str], **options: object) -> Page:
    page = browser.new_context(**options).new_page()  # type: ignore[arg-type]
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def _agent(browser: Browser, server: LiveServer, errors: list[str]) -> Page:
    page = _page(browser, errors, viewport={"width": 1440, "height": 900})
    page.goto(server.url + "/login")
    page.fill("input[name=email]", server.store.agents["Maria Lopez"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    return page


def _set_everyone(server: LiveServer, availability: Availability) -> None:
    with server.db.transaction() as session:
        session.execute(update(User).values(availability=availability))


def test_shopper_and_agent_chat_both_ways(browser: Browser, server: LiveServer) -> None:
    errors: list[str] = []
    _set_everyone(server, Availability.offline)
    agent = _agent(browser, server, errors)
    # The agent goes online from the menu in the rail.
    agent.click(".rail-me > summary")
    agent.select_option("#availability select", "online")
    expect(agent.locator("#availability")).to_have_attribute("data-availability", "online")

    shop = _page(browser, errors, viewport={"width": 1280, "height": 800})
    shop.goto(server.url + "/demo/shop")
    widget = shop.locator("#cartdesk-chat")
    widget.get_by_role("button", name=re.compile("Open chat")).click()
    expect(widget.locator(".status")).to_contain_text("usually replies in a few minutes")
    widget.locator("input[name=name]").fill("Diego Fernández")
    widget.get_by_role("button", name="Start chat").click()
    box = widget.get_by_role("textbox", name="Message")
    box.fill("Hi! Is the Ridge 2 tent big enough for two adults?")
    box.press("Enter")
    expect(widget.locator(".msg-me").last).to_contain_text("Ridge 2 tent")
    expect(widget.locator(".msg-me.is-pending")).to_have_count(0)

    # The chat arrives in the inbox live, with an unread badge.
    row = agent.locator(".conv-row", has_text="Ridge 2 tent")
    expect(row.locator(".chat-unread")).to_have_text("1")
    row.locator("a").click()
    expect(agent.locator("#thread")).to_contain_text("big enough for two adults")
    expect(agent.locator("#thread .msg-in").first).to_contain_text("Diego Fernández")  # the pre-chat name
    expect(agent.locator("#chat-card")).to_contain_text("/demo/shop")
    expect(agent.locator("#chat-card")).to_contain_text("On the site now")

    # Typing shows in the widget; the reply arrives there once delivered.
    agent.click("#composer textarea")
    agent.keyboard.type("Yes: it's 2.1 m long")
    expect(widget.locator(".typing")).to_contain_text("Maria is typing")
    agent.keyboard.type(" and 1.3 m wide, roomy for two.")
    agent.keyboard.press("Control+Enter")
    expect(widget.locator(".msg-agent").last).to_contain_text("roomy for two")
    expect(widget.locator(".typing")).to_be_hidden()
    # The agent has read the chat: the shopper's last message is marked seen.
    expect(widget.locator(".seen")).to_be_visible()

    # A reload (or another page of the shop) keeps the conversation.
    shop.goto(server.url + "/demo/shop?page=returns")
    widget = shop.locator("#cartdesk-chat")
    expect(widget.locator(".panel")).to_be_visible()  # it stays open across pages
    expect(widget.locator(".msg-agent").last).to_contain_text("roomy for two")
    expect(widget.locator(".msg-me")).to_have_count(1)
    box = widget.get_by_role("textbox", name="Message")
    box.fill("Great, ordering it now.")
    box.press("Enter")
    expect(agent.locator("#thread")).to_contain_text("ordering it now")
    expect(agent.locator("#chat-card")).to_contain_text("page=returns")
    assert errors == []


def test_offline_the_widget_collects_an_email_and_the_answer_goes_by_email(
    browser: Browser, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No grace after the shopper closes the tab (the server runs in this process).
    monkeypatch.setattr(chat_service, "DISCONNECT_GRACE", timedelta(0))
    errors: list[str] = []
    _set_everyone(server, Availability.offline)
    shop = _page(browser, errors, viewport={"width": 390, "height": 760})  # a phone
    shop.goto(server.url + "/demo/shop")
    widget = shop.locator("#cartdesk-chat")
    widget.get_by_role("button", name=re.compile("Open chat")).click()
    expect(widget.locator(".status")).to_contain_text("we'll reply by email")
    widget.locator("input[name=email]").fill("olivia@example.org")
    widget.locator("textarea[name=body]").fill("Is the rain shell's zip covered by the warranty?")
    widget.get_by_role("button", name="Send").click()
    expect(widget.locator(".note")).to_contain_text("We'll reply to olivia@example.org")
    expect(widget.locator(".msg-me.is-pending")).to_have_count(0)
    shop.context.close()  # the shopper leaves

    agent = _agent(browser, server, errors)
    agent.locator(".conv-row", has_text="zip covered").locator("a").click()
    for _ in range(50):  # the server notices the closed socket in a moment
        if "Left the site" in agent.locator("#chat-card").inner_text():
            break
        agent.wait_for_timeout(200)
        agent.reload()
    expect(agent.locator("#chat-card")).to_contain_text("Left the site")
    agent.fill("#composer textarea", "Yes, zips are covered for two years: send us a photo.")
    agent.click("#composer button[type=submit]")
    expect(agent.locator("#thread .msg-out").last).to_contain_text("covered for two years")

    outbox = Path(server.db.engine.url.database).parent / "outbox" / "email.jsonl"  # type: ignore[arg-type]
    expect(agent.locator("#thread .msg-out").last).not_to_contain_text("Queued", timeout=10_000)
    records = [json.loads(line) for line in outbox.read_text().splitlines()]
    [sent] = [r for r in records if r["body_text"] == "Yes, zips are covered for two years: send us a photo."]
    with server.db.transaction(read_only=True) as session:
        assert session.get_one(Customer, sent["to_customer_id"]).email == "olivia@example.org"
    assert errors == []


def test_pre_chat_fields_follow_the_settings_and_offline_starts_when_the_agent_leaves(
    browser: Browser, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A one-second grace after the agent's last tab closes (the server runs in this process).
    monkeypatch.setattr(chat_service, "AGENT_AWAY_GRACE", timedelta(seconds=1))
    errors: list[str] = []
    _set_everyone(server, Availability.online)
    with server.db.transaction() as session:
        brand = brands_service.resolve(session, ref="northwind")
        chat_service.update_widget_settings(session, actor=SYSTEM, brand=brand,
                                            settings_in=WidgetSettingsUpdate(prechat_name=False))
    _agent_page = _agent(browser, server, errors)  # the agent app is open: someone is there

    shop = _page(browser, errors, viewport={"width": 1280, "height": 800})
    shop.goto(server.url + "/demo/shop")
    widget = shop.locator("#cartdesk-chat")
    widget.get_by_role("button", name=re.compile("Open chat")).click()
    expect(widget.locator("form.prechat input[name=email]")).to_be_visible()
    expect(widget.locator("form.prechat input[name=name]")).to_have_count(0)
    expect(widget.locator(".status")).not_to_contain_text("we'll reply by email")
    shop.context.close()

    # The last agent leaves (earlier tests' agent tabs too); after the grace the widget is offline by itself.
    for context in list(browser.contexts):
        context.close()
    time.sleep(1.5)
    shop = _page(browser, errors, viewport={"width": 1280, "height": 800})
    shop.goto(server.url + "/demo/shop")
    widget = shop.locator("#cartdesk-chat")
    widget.get_by_role("button", name=re.compile("Open chat")).click()
    expect(widget.locator(".status")).to_contain_text("we'll reply by email")
    expect(widget.locator("form.prechat textarea[name=body]")).to_be_visible()
    shop.context.close()
    with server.db.transaction() as session:
        brand = brands_service.resolve(session, ref="northwind")
        chat_service.update_widget_settings(session, actor=SYSTEM, brand=brand,
                                            settings_in=WidgetSettingsUpdate(prechat_name=True))
    assert errors == []
