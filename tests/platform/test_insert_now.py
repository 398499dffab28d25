"""db.session.insert_now and update_now: a row written at once with Core, the object as if flushed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from cartdesk.conversations.models import Conversation, DeliveryStatus, Direction, Message, Status
from cartdesk.db.session import insert_now, update_now
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.kit.clock import utcnow
from tests.factories.auth import make_user
from tests.factories.conversations import make_conversation


def _count_statements(session: Session) -> list[str]:
    seen: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: seen.append(statement))
    return seen


def test_the_object_is_persistent_with_its_id_and_defaults_and_reads_need_no_query(session: Session) -> None:
    conversation = make_conversation(session)
    session.flush()
    message = Message(conversation_id=conversation.id, channel="email", direction=Direction.outbound,
                      author_type="agent", body_text="On its way", delivery_status=DeliveryStatus.queued,
                      created_at=utcnow(), attachments=[])
    statements = _count_statements(session)

    assert insert_now(session, message) is message
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("INSERT INTO MESSAGES")
    state = inspect(message)
    assert state.persistent and not session.dirty and not session.new
    assert message.id is not None
    # Unset columns are known without a query: a default (meta), NULL (delivery_error, html).
    assert (message.meta, message.delivery_error, message.body_html, message.external_id) == ({}, None, None, None)
    assert message.attachments == []
    assert len(statements) == 1
    # The identity map holds it, and the database has the same row.
    assert session.get(Message, message.id) is message
    row = session.execute(select(Message.__table__).where(Message.__table__.c.id == message.id)).one()
    assert (row.body_text, row.meta, row.delivery_status, row.delivery_error) == ("On its way", {}, "queued", None)


def test_changes_after_the_insert_go_out_with_the_next_flush(session: Session) -> None:
    job = insert_now(session, Job(name="tests.insert_now", payload={"n": 1}, run_at=utcnow(), created_at=utcnow()))
    assert (job.queue, job.status, job.attempts, job.max_attempts) == ("default", JobStatus.queued, 0, 8)
    job.last_error = "changed after the insert"
    assert job in session.dirty
    session.flush()
    session.expire_all()
    again = session.get_one(Job, job.id)
    assert (again.last_error, again.payload, again.status) == ("changed after the insert", {"n": 1}, "queued")


def test_update_now_writes_the_changed_columns_in_one_statement_and_leaves_the_object_clean(
    session: Session,
) -> None:
    conversation = make_conversation(session)
    session.flush()
    before_update = conversation.updated_at
    later = utcnow() + timedelta(minutes=5)
    conversation.status = Status.pending
    conversation.message_count = 7
    conversation.last_activity_at = later
    statements = _count_statements(session)

    update_now(session, conversation)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("UPDATE CONVERSATIONS SET")
    assert not session.dirty and not inspect(conversation).modified
    # updated_at was not set by the caller: its onupdate applies, as in a flush.
    assert conversation.updated_at > before_update
    session.flush()
    assert len(statements) == 1  # nothing left for the unit of work
    row = session.execute(select(Conversation.__table__).where(Conversation.__table__.c.id == conversation.id)).one()
    assert (row.status, row.message_count) == ("pending", 7)
    session.expire_all()
    again = session.get_one(Conversation, conversation.id)
    assert (again.status, again.message_count, again.last_activity_at) == (Status.pending, 7, later)
    assert again.updated_at == conversation.updated_at


def test_update_now_of_a_relationship_change_is_an_ordinary_flush(session: Session) -> None:
    conversation = make_conversation(session)
    agent = make_user(session)
    session.flush()
    conversation.assignee = agent  # a relationship: the unit of work resolves the key
    update_now(session, conversation)
    assert not session.dirty
    session.expire_all()
    assert session.get_one(Conversation, conversation.id).assignee_id == agent.id
