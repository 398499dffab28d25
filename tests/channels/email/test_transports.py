"""Inbound over HTTP (the webhook) and SMTP (aiosmtpd receiver on loopback); the admin API."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.channels.email.ingest import Limits
from cartdesk.channels.email.models import Mailbox
from cartdesk.channels.email.smtp_server import SmtpReceiver
from cartdesk.conversations.models import Conversation, Message
from cartdesk.db.engine import Database
from cartdesk.kit.storage import LocalStore
from tests.api.conftest import caller
from tests.channels.email.conftest import SmtpSink, free_port
from tests.channels.email.servers import Dovecot
from tests.factories.conversations import make_brand
from tests.factories.email import make_mail, make_mailbox


def _conversation_of(session: Session, message_id: str) -> Conversation | None:
    session.expire_all()
    message = session.scalar(select(Message).where(Message.external_id == message_id))
    return session.get(Conversation, message.conversation_id) if message else None


def test_webhook_takes_raw_mime_in_each_provider_shape(session: Session, client: Any) -> None:
    mailbox = make_mailbox(session)
    session.commit()
    url = f"/api/v1/channels/email/inbound/{mailbox.inbound_secret}"
    raw = make_mail(to=mailbox.address, message_id="hook-1@c.example")
    first = client.post(url, content=raw, headers={"Content-Type": "message/rfc822"})
    assert first.status_code == 200 and first.json()["outcome"] == "created"
    again = client.post(url, content=raw, headers={"Content-Type": "message/rfc822"})
    assert again.json()["outcome"] == "duplicate"
    form = client.post(url, data={"body-mime": make_mail(to=mailbox.address, message_id="hook-2@c.example", subject="Second question").decode()})
    assert form.json()["outcome"] == "created"
    as_json = client.post(url, json={"RawEmail": base64.b64encode(make_mail(message_id="hook-3@c.example", subject="Third question")).decode()})
    assert as_json.json()["outcome"] == "created"
    for mid in ("hook-1@c.example", "hook-2@c.example", "hook-3@c.example"):
        conversation = _conversation_of(session, mid)
        assert conversation is not None and conversation.brand_id == mailbox.brand_id
    assert client.post("/api/v1/channels/email/inbound/wrong", content=raw).status_code == 404
    empty = client.post(url, content=b"", headers={"Content-Type": "message/rfc822"})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "validation_error"


def test_admin_api_manages_mailboxes_and_never_shows_passwords(session: Session, client: Any) -> None:
    admin = caller(session, role=Role.admin)
    agent = caller(session)
    brand = make_brand(session)
    session.commit()
    body = {"brand": brand.id, "address": "help@store.example", "name": "Help", "imap_host": "imap.store.example",
            "imap_username": "help", "imap_password": "hunter2", "smtp_host": "smtp.store.example"}
    assert client.post("/api/v1/channels/email/mailboxes", json=body, headers=agent.headers).status_code == 403
    created = client.post("/api/v1/channels/email/mailboxes", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    data = created.json()
    assert "hunter2" not in created.text and "imap_password" not in data
    stored = session.get_one(Mailbox, data["id"])
    assert stored.imap_password_enc and "hunter2" not in stored.imap_password_enc
    clash = client.post("/api/v1/channels/email/mailboxes", json=body, headers=admin.headers)
    assert clash.status_code == 409
    changed = client.patch(f"/api/v1/channels/email/mailboxes/{data['id']}", json={"thread_by_subject": False},
                           headers=admin.headers)
    assert changed.status_code == 200 and changed.json()["thread_by_subject"] is False
    bad = client.patch(f"/api/v1/channels/email/mailboxes/{data['id']}", json={"imap_port": 0}, headers=admin.headers)
    assert bad.status_code == 422


def test_test_connection_logs_in_to_real_servers(
    session: Session, client: Any, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    admin = caller(session, role=Role.admin)
    user = dovecot.add_user()
    good = make_mailbox(session, address=user, imap_host="127.0.0.1", imap_port=dovecot.port, imap_security="none",
                        imap_username=user, imap_password="secret", smtp_host="127.0.0.1", smtp_port=smtp_sink.port,
                        smtp_security="none")
    bad = make_mailbox(session, imap_host="127.0.0.1", imap_port=dovecot.port, imap_security="none",
                       imap_username=user, imap_password="wrong", smtp_host="127.0.0.1", smtp_port=free_port(),
                       smtp_security="none")
    session.commit()
    ok = client.post(f"/api/v1/channels/email/mailboxes/{good.id}/test", headers=admin.headers).json()
    assert ok["imap"]["ok"] is True and "IDLE supported" in ok["imap"]["detail"]
    assert ok["smtp"]["ok"] is True
    failed = client.post(f"/api/v1/channels/email/mailboxes/{bad.id}/test", headers=admin.headers).json()
    assert failed["imap"]["ok"] is False and "AUTHENTICATIONFAILED" in failed["imap"]["detail"]
    assert failed["smtp"]["ok"] is False and "Connection refused" in failed["smtp"]["detail"]


@pytest.fixture
def receiver(fresh_db: Database, tmp_path: Any) -> Iterator[SmtpReceiver]:
    service = SmtpReceiver(fresh_db, host="127.0.0.1", port=free_port(), store=LocalStore(tmp_path / "a"),
                           limits=Limits(max_message_bytes=200_000))
    service.start()
    try:
        yield service
    finally:
        service.stop()


def test_smtp_receiver_files_forwarded_mail_and_refuses_unknown_recipients(
    fresh_db: Database, receiver: SmtpReceiver
) -> None:
    with fresh_db.transaction() as session:
        mailbox = make_mailbox(session, inbound_address="shop-7@in.cartdesk.example")
        mailbox_id, brand_id = mailbox.id, mailbox.brand_id
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as smtp:
        refused = smtp.sendmail("a@customer.example", ["nobody@in.cartdesk.example", "shop-7@in.cartdesk.example"],
                                make_mail(to="support@shop.example", message_id="fwd-1@c.example"))
        assert "nobody@in.cartdesk.example" in refused  # the known recipient got it
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("a@customer.example", ["nobody@in.cartdesk.example"], make_mail())
        with pytest.raises(smtplib.SMTPSenderRefused):  # over data_size_limit
            smtp.sendmail("a@customer.example", ["shop-7@in.cartdesk.example"], make_mail(body="x" * 300_000))
    with fresh_db.transaction(read_only=True) as session:
        message = session.scalar(select(Message).where(Message.external_id == "fwd-1@c.example"))
        assert message is not None
        conversation = session.get_one(Conversation, message.conversation_id)
        assert conversation.brand_id == brand_id and message.meta["email"]["mailbox_id"] == mailbox_id


def test_smtp_receiver_remembers_known_recipients_but_never_unknown_ones(
    fresh_db: Database, receiver: SmtpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_db.transaction() as session:
        make_mailbox(session, inbound_address="shop-8@in.cartdesk.example")
    asked: list[str] = []
    real_known = receiver.handler._known
    monkeypatch.setattr(receiver.handler, "_known", lambda a: (asked.append(a), real_known(a))[1])
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as smtp:
        for n in range(3):
            smtp.sendmail("a@customer.example", ["shop-8@in.cartdesk.example"],
                          make_mail(to="shop-8@in.cartdesk.example", message_id=f"known-{n}@c.example"))
        for _ in range(2):
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.sendmail("a@customer.example", ["later@in.cartdesk.example"], make_mail())
        # A mailbox added now is found at once: the refusal above was not remembered.
        with fresh_db.transaction() as session:
            make_mailbox(session, inbound_address="later@in.cartdesk.example")
        smtp.sendmail("a@customer.example", ["later@in.cartdesk.example"],
                      make_mail(to="later@in.cartdesk.example", message_id="later-1@c.example"))
    assert asked == ["shop-8@in.cartdesk.example"] + ["later@in.cartdesk.example"] * 3
    with fresh_db.transaction(read_only=True) as session:
        stored = session.scalars(select(Message.external_id).where(Message.channel == "email")).all()
    assert {"known-0@c.example", "known-1@c.example", "known-2@c.example", "later-1@c.example"} <= set(stored)


def test_admin_releases_a_quarantined_mail_into_its_conversation(session: Session, client: Any, tmp_path: Any) -> None:
    from cartdesk.channels.email import ingest as ingest_module
    from cartdesk.channels.email.models import Quarantine

    admin = caller(session, role=Role.admin)
    mailbox = make_mailbox(session, max_per_sender_per_hour=1)
    store = LocalStore(tmp_path)
    first = ingest_module.ingest(session, raw=make_mail(to=mailbox.address, subject="Refund?"), source="imap",
                                 store=store, mailbox=mailbox)
    held = ingest_module.ingest(session, raw=make_mail(to=mailbox.address, subject="Re: Refund?", body="Hello again",
                                                       message_id="held@c.example"), source="imap", store=store,
                                mailbox=mailbox)
    assert held.reason == "rate_limited"
    garbage = ingest_module.ingest(session, raw=b"no headers at all", source="smtp", store=store, mailbox=mailbox)
    session.commit()

    released = client.post(f"/api/v1/channels/email/quarantine/{held.quarantine_id}/release", headers=admin.headers)
    assert released.status_code == 200, released.text
    assert released.json()["conversation_id"] == first.conversation_id
    session.expire_all()
    assert session.get(Quarantine, held.quarantine_id) is None
    assert _conversation_of(session, "held@c.example").id == first.conversation_id  # type: ignore[union-attr]
    again = client.post(f"/api/v1/channels/email/quarantine/{garbage.quarantine_id}/release", headers=admin.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert session.get(Quarantine, garbage.quarantine_id) is not None  # still there, untouched


ENVELOPE_ADDRESSES = [
    "<a@customer.example>", "<Jane.Doe+orders@Shop-1.example.co.uk>", "<a@b.example> SIZE=1200 BODY=8BITMIME",
    "  <spaced@customer.example>", "<o'neil@customer.example>", "<x!#$%&'*+/=?^_`{|}~-y@host.example>",
    "<>", "<\"quoted local\"@customer.example>", "<@relay.example:a@customer.example>", "<a..b@customer.example>",
    "<.a@customer.example>", "<a.@customer.example>", "<a@-host.example>", "<a@host-.example>", "<a@[127.0.0.1]>",
    "a@customer.example", "<a@customer.example", "<a(comment)@customer.example>", "<a@customer.example>x", "<a@b.example>\t (note) SIZE=1", "<a@b.example>   SIZE=1",
    "<" + "l" * 70 + "@customer.example>", "<a@b>", "<a@b.>", "<ü@customer.example>", "",
]


@pytest.mark.parametrize("arg", ENVELOPE_ADDRESSES)
def test_the_fast_envelope_address_parser_agrees_with_aiosmtpd(arg: str) -> None:
    from aiosmtpd.smtp import SMTP

    from cartdesk.channels.email.smtp_server import _Smtp

    class Handler:
        pass

    fast, full = _Smtp(Handler()), SMTP(Handler())
    assert fast._getaddr(arg) == full._getaddr(arg)


def test_smtp_receiver_takes_envelope_addresses_in_every_form(fresh_db: Database, receiver: SmtpReceiver) -> None:
    with fresh_db.transaction() as session:
        make_mailbox(session, inbound_address="shop-9@in.cartdesk.example")
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as smtp:
        smtp.ehlo()
        for n, sender in enumerate(["<plain@customer.example>", "<\"odd name\"@customer.example>", "<>"]):
            assert smtp.docmd("MAIL FROM:" + sender)[0] == 250
            assert smtp.docmd("RCPT TO:<shop-9@in.cartdesk.example>")[0] == 250
            assert smtp.data(make_mail(to="shop-9@in.cartdesk.example", message_id=f"env-{n}@c.example"))[0] == 250
        assert smtp.docmd("MAIL FROM:<a@customer.example>")[0] == 250
        assert smtp.docmd("RCPT TO:<nobody(here)@in.cartdesk.example>")[0] == 550
        assert smtp.docmd("RCPT TO:<a@b@c>")[0] == 553
    with fresh_db.transaction(read_only=True) as session:
        stored = set(session.scalars(select(Message.external_id).where(Message.channel == "email")).all())
    assert {"env-0@c.example", "env-1@c.example", "env-2@c.example"} <= stored
