from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.conversations import service
from cartdesk.conversations.models import Direction, Status
from cartdesk.conversations.schemas import ConversationFilters, ConversationUpdate, MessageCreate
from cartdesk.events import service as events_service
from cartdesk.kit.errors import Conflict
from tests.factories.auth import make_user, principal
from tests.factories.conversations import make_brand, make_conversation


def test_numbers_are_per_brand_and_sequential(session: Session) -> None:
    a, b = make_brand(session), make_brand(session)
    numbers_a = [make_conversation(session, brand=a).number for _ in range(3)]
    numbers_b = [make_conversation(session, brand=b).number for _ in range(2)]
    assert numbers_a == [1001, 1002, 1003]
    assert numbers_b == [1001, 1002]


def test_reply_sets_first_response_and_pending_then_customer_reply_reopens(session: Session) -> None:
    agent = principal(make_user(session))
    conv = make_conversation(session)
    assert conv.status == Status.new and conv.first_response_at is None
    service.add_message(session, principal=agent, conversation=conv, message_in=MessageCreate(body="On its way"))
    assert conv.status == Status.pending
    assert conv.first_response_at is not None
    assert conv.assignee_id == agent.user_id

    service.update(session, principal=agent, conversation=conv, update_in=ConversationUpdate(status=Status.solved))
    assert conv.solved_at is not None
    service.receive_message(session, conversation=conv, customer=conv.customer, body="Still not here!")
    assert conv.status == Status.open
    assert conv.reopened_count == 1


def test_note_does_not_count_as_first_response(session: Session) -> None:
    agent = principal(make_user(session))
    conv = make_conversation(session)
    note = service.add_message(
        session, principal=agent, conversation=conv, message_in=MessageCreate(kind="note", body="checking")
    )
    assert note.direction == Direction.internal
    assert conv.first_response_at is None
    assert conv.status == Status.new


def test_closed_is_final_and_customer_reply_starts_follow_up(session: Session) -> None:
    agent = principal(make_user(session))
    conv = make_conversation(session)
    service.update(session, principal=agent, conversation=conv, update_in=ConversationUpdate(status=Status.closed))
    with pytest.raises(Conflict):
        service.update(session, principal=agent, conversation=conv, update_in=ConversationUpdate(status=Status.open))
    msg = service.receive_message(session, conversation=conv, customer=conv.customer, body="one more thing")
    assert msg.conversation_id != conv.id
    follow = service.get_or_raise(session, conversation_id=msg.conversation_id)
    assert follow.custom_fields["follow_up_of"] == conv.id
    assert follow.number == conv.number + 1


def test_inbound_is_idempotent_on_external_id(session: Session) -> None:
    conv = make_conversation(session)
    first = service.receive_message(session, conversation=conv, customer=conv.customer, body="hi", external_id="m-1")
    again = service.receive_message(session, conversation=conv, customer=conv.customer, body="hi", external_id="m-1")
    assert first.id == again.id
    assert conv.message_count == 2


def test_merge_moves_messages_and_events_and_points_to_survivor(session: Session) -> None:
    agent = principal(make_user(session))
    brand = make_brand(session)
    target = make_conversation(session, brand=brand)
    source = make_conversation(session, brand=brand, body="second message")
    service.update(session, principal=agent, conversation=source, update_in=ConversationUpdate(tags=["vip"]))
    service.merge(session, principal=agent, target=target, source=source)
    assert source.merged_into_id == target.id
    assert source.status == Status.closed
    bodies = [m.body_text for m in service.list_messages(session, conversation_id=target.id)]
    assert "second message" in bodies
    assert any("was merged into this one" in b for b in bodies)
    assert "vip" in target.tag_names
    verbs = [e.verb for e in events_service.list_for_conversation(session, conversation_id=target.id)]
    assert "conversation.tagged" in verbs and "conversation.merged" in verbs
    assert service.list_messages(session, conversation_id=source.id) == []


def test_agents_only_see_their_teams_conversations(session: Session) -> None:
    from cartdesk.auth import service as auth_service
    from cartdesk.auth.schemas import TeamCreate
    from cartdesk.events.schemas import SYSTEM

    team = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Returns desk"))
    outsider = principal(make_user(session, role=Role.agent))
    member = principal(make_user(session, role=Role.agent, team_ids=[team.id]))
    boss = principal(make_user(session, role=Role.supervisor))
    conv = make_conversation(session)
    service.update(session, principal=boss, conversation=conv, update_in=ConversationUpdate(team_id=team.id))

    def visible(p):  # type: ignore[no-untyped-def]
        ids = {c.id for c in service.list_conversations(session, principal=p, filters=ConversationFilters(), limit=100).items}
        return conv.id in ids

    assert visible(member) and visible(boss) and not visible(outsider)


def test_keyset_pages_cover_everything_once(session: Session) -> None:
    agent = principal(make_user(session, role=Role.admin))
    brand = make_brand(session)
    created = {make_conversation(session, brand=brand).id for _ in range(7)}
    seen: list[int] = []
    cursor = None
    while True:
        page = service.list_conversations(
            session, principal=agent, filters=ConversationFilters(brand=brand.id), limit=3, cursor=cursor
        )
        seen += [c.id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))


def test_a_new_customer_and_their_conversation_are_written_together_and_linked(session: Session) -> None:
    from sqlalchemy import select

    from cartdesk.conversations.schemas import ConversationCreate
    from cartdesk.customers.models import Customer
    from cartdesk.events.models import Event
    from cartdesk.events.schemas import SYSTEM

    brand = make_brand(session)
    conversation, message = service.open_conversation(
        session, actor=SYSTEM, conversation_in=ConversationCreate(
            customer={"email": "New.Person@Example.com", "name": "New Person"}, subject="Hello", channel="api",
            brand=brand.id, message={"body": "First words"}))
    session.commit()
    customer = session.scalars(select(Customer).where(Customer.email == "new.person@example.com")).one()
    assert conversation.customer_id == customer.id and message.author_customer_id == customer.id
    verbs = {(e.verb, e.subject_id) for e in session.scalars(select(Event).where(Event.subject_type == "customer"))}
    assert ("customer.created", customer.id) in verbs
    created = session.scalars(select(Event).where(Event.verb == "message.created",
                                                  Event.subject_id == message.id)).one()
    assert (created.actor_type, created.actor_id) == ("customer", customer.id)
