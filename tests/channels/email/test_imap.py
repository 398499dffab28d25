"""IMAP polling against a real Dovecot on loopback: filing, marks after commit, IDLE, isolation, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from cartdesk.channels.email.imap import FILED, MailboxPoller, PollerConfig
from cartdesk.channels.email.models import Mailbox, Quarantine
from cartdesk.conversations.models import Message
from cartdesk.db.engine import Database
from cartdesk.kit.storage import LocalStore
from tests.channels.email.servers import Dovecot
from tests.factories.email import SECRET, make_mail, make_mailbox


def _mailbox(db: Database, dovecot: Dovecot, **kw: Any) -> tuple[int, str]:
    user = dovecot.add_user()
    with db.transaction() as session:
        mailbox = make_mailbox(session, address=user, imap_host="127.0.0.1", imap_port=dovecot.port,
                               imap_security="none", imap_username=user, imap_password="secret", **kw)
        return mailbox.id, user


def _client(dovecot: Dovecot, user: str) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10)
    client.login(user, "secret")
    return client


def _deliver(dovecot: Dovecot, user: str, mails: list[bytes], folder: str = "INBOX") -> None:
    client = _client(dovecot, user)
    for raw in mails:
        client.append(folder, raw)
    client.logout()


def _stored(db: Database, **where: Any) -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(Message).where(Message.channel == "email")) or 0


def _config(tmp_path: Path, **kw: Any) -> PollerConfig:
    return PollerConfig(secret_key=SECRET, store=LocalStore(tmp_path / "att"), **kw)


def test_poll_files_each_message_once_and_marks_it_after_commit(
    fresh_db: Database, dovecot: Dovecot, tmp_path: Path
) -> None:
    mailbox_id, user = _mailbox(fresh_db, dovecot)
    _deliver(dovecot, user, [make_mail(to=user, subject=f"question {n}") for n in range(3)]
             + [b"this is not an email at all \x00\xff"])
    poller = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path))
    try:
        assert poller.run_once() == 4
        assert poller.run_once() == 0  # all marked: nothing is fetched again
    finally:
        poller.close()
    assert _stored(fresh_db) == 3
    with fresh_db.transaction(read_only=True) as session:
        [bad] = session.scalars(select(Quarantine).where(Quarantine.mailbox_id == mailbox_id)).all()
        assert bad.reason == "unparseable" and bad.source == "imap" and b"not an email" in bad.raw
    client = _client(dovecot, user)
    client.select_folder("INBOX")
    flags = client.get_flags(client.search(["ALL"]))
    assert len(flags) == 4 and all(FILED in f and b"\\Seen" in f for f in flags.values())
    client.logout()


def test_message_unmarked_after_a_crash_is_refetched_but_stored_once(
    fresh_db: Database, dovecot: Dovecot, tmp_path: Path
) -> None:
    mailbox_id, user = _mailbox(fresh_db, dovecot)
    _deliver(dovecot, user, [make_mail(to=user, message_id="only@c.example")])
    poller = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path))
    poller.run_once()
    poller.close()
    client = _client(dovecot, user)  # as if we had died between the commit and the mark
    client.select_folder("INBOX")
    client.remove_flags(client.search(["ALL"]), [FILED, b"\\Seen"])
    client.logout()
    again = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path))
    assert again.run_once() == 1
    again.close()
    assert _stored(fresh_db) == 1


def test_filed_messages_move_to_the_done_folder(fresh_db: Database, dovecot: Dovecot, tmp_path: Path) -> None:
    mailbox_id, user = _mailbox(fresh_db, dovecot, imap_done_folder="Filed")
    client = _client(dovecot, user)
    client.create_folder("Filed")
    client.logout()
    _deliver(dovecot, user, [make_mail(to=user), make_mail(to=user)])
    poller = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path))
    assert poller.run_once() == 2
    poller.close()
    client = _client(dovecot, user)
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    assert client.select_folder("Filed")[b"EXISTS"] == 2
    client.logout()


def test_idle_brings_new_mail_in_within_seconds_and_a_broken_mailbox_does_not_delay_it(
    fresh_db: Database, dovecot: Dovecot, tmp_path: Path
) -> None:
    good_id, user = _mailbox(fresh_db, dovecot)
    broken_id, _ = _mailbox(fresh_db, dovecot)
    with fresh_db.transaction() as session:
        session.get_one(Mailbox, broken_id).imap_username = "nobody-here@shop.example"  # login fails
    stop = threading.Event()
    config = _config(tmp_path, poll_interval=300.0, idle_timeout=20.0)
    threads = [threading.Thread(target=MailboxPoller(fresh_db, mailbox_id=i, config=config).run, args=(stop,),
                                daemon=True) for i in (broken_id, good_id)]
    for t in threads:
        t.start()
    try:
        _wait(lambda: _idle_supported(fresh_db, good_id), 10)  # the good poller is in IDLE now
        sent = time.monotonic()
        _deliver(dovecot, user, [make_mail(to=user, subject="idle test")])
        _wait(lambda: _stored(fresh_db) == 1, 5)  # poll_interval is 300 s: only IDLE can do this
        assert time.monotonic() - sent < 5
        # Dovecot answers failed logins after a delay; the error lands on the broken mailbox.
        _wait(lambda: _last_error(fresh_db, broken_id) is not None, 10)
        assert "AUTHENTICATIONFAILED" in (_last_error(fresh_db, broken_id) or "")
        assert _last_error(fresh_db, good_id) is None
    finally:
        stop.set()
        for t in threads:
            t.join(30)


def _last_error(db: Database, mailbox_id: int) -> str | None:
    with db.transaction(read_only=True) as session:
        return session.get_one(Mailbox, mailbox_id).last_error


def _idle_supported(db: Database, mailbox_id: int) -> bool:
    with db.transaction(read_only=True) as session:
        return bool(session.get_one(Mailbox, mailbox_id).idle_supported)


def _wait(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        time.sleep(0.05)


def test_killing_the_poller_mid_batch_loses_and_duplicates_nothing(
    fresh_db: Database, dovecot: Dovecot, tmp_path: Path
) -> None:
    mailbox_id, user = _mailbox(fresh_db, dovecot)
    total = 80
    _deliver(dovecot, user, [make_mail(to=user, subject=f"crash {n}", message_id=f"crash-{n}@c.example",
                                       sender=f"c{n}@c.example") for n in range(total)])
    env = {**os.environ, "CARTDESK_DATABASE_URL": fresh_db.url, "CARTDESK_SECRET_KEY": SECRET,  # type: ignore[attr-defined]
           "CARTDESK_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "cartdesk.cli.main", "email", "poll", "--mailbox", str(mailbox_id),
                             "--once"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait(lambda: _stored(fresh_db) >= 5, 60)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    at_kill = _stored(fresh_db)
    assert 0 < at_kill < total, f"the kill did not land mid-batch ({at_kill} of {total} stored)"

    restarted = subprocess.run([sys.executable, "-m", "cartdesk.cli.main", "email", "poll", "--mailbox",
                                str(mailbox_id), "--once"], env=env, capture_output=True, timeout=120)
    assert restarted.returncode == 0, restarted.stderr.decode()
    with fresh_db.transaction(read_only=True) as session:
        ids = session.scalars(select(Message.external_id).where(Message.channel == "email")).all()
    assert sorted(ids) == sorted(f"crash-{n}@c.example" for n in range(total))  # each once, none missing
    client = _client(dovecot, user)
    client.select_folder("INBOX")
    assert client.search(["NOT", "KEYWORD", FILED.decode()]) == []
    client.logout()


def test_the_job_runner_starts_a_poller_per_mailbox(fresh_db: Database, dovecot: Dovecot, tmp_path: Path) -> None:
    from cartdesk.config import Settings
    from cartdesk.jobs.runner import JobRunner

    mailbox_id, user = _mailbox(fresh_db, dovecot)
    _deliver(dovecot, user, [make_mail(to=user, message_id="runner-1@c.example")])
    settings = Settings(database_url="sqlite:///unused", data_dir=tmp_path, secret_key=SECRET,
                        email_imap_poll_interval=300.0)
    runner = JobRunner(fresh_db, settings=settings, worker_id="email-runner")
    runner.start()
    try:
        _wait(lambda: _stored(fresh_db) == 1, 15)  # the supervisor's first pass starts the poller
        _deliver(dovecot, user, [make_mail(to=user, message_id="runner-2@c.example")])
        _wait(lambda: _stored(fresh_db) == 2, 10)  # and IDLE brings the next one
    finally:
        runner.stop(timeout=30)
    off = JobRunner(fresh_db, settings=settings.model_copy(update={"email_imap_polling": False}), worker_id="off")
    off.start()
    try:
        _deliver(dovecot, user, [make_mail(to=user, message_id="runner-3@c.example")])
        time.sleep(2)
        assert _stored(fresh_db) == 2  # polling switched off: nobody fetched it
    finally:
        off.stop(timeout=30)


def test_history_from_before_the_mailbox_was_added_is_left_alone(
    fresh_db: Database, dovecot: Dovecot, tmp_path: Path
) -> None:
    from datetime import timedelta

    from cartdesk.kit.clock import utcnow

    mailbox_id, user = _mailbox(fresh_db, dovecot)
    client = _client(dovecot, user)
    client.append("INBOX", make_mail(to=user, message_id="old@c.example"), msg_time=utcnow() - timedelta(days=30))
    client.append("INBOX", make_mail(to=user, message_id="new@c.example"))
    client.logout()
    poller = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path))
    assert poller.run_once() == 1
    poller.close()
    with fresh_db.transaction(read_only=True) as session:
        assert session.scalars(select(Message.external_id)).all() == ["new@c.example"]


def test_a_mailbox_added_through_the_api_is_polled_at_once(fresh_db: Database, dovecot: Dovecot, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from cartdesk.app import create_app
    from cartdesk.auth.models import Role
    from cartdesk.config import Settings
    from tests.factories.auth import auth_header, make_token, make_user
    from tests.factories.conversations import make_brand

    with fresh_db.transaction() as session:
        token = make_token(session, user=make_user(session, role=Role.admin))
        brand_id = make_brand(session).id
    user = dovecot.add_user()
    _deliver(dovecot, user, [make_mail(to=user, message_id="api-added@c.example")])
    settings = Settings(database_url="sqlite:///unused", data_dir=tmp_path, secret_key=SECRET,
                        run_jobs_in_process=True)
    with TestClient(create_app(settings, database=fresh_db)) as client:
        created = client.post("/api/v1/channels/email/mailboxes", headers=auth_header(token), json={
            "brand": brand_id, "name": "API", "address": user, "imap_host": "127.0.0.1", "imap_port": dovecot.port,
            "imap_security": "none", "imap_username": user, "imap_password": "secret"})
        assert created.status_code == 201, created.text
        _wait(lambda: _stored(fresh_db) == 1, 10)  # well before the supervisor's 30 s refresh


def test_a_hanging_server_does_not_delay_another_mailbox(fresh_db: Database, dovecot: Dovecot, tmp_path: Path) -> None:
    import socket

    silent = socket.socket()  # accepts connections (in the kernel backlog) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        good_id, user = _mailbox(fresh_db, dovecot)
        hanging_id, _ = _mailbox(fresh_db, dovecot)
        with fresh_db.transaction() as session:
            session.get_one(Mailbox, hanging_id).imap_port = silent.getsockname()[1]
        stop = threading.Event()
        config = _config(tmp_path, poll_interval=300.0)
        threads = [threading.Thread(target=MailboxPoller(fresh_db, mailbox_id=i, config=config).run, args=(stop,),
                                    daemon=True) for i in (hanging_id, good_id)]
        for t in threads:
            t.start()
        _wait(lambda: _idle_supported(fresh_db, good_id), 10)
        _deliver(dovecot, user, [make_mail(to=user, subject="while the other hangs")])
        _wait(lambda: _stored(fresh_db) == 1, 5)
        assert threads[0].is_alive()  # the hanging one is still waiting for its greeting, alone
        stop.set()
        threads[1].join(30)
    finally:
        silent.close()


# --- a plainer server: no IDLE, no MOVE/UIDPLUS, no keywords (servers.BASIC_IMAP) ----------

def _spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Record the poller's IMAP calls, and fail on IDLE and MOVE: Dovecot would accept them
    though it does not announce them, so only this shows the poller never sends them."""
    calls: list[tuple[str, Any]] = []

    def forbidden(name: str) -> Any:
        def call(self: IMAPClient, *args: Any, **kw: Any) -> Any:
            calls.append((name, args))
            raise AssertionError(f"{name} sent to a server that does not offer it")
        return call

    def recorded(name: str) -> Any:
        original = getattr(IMAPClient, name)

        def call(self: IMAPClient, *args: Any, **kw: Any) -> Any:
            calls.append((name, args))
            return original(self, *args, **kw)
        return call

    for name in ("idle", "move"):
        monkeypatch.setattr(IMAPClient, name, forbidden(name))
    for name in ("search", "add_flags", "copy", "expunge"):
        monkeypatch.setattr(IMAPClient, name, recorded(name))
    return calls


def test_without_idle_the_poller_polls_every_interval_and_marks_with_seen(
    fresh_db: Database, dovecot_basic: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox_id, user = _mailbox(fresh_db, dovecot_basic)
    _deliver(dovecot_basic, user, [make_mail(to=user, message_id="before@c.example")])
    calls = _spy(monkeypatch)
    stop = threading.Event()
    # idle_timeout is long: if the poller wrongly sat in IDLE, the second mail would wait 60 s.
    poller = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path, poll_interval=0.5,
                                                                            idle_timeout=60.0))
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait(lambda: _stored(fresh_db) == 1, 10)
        assert not _idle_supported(fresh_db, mailbox_id)  # recorded: the health page says "polling"
        _deliver(dovecot_basic, user, [make_mail(to=user, message_id="after@c.example")])
        _wait(lambda: _stored(fresh_db) == 2, 5)  # picked up by the next poll, not by IDLE
        assert poller._marker == b"\\Seen"  # the server refuses keywords (PERMANENTFLAGS)
    finally:
        stop.set()
        thread.join(30)
    names = {name for name, _ in calls}
    assert "idle" not in names and ("add_flags", ([1], [b"\\Seen"])) in calls
    # The first look takes the folder as it is; after that the poller resumes after the last UID it filed.
    searches = [args[0] for name, args in calls if name == "search"]
    assert searches[0][0] == "ALL" and all(s[:2] == ["UID", "2:*"] for s in searches[1:2])
    with fresh_db.transaction(read_only=True) as session:
        assert session.get_one(Mailbox, mailbox_id).imap_last_uid == 2
    assert _last_error(fresh_db, mailbox_id) is None
    client = _client(dovecot_basic, user)
    client.select_folder("INBOX")
    flags = client.get_flags(client.search(["ALL"]))
    assert len(flags) == 2 and all(b"\\Seen" in f and FILED not in f for f in flags.values())
    client.logout()


def test_without_keywords_mail_a_person_already_read_is_still_filed(
    fresh_db: Database, dovecot_basic: Dovecot, tmp_path: Path
) -> None:
    mailbox_id, user = _mailbox(fresh_db, dovecot_basic)
    poller = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path))
    assert poller.run_once() == 0
    _deliver(dovecot_basic, user, [make_mail(to=user, message_id=f"read-{n}@c.example") for n in range(2)])
    client = _client(dovecot_basic, user)  # someone opens the shared mailbox in webmail first
    client.select_folder("INBOX")
    client.add_flags(client.search(["ALL"]), [b"\\Seen"])
    client.logout()
    assert poller.run_once() == 2  # \Seen is not what the poller goes by: the UID position is
    assert poller.run_once() == 0
    poller.close()
    assert _stored(fresh_db) == 2


def test_without_keywords_a_crash_before_the_position_was_saved_refetches_but_stores_once(
    fresh_db: Database, dovecot_basic: Dovecot, tmp_path: Path
) -> None:
    mailbox_id, user = _mailbox(fresh_db, dovecot_basic)
    _deliver(dovecot_basic, user, [make_mail(to=user, message_id="seen-only@c.example")])
    poller = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path))
    assert poller.run_once() == 1
    assert poller.run_once() == 0  # resumes after the saved UID: nothing new
    poller.close()
    with fresh_db.transaction() as session:  # as if we had died between the commit and saving the position
        session.get_one(Mailbox, mailbox_id).imap_last_uid = None
    again = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path))
    assert again.run_once() == 1  # fetched again after the restart ...
    again.close()
    assert _stored(fresh_db) == 1  # ... and the Message-ID dedupe keeps it once


def test_without_move_or_uidplus_filed_messages_are_copied_and_expunged(
    fresh_db: Database, dovecot_basic: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox_id, user = _mailbox(fresh_db, dovecot_basic, imap_done_folder="Filed")
    client = _client(dovecot_basic, user)
    assert not client.has_capability("MOVE") and not client.has_capability("UIDPLUS")
    client.create_folder("Filed")
    client.logout()
    _deliver(dovecot_basic, user, [make_mail(to=user, subject=f"m{n}") for n in range(3)])
    calls = _spy(monkeypatch)
    poller = MailboxPoller(fresh_db, mailbox_id=mailbox_id, config=_config(tmp_path))
    assert poller.run_once() == 3
    assert poller.run_once() == 0
    poller.close()
    assert _stored(fresh_db) == 3
    client = _client(dovecot_basic, user)
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    assert client.select_folder("Filed")[b"EXISTS"] == 3
    client.logout()
    assert [name for name, _ in calls].count("copy") == 3
    # Without UIDPLUS a plain EXPUNGE, never the UID EXPUNGE the server would refuse.
    assert [args for name, args in calls if name == "expunge"] == [(), (), ()]
