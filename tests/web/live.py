"""A real Cartdesk server for browser tests: uvicorn in a thread, on a free port,
with its own SQLite file, migrated and seeded through the real services."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn

from cartdesk.app import create_app
from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import TeamCreate, UserCreate
from cartdesk.brands import service as brands_service
from cartdesk.config import Settings
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.schemas import ConversationCreate, ConversationUpdate, MessageCreate
from cartdesk.db.engine import Database, create_database
from cartdesk.db.migrate import upgrade
from cartdesk.events.schemas import SYSTEM

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSWORD = "browser-test-pass"


def require_chromium() -> None:
    """In CI a missing browser is a failure; on a laptop without one the browser tests skip."""
    if CHROMIUM.exists():
        return
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing: CI must install Debian chromium for the browser tests")
    pytest.skip(f"{CHROMIUM} not installed")


@dataclass
class Store:
    """What the seed created, for tests to find their way."""

    agents: dict[str, str] = field(default_factory=dict)  # name → email
    conversations: dict[str, int] = field(default_factory=dict)  # key → id
    numbers: dict[str, int] = field(default_factory=dict)  # key → number


THREADS = {
    # key: (customer name, email, channel, subject, first message)
    "late": ("Hannah Kim", "hannah@example.org", "chat", "Order LL-50828 still not here",
             "The tracking page still says 'label created'. I need it before a trip next weekend."),
    "size": ("Imogen Shaw", "imogen@example.org", "email", "Exchange for a different size",
             "The tent is lovely but the size M is too small. Can I exchange it for an L?"),
    "promo": ("Pablo Ortega", "pablo@example.org", "email", "Promo code problem",
              "WELCOME10 from your newsletter says it's not valid at checkout."),
    "zip": ("Olivia Brooks", "olivia@example.org", "whatsapp", "Broken zip after a few months",
            "The zip on my rain shell broke. Is that covered by the warranty?"),
    "refund": ("Carlos Mendes", "carlos@example.org", "email", "Refund for return on order NW-96983",
               "It went back with USPS last week, tracking 9400796403."),
    "restock": ("Elena Popescu", "elena@example.org", "chat", "Restock date for size M?",
                "The notification came but by the time I clicked, size M was gone again."),
}


def seed(db: Database) -> Store:
    store = Store()
    with db.transaction() as session:
        brand = brands_service.create(session, slug="northwind", name="Northwind Outfitters")
        team = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Front line"))
        for name, email in (("Maria Lopez", "maria@example.com"), ("Tom Becker", "tom@example.com")):
            auth_service.create_user(session, actor=SYSTEM, user_in=UserCreate(
                email=email, name=name, role=Role.agent, password=PASSWORD, team_ids=[team.id]))
            store.agents[name] = email
        tom = auth_service.get_by_email(session, email="tom@example.com")
        assert tom is not None
        for key, (name, email, channel, subject, body) in THREADS.items():
            conversation = conversations_service.create(session, actor=SYSTEM, conversation_in=ConversationCreate(
                customer={"name": name, "email": email}, subject=subject, message={"body": body},
                channel=channel, brand=brand.id, tags=["shipping"] if key == "late" else [],
            ))
            store.conversations[key] = conversation.id
            store.numbers[key] = conversation.number
        late = conversations_service.get_or_raise(session, conversation_id=store.conversations["late"])
        tom_principal = auth_service.principal_for(tom)
        conversations_service.add_message(session, principal=tom_principal, conversation=late, message_in=MessageCreate(
            body="LL-50828 left our warehouse two days ago with PostNL; I've asked them for an update."))
        conversations_service.add_message(session, principal=tom_principal, conversation=late, message_in=MessageCreate(
            kind="note", body="PostNL says it missed its arrival scan at the hub."))
        conversations_service.update(session, principal=tom_principal, conversation=late,
                                     update_in=ConversationUpdate(priority="high"))
    return store


@dataclass
class LiveServer:
    url: str
    db: Database
    store: Store


@contextmanager
def chromium() -> Iterator:  # type: ignore[type-arg]
    """Debian's Chromium driven by Playwright, closed on exit (one launch per test module)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def live_server(tmp: Path, *, seeder=seed, **overrides) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """Serve the app until the block ends. The socket is bound first, so the port is ours.
    ``overrides`` are Settings fields (e.g. run_jobs_in_process=True)."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'live.db'}", data_dir=tmp, secret_key="browser-tests-secret-key-0123456789",
        base_url=url, **{"run_jobs_in_process": False, **overrides},
    )
    db = create_database(settings.database_url)
    upgrade(db.engine)
    store = seeder(db)
    app = create_app(settings, database=db)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        ready = threading.Event()
        for _ in range(200):  # up to ten seconds to start
            if server.started:
                ready.set()
                break
            ready.wait(0.05)
        assert ready.is_set(), "the live server did not start"
        yield LiveServer(url=url, db=db, store=store)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
