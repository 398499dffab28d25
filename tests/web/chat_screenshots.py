"""Screenshots of live chat: the widget on the demo shop (desktop and phone) and the agent's side.

    .venv/bin/python -m tests.web.chat_screenshots            # into /tmp/shots
    .venv/bin/python -m tests.web.chat_screenshots --docs     # and into docs/screenshots

Not a test: a tool to look at the widget after a change to it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, expect, sync_playwright
from sqlalchemy import update

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Availability, Role, User
from cartdesk.auth.schemas import UserCreate
from cartdesk.events.schemas import SYSTEM
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, PASSWORD, LiveServer, live_server, require_chromium

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FOR_DOCS = ("chat-widget.png", "chat-widget-phone.png", "chat-agent.png", "chat-settings.png")


def take(out: Path) -> list[Path]:
    require_chromium()
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp), run_jobs_in_process=True,
                                                           job_poll_interval=0.2) as live, \
            sync_playwright() as playwright:
        with live.db.transaction() as session:
            session.execute(update(User).values(availability=Availability.online))
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        agent = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        agent.goto(live.url + "/login")
        agent.fill("input[name=email]", live.store.agents["Maria Lopez"])
        agent.fill("input[name=password]", PASSWORD)
        agent.click("button[type=submit]")
        shop = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        shop.goto(live.url + "/demo/shop")
        widget = shop.locator("#cartdesk-chat")
        widget.get_by_role("button", name=re.compile("Open chat")).click()
        widget.locator("input[name=name]").fill("Diego Fernández")
        widget.get_by_role("button", name="Start chat").click()
        box = widget.get_by_role("textbox", name="Message")
        box.fill("Hi! Is the Ridge 2 tent big enough for two adults and their packs?")
        box.press("Enter")
        row = agent.locator(".conv-row", has_text="Ridge 2 tent")
        expect(row.locator(".chat-unread")).to_be_visible()
        agent.screenshot(path=str(out / "chat-inbox.png"))
        shots.append(out / "chat-inbox.png")
        row.locator("a").click()
        agent.fill("#composer textarea", "Yes! It's 2.1 m by 1.3 m, and both doors have a vestibule for packs.")
        agent.keyboard.press("Control+Enter")
        expect(widget.locator(".msg-agent").last).to_contain_text("vestibule")
        box.fill("Perfect, thanks")
        agent.click("#composer textarea")
        agent.keyboard.type("Happy to help")
        expect(widget.locator(".typing")).to_be_visible()
        shop.screenshot(path=str(out / "chat-widget.png"))
        shots.append(out / "chat-widget.png")
        box.press("Enter")
        expect(agent.locator("#thread")).to_contain_text("Perfect, thanks")
        agent.screenshot(path=str(out / "chat-agent.png"))
        shots.append(out / "chat-agent.png")
        phone = browser.new_context(viewport={"width": 390, "height": 760}).new_page()
        phone.goto(live.url + "/demo/shop")
        phone.locator("#cartdesk-chat").get_by_role("button", name=re.compile("Open chat")).click()
        phone.wait_for_timeout(400)
        phone.screenshot(path=str(out / "chat-widget-phone.png"))
        shots.append(out / "chat-widget-phone.png")
        shots += take_settings(browser, live, out)
        browser.close()
    return shots


def take_settings(browser: Browser, live: LiveServer, out: Path) -> list[Path]:
    """The admin page for the widget: saved, then with a bad colour (the 422 on the form)."""
    with live.db.transaction() as session:
        auth_service.create_user(session, actor=SYSTEM, user_in=UserCreate(
            email="ada@example.com", name="Ada Admin", role=Role.admin, password=PASSWORD))
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.goto(live.url + "/login")
    page.fill("input[name=email]", "ada@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("a.rail-item[href='/settings/chat']")
    page.fill("input[name=color]", "#0f766e")
    page.fill("input[name=reply_time]", "under an hour")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        page.fill(f"input[name=hours_{day}]", "09:00-17:30")
    page.fill("input[name=max_chats_per_agent]", "4")
    teams = page.locator("select[name=routing_team_id] option")
    if teams.count() > 1:
        page.select_option("select[name=routing_team_id]", index=1)
    page.click("button:has-text('Save')")
    expect(page.get_by_text("Saved.")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('secret')")
    expect(page.locator("#new-secret")).to_be_visible()
    page.screenshot(path=str(out / "chat-settings.png"), full_page=True)
    page.fill("input[name=color]", "teal")
    page.fill("input[name=hours_sat]", "10-14")
    page.fill("input[name=max_chats_per_agent]", "0")
    page.click("button:has-text('Save')")
    expect(page.locator(".field-error").first).to_be_visible()
    page.screenshot(path=str(out / "chat-settings-errors.png"), full_page=True)
    return [out / "chat-settings.png", out / "chat-settings-errors.png"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/shots"))
    parser.add_argument("--docs", action="store_true", help=f"also copy {', '.join(FOR_DOCS)} to {DOCS}")
    args = parser.parse_args()
    for path in take(args.out):
        print(path)
    if args.docs:
        for name in FOR_DOCS:
            shutil.copyfile(args.out / name, DOCS / name)
            print(DOCS / name)


if __name__ == "__main__":
    main()
