"""The email admin pages: mailboxes list and health, add/edit with test connection, quarantine.

Page behaviour through the app's client; the look in real Chromium (screenshots go to
``$CARTDESK_SHOTS_DIR`` when set, e.g. docs/screenshots, else a temp dir).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import UserCreate
from cartdesk.brands import service as brands_service
from cartdesk.channels.email import ingest
from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.models import Mailbox, Quarantine
from cartdesk.conversations.models import Conversation
from cartdesk.db.engine import Database
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.clock import utcnow
from cartdesk.kit.storage import LocalStore
from tests.factories.auth import PASSWORD, make_user
from tests.factories.email import make_mail, make_mailbox
from tests.web.conftest import PAGE, csrf_of, hx, login
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, Store, live_server, require_chromium


def test_only_admins_see_the_mailbox_pages(session: Session, client: Any) -> None:
    agent = make_user(session)
    session.commit()
    login(client, agent)
    assert client.get("/settings/mailboxes", headers=PAGE).status_code == 403
    assert 'href="/settings/mailboxes"' not in client.get("/", headers=PAGE).text


def test_admin_adds_edits_and_tests_a_mailbox(session: Session, client: Any) -> None:
    admin = make_user(session, role=Role.admin)
    brand = brands_service.create(session, slug="acme", name="Acme")
    session.commit()
    token = login(client, admin)
    assert 'href="/settings/mailboxes"' in client.get("/", headers=PAGE).text
    form = client.get("/settings/mailboxes/new", headers=PAGE)
    assert form.status_code == 200
    bad = client.post("/settings/mailboxes/new", headers=PAGE, data={
        "csrf_token": csrf_of(form.text), "name": "Help", "address": "not-an-address", "brand": brand.id})
    assert bad.status_code == 422 and "address" in bad.text
    created = client.post("/settings/mailboxes/new", headers=PAGE, follow_redirects=False, data={
        "csrf_token": csrf_of(form.text), "name": "Help", "address": "help@acme.example", "brand": str(brand.id),
        "imap_host": "127.0.0.1", "imap_port": "1", "imap_security": "none", "imap_username": "help",
        "imap_password": "s3cret", "imap_folder": "INBOX", "smtp_host": "", "smtp_port": "587",
        "smtp_security": "starttls", "enabled": "on", "order_window_days": "10", "max_per_sender_per_hour": "20"})
    assert created.status_code == 303, created.text
    mailbox_id = int(created.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/settings/mailboxes/{mailbox_id}", headers=PAGE)
    assert "help@acme.example" in page.text and "/api/v1/channels/email/inbound/" in page.text
    assert "s3cret" not in page.text
    tested = client.post(f"/settings/mailboxes/{mailbox_id}/test", headers=hx(token))
    assert 'data-check="IMAP"' in tested.text and "notice-error" in tested.text  # nothing listens on port 1
    assert "No SMTP server configured" in tested.text
    edit = client.get(f"/settings/mailboxes/{mailbox_id}/edit", headers=PAGE)
    assert "s3cret" not in edit.text
    saved = client.post(f"/settings/mailboxes/{mailbox_id}/edit", headers=PAGE, follow_redirects=False, data={
        "csrf_token": csrf_of(edit.text), "name": "Help desk", "imap_host": "127.0.0.1", "imap_port": "1",
        "imap_security": "none", "imap_username": "help", "imap_password": "", "imap_folder": "INBOX",
        "smtp_port": "587", "smtp_security": "starttls", "order_window_days": "10",
        "max_per_sender_per_hour": "20"})
    assert saved.status_code == 303
    session.expire_all()
    mailbox = session.get_one(Mailbox, mailbox_id)
    assert mailbox.name == "Help desk" and not mailbox.enabled and not mailbox.thread_by_subject
    assert email_service.password(mailbox, "imap", secret_key="test-secret-key-not-for-production") == "s3cret"


def test_quarantine_page_lists_held_mail(session: Session, client: Any, tmp_path: Path) -> None:
    admin = make_user(session, role=Role.admin)
    mailbox = make_mailbox(session)
    ingest.ingest(session, raw=make_mail(to=mailbox.address, headers={"Auto-Submitted": "auto-replied"},
                                         subject="Out of office"), source="imap", store=LocalStore(tmp_path),
                  mailbox=mailbox)
    session.commit()
    login(client, admin)
    page = client.get("/settings/quarantine", headers=PAGE)
    assert page.status_code == 200 and "Out of office" in page.text and "Auto-Submitted" in page.text
    raw_link = re.search(r'href="(/api/v1/channels/email/quarantine/\d+/raw)"', page.text)
    assert raw_link
    assert "Mail is kept for 30 days" in page.text  # CARTDESK_EMAIL_QUARANTINE_DAYS
    held = session.scalars(select(Quarantine)).one()
    assert held.viewed_at is None
    raw = client.get(raw_link.group(1))
    assert raw.status_code == 200 and b"Out of office" in raw.content
    session.expire_all()
    assert held.viewed_at is not None  # the retention purge now spares it for another window
    # A false positive: the admin files it after all.
    release = re.search(r'action="(/settings/quarantine/\d+/release)"', page.text)
    assert release
    filed = client.post(release.group(1), data={"csrf_token": csrf_of(page.text)}, headers=PAGE, follow_redirects=False)
    assert filed.status_code == 303
    after = client.get("/settings/quarantine", headers=PAGE)
    assert "Filed into conversation" in after.text and "Out of office" not in after.text


# --- in Chromium ------------------------------------------------------------------

def _seed(db: Database) -> Store:
    with db.transaction() as session:
        brand = brands_service.create(session, slug="northwind", name="Northwind Outfitters")
        auth_service.create_user(session, actor=SYSTEM, user_in=UserCreate(
            email="ada@example.com", name="Ada Admin", role=Role.admin, password=PASSWORD))
        good = make_mailbox(session, brand=brand, address="support@northwind.example", from_name="Northwind Support",
                            imap_host="imap.northwind.example", imap_username="support", imap_security="ssl",
                            smtp_host="smtp.northwind.example", inbound_address="northwind@in.cartdesk.example")
        good.last_fetch_at, good.last_fetch_count, good.idle_supported = utcnow(), 3, True
        bad = make_mailbox(session, brand=brand, address="returns@northwind.example", imap_host="127.0.0.1",
                           imap_port=1, imap_security="none", imap_username="returns")
        bad.name = "Returns"
        bad.last_error, bad.last_error_at = "ConnectionRefusedError: [Errno 111] Connection refused", utcnow()
        store = LocalStore(Path(db.engine.url.database or ".").parent / "attachments")
        for headers, subject in (({"Auto-Submitted": "auto-replied"}, "Automatic reply: Out of office"),
                                 ({"Precedence": "bulk"}, "Weekly newsletter")):
            ingest.ingest(session, raw=make_mail(to=good.address, headers=headers, subject=subject), source="imap",
                          store=store, mailbox=good)
        ingest.ingest(session, raw=make_mail(
            to=good.address, subject="Torn jacket", body="The blue jacket arrived torn.",
            html="<p>Hello,</p><p>the <b>blue jacket</b> (order <b>#4411</b>) arrived <i>torn</i>:</p>"
                 "<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Blue jacket, M</td><td>1</td></tr></table>"
                 "<p>Could you send a new one?<br>Alice</p><script>document.body.innerHTML='pwned'</script>"),
            source="imap", store=store, mailbox=good)
        email_service.quarantine(session, raw=b"\x00garbage", source="smtp", reason="unparseable",  # type: ignore[arg-type]
                                 error="UnparseableEmail: The mail has no sender address (From).",
                                 message_key="garbage-1", mailbox_id=bad.id)
    return Store(agents={"Ada Admin": "ada@example.com"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require_chromium()
    with live_server(tmp_path_factory.mktemp("mail-live"), seeder=_seed) as live:
        yield live


@pytest.mark.browser
def test_mailbox_pages_in_chromium(server: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("CARTDESK_SHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/settings/mailboxes")
        page.fill("input[name=email]", "ada@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#mailbox-table")).to_contain_text("support@northwind.example")
        expect(page.locator("#mailbox-table")).to_contain_text("Error")
        page.screenshot(path=str(shots / "mailboxes.png"))
        page.click("text=Returns")
        page.click("button:has-text('Test connection')")
        expect(page.locator("[data-check=IMAP]")).to_contain_text("Connection refused")
        page.screenshot(path=str(shots / "mailbox-health.png"), full_page=True)
        page.goto(server.url + "/settings/mailboxes/new")
        page.screenshot(path=str(shots / "mailbox-form.png"), full_page=True)
        page.goto(server.url + "/settings/quarantine")
        expect(page.locator("#quarantine-table")).to_contain_text("Out of office")
        page.screenshot(path=str(shots / "quarantine.png"))
        with server.db.transaction(read_only=True) as s:
            torn = s.scalars(select(Conversation.id).where(Conversation.subject == "Torn jacket")).one()
        page.goto(server.url + f"/conversations/{torn}")
        page.click("text=Show original formatting")
        frame = page.frame_locator("iframe.msg-html-frame")
        expect(frame.locator("table")).to_contain_text("Blue jacket, M")  # signed in inside the sandbox too
        expect(frame.locator("b").first).to_have_text("blue jacket")
        expect(frame.locator("body")).not_to_contain_text("pwned")
        page.screenshot(path=str(shots / "mail-original-html.png"))
        browser.close()
    assert not errors, errors


def test_conversation_page_folds_the_quote_but_keeps_it_viewable(session: Session, client: Any, tmp_path: Path) -> None:
    admin = make_user(session, role=Role.admin)
    mailbox = make_mailbox(session)
    result = ingest.ingest(session, raw=make_mail(
        to=mailbox.address, body="Yes, the blue one please.\n\nOn Tue, 3 Mar 2026 at 10:00, Shop <s@shop.example> wrote:\n"
                               "> Which colour would you like?"), source="imap", store=LocalStore(tmp_path), mailbox=mailbox)
    session.commit()
    login(client, admin)
    page = client.get(f"/conversations/{result.conversation_id}", headers=PAGE)
    assert page.status_code == 200
    body, _, folded = page.text.partition('class="msg-original"')
    assert "Yes, the blue one please." in body and "Which colour" not in body.split('class="msg-body"')[-1]
    assert "Show quoted text" in folded and "&gt; Which colour would you like?" in folded
