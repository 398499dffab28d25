"""Agent replies leave through the mailbox's SMTP server (a real aiosmtpd on loopback), threaded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.channels.email import ingest
from cartdesk.channels.email.adapter import EmailAdapter
from cartdesk.channels.email.models import EmailThread, Mailbox, Quarantine
from cartdesk.config import Settings
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation, DeliveryStatus, Message
from cartdesk.conversations.schemas import MessageCreate
from cartdesk.db.engine import Database
from cartdesk.events.models import Event
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.jobs.runner import JobRunner
from cartdesk.kit.storage import LocalStore, StagingFile
from tests.channels.email.conftest import SmtpSink, free_port
from tests.factories.auth import make_user, principal
from tests.factories.email import make_mail, make_mailbox
from tests.platform.conftest import FakeClock


def _mailbox(session: Session, port: int, **kw: object) -> Mailbox:
    return make_mailbox(session, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                        from_name="Acme Support", signature="Acme Outdoor\nhttps://acme.example", **kw)


def _inbound(session: Session, store: LocalStore, mailbox: Mailbox, **kw: object) -> Conversation:
    result = ingest.ingest(session, raw=make_mail(to=mailbox.address, **kw), source="test", store=store,  # type: ignore[arg-type]
                           mailbox=mailbox)
    return session.get_one(Conversation, result.conversation_id)


def _reply(session: Session, conversation: Conversation, body: str = "It ships today.", **kw: object) -> Message:
    agent = principal(make_user(session))
    message = conversations_service.add_message(session, principal=agent, conversation=conversation,
                                                message_in=MessageCreate(body=body, **kw))
    session.commit()
    return message


def _runner(bound_db: Database, settings: Settings, clock: FakeClock | None = None) -> JobRunner:
    return JobRunner(bound_db, settings=settings, worker_id="email-test", clock=clock or FakeClock())


def test_reply_is_threaded_under_the_customer_mail(
    session: Session, bound_db: Database, settings: Settings, store: LocalStore, smtp_sink: SmtpSink,
    email_adapter: EmailAdapter,
) -> None:
    mailbox = _mailbox(session, smtp_sink.port)
    conversation = _inbound(session, store, mailbox, message_id="cust-1@c.example", subject="Parcel?")
    with StagingFile(store.staging_dir, max_bytes=1000) as staging:
        staging.write(b"%PDF label")
        key = store.save(staging.finish(), content_type="application/pdf")
    agent = make_user(session)
    from cartdesk.conversations.models import Attachment
    from cartdesk.kit.clock import utcnow

    upload = Attachment(filename="label.pdf", content_type="application/pdf", size=10, sha256=key[-64:],
                        storage_key=key, uploaded_by_user_id=agent.id, created_at=utcnow())
    session.add(upload)
    session.flush()
    message = conversations_service.add_message(
        session, principal=principal(agent), conversation=conversation,
        message_in=MessageCreate(body="It ships today.", attachment_ids=[upload.id]))
    session.commit()

    assert _runner(bound_db, settings).run_pending() >= 1
    [(mail_from, rcpt, mail)] = smtp_sink.received
    thread = session.get_one(EmailThread, conversation.id)
    session.expire_all()
    sent = session.get_one(Message, message.id)
    assert sent.delivery_status == DeliveryStatus.sent
    assert mail_from == mailbox.address and rcpt == ["alice@customer.example"]
    assert mail["Message-ID"] == f"<{sent.external_id}>" and sent.external_id.endswith("@" + mailbox.domain)
    assert mail["In-Reply-To"] == "<cust-1@c.example>"
    assert mail["References"] == "<cust-1@c.example>"
    assert mail["Reply-To"] == f"{mailbox.local_part}+{thread.reply_token}@{mailbox.domain}"
    assert mail["Subject"] == "Re: Parcel?"
    assert str(mail["From"]) == f"Acme Support <{mailbox.address}>"
    plain = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = mail.get_body(("html",)).get_content()
    assert plain.startswith("It ships today.") and "-- \nAcme Outdoor" in plain
    assert "It ships today." in html and "Acme Outdoor" in html
    [att] = list(mail.iter_attachments())
    assert att.get_filename() == "label.pdf" and att.get_content() == b"%PDF label"

    # The customer answers the reply: In-Reply-To names our Message-ID; it threads.
    answer = ingest.ingest(session, raw=make_mail(to=mailbox.address, subject="totally new subject",
                                                  in_reply_to=sent.external_id), source="test", store=store,
                           mailbox=mailbox)
    assert answer.conversation_id == conversation.id

    # A second reply references the whole thread.
    _reply(session, session.get_one(Conversation, conversation.id), body="Tracking: 123")
    _runner(bound_db, settings).run_pending()
    second = smtp_sink.received[-1][2]
    refs = second["References"].split()
    assert refs == ["<cust-1@c.example>", f"<{sent.external_id}>", f"<{answer_message_id(session, answer)}>"]
    assert second["In-Reply-To"] == f"<{answer_message_id(session, answer)}>"


def answer_message_id(session: Session, result: ingest.IngestResult) -> str:
    return session.get_one(Message, result.message_id).external_id or ""


def test_refused_recipient_fails_the_message_with_the_server_words(
    session: Session, bound_db: Database, settings: Settings, store: LocalStore, smtp_sink: SmtpSink,
    email_adapter: EmailAdapter,
) -> None:
    conversation = _inbound(session, store, _mailbox(session, smtp_sink.port))
    smtp_sink.refuse_rcpt = "550 5.1.1 No such user here"
    message = _reply(session, conversation)
    _runner(bound_db, settings).run_pending()
    session.expire_all()
    failed = session.get_one(Message, message.id)
    assert failed.delivery_status == DeliveryStatus.failed
    assert "550" in (failed.delivery_error or "") and "No such user here" in (failed.delivery_error or "")


def test_unreachable_server_is_retried_with_backoff_then_sent(
    session: Session, bound_db: Database, settings: Settings, store: LocalStore, smtp_sink: SmtpSink,
    email_adapter: EmailAdapter,
) -> None:
    mailbox = _mailbox(session, free_port())  # nothing listens there
    conversation = _inbound(session, store, mailbox)
    message = _reply(session, conversation)
    clock = FakeClock()
    runner = _runner(bound_db, settings, clock)
    runner.run_pending()
    session.expire_all()
    assert session.get_one(Message, message.id).delivery_status == DeliveryStatus.queued
    job = session.scalars(select(Job).where(Job.name == "messages.deliver")).all()[-1]
    assert job.status == JobStatus.queued and "Could not reach" in (job.last_error or "")
    assert job.run_at > clock.now

    mailbox.smtp_port = smtp_sink.port  # the server is back
    session.commit()
    clock.now = job.run_at
    runner.run_pending()
    session.expire_all()
    assert session.get_one(Message, message.id).delivery_status == DeliveryStatus.sent
    assert len(smtp_sink.received) == 1


def test_bounce_marks_the_outbound_message_failed(
    session: Session, bound_db: Database, settings: Settings, store: LocalStore, smtp_sink: SmtpSink,
    email_adapter: EmailAdapter,
) -> None:
    mailbox = _mailbox(session, smtp_sink.port)
    conversation = _inbound(session, store, mailbox)
    message = _reply(session, conversation)
    _runner(bound_db, settings).run_pending()
    session.expire_all()
    sent_id = session.get_one(Message, message.id).external_id
    dsn = (f"From: MAILER-DAEMON@mx.example\r\nTo: {mailbox.address}\r\nSubject: Undelivered\r\n"
           f"Message-ID: <dsn-{message.id}@mx.example>\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
           "--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
           "Reporting-MTA: dns; mx\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 unknown user\r\n\r\n"
           f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{sent_id}>\r\n\r\n--B--\r\n").encode()
    result = ingest.ingest(session, raw=dsn, source="smtp", store=store)
    assert (result.outcome, result.reason) == ("quarantined", "bounce")
    bounced = session.get_one(Message, message.id)
    assert bounced.delivery_status == DeliveryStatus.failed
    assert "5.1.1" in (bounced.delivery_error or "") and "unknown user" in (bounced.delivery_error or "")
    assert f"Marked message {message.id} failed" in session.get_one(Quarantine, result.quarantine_id).error
    # No new conversation, no reply to the daemon.
    assert session.scalar(select(Conversation).where(Conversation.id != conversation.id,
                                                     Conversation.brand_id == mailbox.brand_id)) is None


def test_first_mail_is_acknowledged_once_and_the_acknowledgement_starts_no_loop(
    session: Session, bound_db: Database, settings: Settings, store: LocalStore, smtp_sink: SmtpSink,
    email_adapter: EmailAdapter,
) -> None:
    mailbox = _mailbox(session, smtp_sink.port, acknowledge_new=True)
    conversation = _inbound(session, store, mailbox, subject="Broken tent pole", sender_name="Maya Lind")
    _inbound(session, store, mailbox, subject="Re: Broken tent pole", body="Photo attached later.")
    session.commit()
    _runner(bound_db, settings).run_pending()
    [(_, rcpt, ack)] = smtp_sink.received
    assert rcpt == ["alice@customer.example"]
    assert ack["Auto-Submitted"] == "auto-replied" and ack["Subject"] == "Re: Broken tent pole"
    text = ack.get_body(("plain",)).get_content()
    assert "Hello Maya Lind" in text and f"#{conversation.number}" in text
    session.expire_all()
    fresh = session.get_one(Conversation, conversation.id)
    assert fresh.assignee_id is None and fresh.first_response_at is None  # not an agent's answer
    messages = session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                               .order_by(Message.id)).all()
    assert [m.direction for m in messages] == ["inbound", "outbound", "inbound"]
    assert messages[1].meta["automatic"] is True and messages[1].delivery_status == DeliveryStatus.sent


def _committed_reply(db: Database, store: LocalStore, sink: SmtpSink, customer_mail_id: str, body: str) -> int:
    """An agent's reply to a customer's mail, committed with its delivery job; its id."""
    with db.transaction() as session:
        conversation = _inbound(session, store, _mailbox(session, sink.port), message_id=customer_mail_id)
        agent = principal(make_user(session))
        return conversations_service.add_message(
            session, principal=agent, conversation=conversation, message_in=MessageCreate(body=body)).id


def test_the_smtp_conversation_runs_outside_the_jobs_transaction(
    fresh_db: Database, settings: Settings, store: LocalStore, smtp_sink: SmtpSink, email_adapter: EmailAdapter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A slow mail server must not hold a transaction open (on SQLite: the one write lock that
    # every request and incoming mail of the process needs): the mail is built in the job's
    # transaction, which commits; the SMTP conversation holds no database connection at all;
    # its outcome is recorded in a second transaction.
    message_id = _committed_reply(fresh_db, store, smtp_sink, "slow-1@c.example", "On its way.")
    held: list[int] = []
    real_transmit = EmailAdapter._transmit

    def transmit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        held.append(fresh_db.engine.pool.checkedout())
        return real_transmit(self, *args, **kwargs)

    monkeypatch.setattr(EmailAdapter, "_transmit", transmit)
    assert JobRunner(fresh_db, settings=settings, worker_id="slow-smtp").run_pending() == 1
    assert held == [0]  # no connection, so no transaction and no lock, while talking SMTP
    assert len(smtp_sink.received) == 1
    with fresh_db.transaction(read_only=True) as session:
        sent = session.get_one(Message, message_id)
        assert sent.delivery_status == DeliveryStatus.sent and sent.external_id
        job = session.scalars(select(Job).where(Job.name == "messages.deliver")).one()
        assert job.status == JobStatus.done


def test_a_crash_between_sending_and_recording_sends_again_on_the_next_run(
    fresh_db: Database, settings: Settings, store: LocalStore, smtp_sink: SmtpSink, email_adapter: EmailAdapter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The mail left but the process died before recording it: the job is still claimed, its
    # lease runs out, and the next run sends it again (at least once, as before), then
    # records it once.
    message_id = _committed_reply(fresh_db, store, smtp_sink, "crash-1@c.example", "Sorry!")
    clock = FakeClock()
    runner = JobRunner(fresh_db, settings=settings, worker_id="crashes", clock=clock)

    from cartdesk.conversations import tasks

    def crash(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise SystemExit("killed after the SMTP conversation")

    monkeypatch.setattr(tasks, "_after_transmit", crash)
    with pytest.raises(SystemExit):
        runner.run_pending()
    monkeypatch.undo()
    assert len(smtp_sink.received) == 1
    with fresh_db.transaction(read_only=True) as session:
        assert session.get_one(Message, message_id).delivery_status == DeliveryStatus.queued
        job = session.scalars(select(Job).where(Job.name == "messages.deliver")).one()
        assert job.status == JobStatus.running and job.locked_until is not None
        clock.now = job.locked_until + timedelta(seconds=1)  # the lease ran out
    other = JobRunner(fresh_db, settings=settings, worker_id="takes-over", clock=clock)
    monkeypatch.setattr(tasks, "_after_transmit", tasks._after_transmit)
    assert other.run_pending() == 1
    assert len(smtp_sink.received) == 2
    with fresh_db.transaction(read_only=True) as session:
        assert session.get_one(Message, message_id).delivery_status == DeliveryStatus.sent
        delivered = session.scalars(select(Event.id).where(
            Event.verb == "message.delivery_updated", Event.subject_id == message_id)).all()
        assert len(delivered) == 1
