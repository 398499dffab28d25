"""Filing inbound mail: new conversations, dedupe, threading order, attachments, quarantine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.channels.email import ingest
from cartdesk.channels.email.ingest import Limits
from cartdesk.channels.email.models import EmailThread, Mailbox, Quarantine
from cartdesk.conversations.models import Attachment, Conversation, Message, Status
from cartdesk.db.engine import Database
from cartdesk.kit.storage import LocalStore
from tests.factories.email import make_mail, make_mailbox


def _file(session: Session, store: LocalStore, mailbox: Mailbox, raw: bytes, **kw: object) -> ingest.IngestResult:
    return ingest.ingest(session, raw=raw, source="test", store=store, mailbox=mailbox, **kw)  # type: ignore[arg-type]


def _messages(session: Session, conversation_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)))


def test_new_mail_opens_a_conversation_and_is_stored_once(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session)
    raw = make_mail(to=mailbox.address, subject="Order #4411 missing", message_id="first@c.example",
                    body="Hi,\n\nmy order #4411 never came.\n\nOn Mon, Jan 1, 2026 at 9:00 AM Shop <s@x.example> wrote:\n> old")
    result = _file(session, store, mailbox, raw)
    assert result.outcome == "created"
    conversation = session.get_one(Conversation, result.conversation_id)
    assert conversation.channel == "email" and conversation.brand_id == mailbox.brand_id
    assert conversation.subject == "Order #4411 missing"
    assert conversation.customer.email == "alice@customer.example"
    [message] = _messages(session, conversation.id)
    assert message.external_id == "first@c.example"
    assert message.body_text == "Hi,\n\nmy order #4411 never came."  # the quote is folded away
    assert "> old" in message.meta["original_text"]  # and kept
    assert store.exists(message.meta["email"]["raw_key"])
    thread = session.get_one(EmailThread, conversation.id)
    assert thread.mailbox_id == mailbox.id and thread.order_numbers == ["4411"] and len(thread.reply_token) == 16

    again = _file(session, store, mailbox, raw)
    assert again.outcome == "duplicate" and again.message_id == message.id
    assert len(_messages(session, conversation.id)) == 1


def _start(session: Session, store: LocalStore, mailbox: Mailbox, **kw: object) -> tuple[Conversation, EmailThread]:
    result = _file(session, store, mailbox, make_mail(to=mailbox.address, **kw))  # type: ignore[arg-type]
    conversation = session.get_one(Conversation, result.conversation_id)
    return conversation, session.get_one(EmailThread, conversation.id)


def test_reply_token_threads_even_with_a_new_subject_and_no_headers(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session, thread_by_subject=False)
    conversation, thread = _start(session, store, mailbox)
    token_address = f"{mailbox.local_part}+{thread.reply_token}@{mailbox.domain}"
    result = _file(session, store, mailbox, make_mail(to=token_address, subject="something else entirely",
                                                      body="Any news?"))
    assert (result.outcome, result.conversation_id) == ("appended", conversation.id)
    assert _messages(session, conversation.id)[-1].meta["email"]["threaded_by"] == "reply_token"


def test_in_reply_to_and_references_thread_against_every_known_message_id(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session, thread_by_subject=False)
    conversation, _ = _start(session, store, mailbox, message_id="orig@c.example")
    by_irt = _file(session, store, mailbox, make_mail(to=mailbox.address, subject="new", in_reply_to="orig@c.example"))
    assert by_irt.conversation_id == conversation.id
    by_refs = _file(session, store, mailbox, make_mail(to=mailbox.address, subject="other",
                                                       references=["unknown@z", "orig@c.example"]))
    assert by_refs.conversation_id == conversation.id
    unrelated = _file(session, store, mailbox, make_mail(to=mailbox.address, subject="other",
                                                         references=["unknown@z"]))
    assert unrelated.outcome == "created" and unrelated.conversation_id != conversation.id


def test_same_customer_citing_the_same_order_within_the_window(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session, thread_by_subject=False, order_window_days=7)
    conversation, _ = _start(session, store, mailbox, subject="Order 10023 late", body="Where is order 10023?")
    same = _file(session, store, mailbox, make_mail(to=mailbox.address, subject="Still waiting",
                                                    body="About my order #10023, any update?"))
    assert same.conversation_id == conversation.id
    other_order = _file(session, store, mailbox, make_mail(to=mailbox.address, subject="Still waiting",
                                                           body="About order #20077"))
    assert other_order.conversation_id != conversation.id
    stranger = _file(session, store, mailbox, make_mail(sender="bob@else.example", to=mailbox.address,
                                                        subject="x", body="order #10023"))
    assert stranger.conversation_id != conversation.id
    conversation.last_activity_at -= timedelta(days=8)  # outside the window
    session.flush()
    late = _file(session, store, mailbox, make_mail(to=mailbox.address, subject="x", body="order #10023?"))
    assert late.conversation_id != conversation.id


def test_subject_matching_is_a_switchable_last_resort(session: Session, store: LocalStore) -> None:
    on = make_mailbox(session, thread_by_subject=True)
    conversation, _ = _start(session, store, on, subject="Broken zipper on my jacket")
    reply = _file(session, store, on, make_mail(to=on.address, subject="RE: Broken zipper on my jacket", body="Photo?"))
    assert reply.conversation_id == conversation.id
    off = make_mailbox(session, thread_by_subject=False)
    first, _ = _start(session, store, off, sender="carl@c.example", subject="Broken zipper")
    second = _file(session, store, off, make_mail(sender="carl@c.example", to=off.address, subject="Re: Broken zipper"))
    assert second.conversation_id != first.id


def test_reply_to_a_closed_conversation_starts_a_follow_up(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session)
    conversation, thread = _start(session, store, mailbox)
    conversation.status = Status.closed
    session.flush()
    result = _file(session, store, mailbox, make_mail(
        to=f"{mailbox.local_part}+{thread.reply_token}@{mailbox.domain}", body="One more thing"))
    assert result.outcome == "created" and result.conversation_id != conversation.id
    follow = session.get_one(Conversation, result.conversation_id)
    assert follow.custom_fields["follow_up_of"] == conversation.id
    assert session.get(EmailThread, follow.id) is not None  # its replies thread too


def test_attachments_go_to_the_store_with_a_size_limit(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session)
    raw = make_mail(to=mailbox.address, attachments=[("label.pdf", "application/pdf", b"%PDF small"),
                                                     ("video.mp4", "video/mp4", b"x" * 5000)])
    result = _file(session, store, mailbox, raw, limits=Limits(max_attachment_bytes=1000))
    [message] = _messages(session, result.conversation_id or 0)
    [attachment] = session.scalars(select(Attachment).where(Attachment.message_id == message.id)).all()
    assert (attachment.filename, attachment.content_type, attachment.size) == ("label.pdf", "application/pdf", 10)
    assert b"".join(store.open(attachment.storage_key)) == b"%PDF small"
    assert message.meta["email"]["skipped_attachments"][0]["filename"] == "video.mp4"


def test_too_large_and_unknown_recipient_are_quarantined(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session)
    big = _file(session, store, mailbox, make_mail(to=mailbox.address, body="x" * 3000),
                limits=Limits(max_message_bytes=1000))
    assert (big.outcome, big.reason) == ("quarantined", "too_large")
    nowhere = ingest.ingest(session, raw=make_mail(to="nobody@nowhere.example"), source="smtp", store=store)
    assert (nowhere.outcome, nowhere.reason) == ("quarantined", "no_mailbox")
    row = session.get_one(Quarantine, nowhere.quarantine_id)
    assert row.raw.startswith(b"From:") and row.sender == "alice@customer.example"


def test_receive_quarantines_what_fails_to_file_and_carries_on(
    bound_db: Database, store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with bound_db.transaction() as session:
        mailbox_id = make_mailbox(session).id
    bad = ingest.receive(bound_db, raw=b"\x00\x01 not mail at all", source="imap", store=store, mailbox_id=mailbox_id)
    assert (bad.outcome, bad.reason) == ("quarantined", "unparseable")
    weird = ingest.receive(bound_db, raw=make_mail(sender="a..b@@x", sender_name=None, message_id="w@x"),
                           source="imap", store=store, mailbox_id=mailbox_id)
    assert (weird.outcome, weird.reason) == ("quarantined", "unparseable")
    # A bug deep in filing (here: the reply extractor raising) rolls that mail back and quarantines it.
    real_extract = ingest.reply.extract

    def explode(text: str, **kw: object) -> object:
        if "boom" in text:
            raise RuntimeError("extractor bug")
        return real_extract(text, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest.reply, "extract", explode)
    boom = ingest.receive(bound_db, raw=make_mail(body="boom", message_id="boom@x"), source="imap", store=store,
                          mailbox_id=mailbox_id)
    assert (boom.outcome, boom.reason) == ("quarantined", "unparseable")
    good = ingest.receive(bound_db, raw=make_mail(subject="fine"), source="imap", store=store, mailbox_id=mailbox_id)
    assert good.outcome == "created"
    with bound_db.transaction() as session:
        rows = session.scalars(select(Quarantine).where(Quarantine.mailbox_id == mailbox_id)).all()
        assert {r.reason for r in rows} == {"unparseable"} and len(rows) == 3
        assert any(b"not mail at all" in r.raw for r in rows)
        [boomed] = [r for r in rows if r.message_key == "boom@x"]
        assert "RuntimeError: extractor bug" in boomed.error
        assert session.scalar(select(Message).where(Message.external_id == "boom@x")) is None  # nothing half-written
