"""messages.deliver: agent replies leave through their channel's adapter, once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.channels.base import FakeAdapter
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation, DeliveryStatus, Message
from cartdesk.conversations.schemas import MessageCreate
from cartdesk.events.models import Event
from cartdesk.jobs import service as jobs_service
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.jobs.runner import JobRunner
from tests.factories.auth import make_user, principal
from tests.factories.conversations import make_conversation
from tests.platform.conftest import FakeClock


def _reply(session: Session, conversation: Conversation, *, kind: str = "reply", body: str = "On its way!") -> Message:
    agent = principal(make_user(session))
    message = conversations_service.add_message(
        session, principal=agent, conversation=conversation, message_in=MessageCreate(kind=kind, body=body)
    )
    session.commit()  # the request boundary: the delivery job exists from here on
    return message


def _reload(session: Session, message: Message) -> Message:
    session.expire_all()
    return session.get_one(Message, message.id)


def _delivery_events(session: Session, message: Message) -> list[dict]:
    rows = session.scalars(select(Event).where(
        Event.verb == "message.delivery_updated", Event.subject_id == message.id).order_by(Event.id)).all()
    return [e.data for e in rows]


def _deliver_job(session: Session, message: Message) -> Job:
    session.expire_all()
    jobs = session.scalars(select(Job).where(Job.name == "messages.deliver")).all()
    (job,) = [j for j in jobs if j.payload.get("message_id") == message.id]
    return job


def test_reply_is_sent_through_its_channel_adapter(session: Session, runner: JobRunner, fake_channel: FakeAdapter) -> None:
    conversation = make_conversation(session, channel=fake_channel.name)
    message = _reply(session, conversation, body="Your parcel ships today.")
    assert message.delivery_status == DeliveryStatus.queued

    assert runner.run_pending() == 1
    sent = _reload(session, message)
    assert sent.delivery_status == DeliveryStatus.sent and sent.delivery_error is None
    assert [(r.message_id, r.body_text) for r in fake_channel.sent] == [(message.id, "Your parcel ships today.")]
    assert sent.external_id == fake_channel.sent[0].external_id
    [event] = _delivery_events(session, message)
    assert event["delivery_status"] == {"before": "queued", "after": "sent"}


def test_retryable_failure_is_retried_then_sent(
    session: Session, runner: JobRunner, fake_channel: FakeAdapter, clock: FakeClock
) -> None:
    message = _reply(session, make_conversation(session, channel=fake_channel.name))
    fake_channel.fail_next(1, reason="503 from provider")

    assert runner.run_pending() == 1
    assert _reload(session, message).delivery_status == DeliveryStatus.queued  # still trying
    job = _deliver_job(session, message)
    assert job.status == JobStatus.queued and "503 from provider" in (job.last_error or "")
    assert fake_channel.sent == []

    clock.now = job.run_at
    assert runner.run_pending() == 1
    assert _reload(session, message).delivery_status == DeliveryStatus.sent
    assert fake_channel.attempts == 2 and len(fake_channel.sent) == 1
    assert _deliver_job(session, message).status == JobStatus.done


def test_permanent_failure_marks_message_failed_with_reason(
    session: Session, runner: JobRunner, fake_channel: FakeAdapter
) -> None:
    message = _reply(session, make_conversation(session, channel=fake_channel.name))
    fake_channel.fail_next(retryable=False, reason="invalid recipient address")

    assert runner.run_pending() == 1
    failed = _reload(session, message)
    assert failed.delivery_status == DeliveryStatus.failed
    assert failed.delivery_error == "invalid recipient address"
    assert _deliver_job(session, message).status == JobStatus.done  # nothing left to retry
    assert _delivery_events(session, message)[-1]["error"] == "invalid recipient address"


def test_last_attempt_turns_retryable_failure_into_failed_message(
    session: Session, runner: JobRunner, fake_channel: FakeAdapter, clock: FakeClock
) -> None:
    message = _reply(session, make_conversation(session, channel=fake_channel.name))
    max_attempts = _deliver_job(session, message).max_attempts
    fake_channel.fail_next(max_attempts, reason="timeout")
    for _ in range(max_attempts):
        clock.advance(hours=2)
        assert runner.run_pending() == 1
    failed = _reload(session, message)
    assert failed.delivery_status == DeliveryStatus.failed and failed.delivery_error == "timeout"
    assert fake_channel.attempts == max_attempts


def test_notes_are_never_sent(session: Session, runner: JobRunner, fake_channel: FakeAdapter) -> None:
    note = _reply(session, make_conversation(session, channel=fake_channel.name), kind="note")
    jobs = session.scalars(select(Job).where(Job.name == "messages.deliver")).all()
    assert [j for j in jobs if j.payload.get("message_id") == note.id] == []
    # Even a stray delivery job for a note sends nothing.
    jobs_service.enqueue(session, "messages.deliver", {"message_id": note.id})
    session.commit()
    assert runner.run_pending() == 1
    assert fake_channel.attempts == 0
    assert _reload(session, note).delivery_status == DeliveryStatus.not_applicable


def test_rerun_after_sending_does_not_send_twice(session: Session, runner: JobRunner, fake_channel: FakeAdapter) -> None:
    message = _reply(session, make_conversation(session, channel=fake_channel.name))
    runner.run_pending()
    # As if a worker crashed after sending but the job ran again anyway.
    jobs_service.enqueue(session, "messages.deliver", {"message_id": message.id})
    session.commit()
    assert runner.run_pending() == 1
    assert fake_channel.attempts == 1 and len(fake_channel.sent) == 1
    assert len(_delivery_events(session, message)) == 1


def test_unknown_channel_fails_the_message_with_a_clear_reason(session: Session, runner: JobRunner) -> None:
    message = _reply(session, make_conversation(session, channel="carrier-pigeon"))
    assert runner.run_pending() == 1
    failed = _reload(session, message)
    assert failed.delivery_status == DeliveryStatus.failed
    assert "No channel adapter is registered for 'carrier-pigeon'" in (failed.delivery_error or "")


def test_api_channel_marks_replies_sent_in_the_replys_transaction(session: Session, runner: JobRunner) -> None:
    # Nothing leaves the process, so the adapter sends in the transaction that saves the
    # reply: no delivery job, and the delivery event is in the same commit.
    message = _reply(session, make_conversation(session, channel="api"))
    sent = _reload(session, message)
    assert sent.delivery_status == DeliveryStatus.sent and sent.external_id is None
    assert session.scalars(select(Job).where(Job.name == "messages.deliver")).all() == []
    [event] = _delivery_events(session, message)
    assert event["delivery_status"] == {"before": "queued", "after": "sent"}
    assert runner.run_pending() == 0


def test_an_api_reply_that_rolls_back_leaves_no_message_and_no_event(session: Session) -> None:
    conversation = make_conversation(session, channel="api")
    session.commit()
    agent = principal(make_user(session))
    session.commit()
    message = conversations_service.add_message(
        session, principal=agent, conversation=conversation, message_in=MessageCreate(kind="reply", body="Undone")
    )
    message_id = message.id
    session.rollback()
    assert session.get(Message, message_id) is None
    assert session.scalars(select(Event).where(Event.subject_type == "message", Event.subject_id == message_id)).all() == []
