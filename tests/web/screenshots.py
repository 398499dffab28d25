"""Screenshots of the agent app, from the demo store, in real Chromium.

    .venv/bin/python -m tests.web.screenshots            # every page into /tmp/shots
    .venv/bin/python -m tests.web.screenshots --docs     # and the README's three into docs/screenshots

Not a test: a tool to look at the product (and to refresh the README pictures)
after a change to the templates or the stylesheet.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from cartdesk.auth import service as auth_service
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import OPEN_STATUSES
from cartdesk.conversations.schemas import ConversationFilters
from cartdesk.db.engine import Database
from cartdesk.demo import seed as demo_seed
from cartdesk.demo.people import USERS
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, Store, live_server, require_chromium

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FOR_DOCS = ("inbox.png", "conversation.png", "tablet-conversation.png")
PRIYA, TOM = (next(u for u in USERS if u.key == key) for key in ("priya", "tom"))


def _demo(db: Database) -> Store:
    demo_seed.seed(db, seed=42, conversations=120)
    store = Store(agents={u.name: u.email for u in USERS})
    with db.transaction(read_only=True) as session:
        priya = auth_service.get_by_email(session, email=PRIYA.email)
        assert priya is not None
        listed = conversations_service.list_conversations(
            session, principal=auth_service.principal_for(priya),
            filters=ConversationFilters(status=list(OPEN_STATUSES)), limit=100,
        ).items
        # The richest open thread makes the best picture of the conversation page.
        richest = max(listed, key=lambda c: (c.message_count, c.id))
        store.conversations["showcase"] = richest.id
    return store


def _login(page: Page, base: str, email: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")


def take(out: Path) -> list[Path]:
    require_chromium()
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp), seeder=_demo) as live, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        size = {"width": 1280, "height": 800}
        page = browser.new_context(viewport=size).new_page()
        other = browser.new_context(viewport=size).new_page()

        def shot(name: str) -> None:
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / name))
            shots.append(out / name)

        page.goto(live.url + "/login")
        shot("login.png")
        _login(page, live.url, PRIYA.email, PRIYA.password)
        _login(other, live.url, TOM.email, TOM.password)
        conversation = f"{live.url}/conversations/{live.store.conversations['showcase']}"
        other.goto(conversation)
        shot("inbox.png")

        page.goto(conversation)
        other.click("#composer textarea")
        other.keyboard.type("Let me check with the carrier")
        expect(page.locator("#presence")).to_contain_text("typing")
        shot("conversation.png")

        customer = page.locator(".customer-name").get_attribute("href")
        page.goto(live.url + str(customer))
        shot("customer.png")
        page.goto(live.url + "/customers")
        shot("customers.png")
        page.goto(live.url + "/?q=refund")
        shot("search.png")
        page.keyboard.press("?")
        shot("shortcuts.png")

        page.set_viewport_size({"width": 768, "height": 1024})
        page.goto(live.url + "/")
        shot("tablet-inbox.png")
        page.goto(conversation)
        shot("tablet-conversation.png")
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/shots"))
    parser.add_argument("--docs", action="store_true", help=f"also copy {', '.join(FOR_DOCS)} to {DOCS}")
    args = parser.parse_args()
    for path in take(args.out):
        print(path)
    if args.docs:
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in FOR_DOCS:
            shutil.copyfile(args.out / name, DOCS / name)
            print(DOCS / name)


if __name__ == "__main__":
    main()
