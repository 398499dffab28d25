"""Chat routing, as services: a new chat goes to the least busy online agent of the brand's
chat team, up to the per-agent capacity; otherwise it waits in the queue and is handed out
when an agent comes online or frees a seat."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Availability, Role, User
from cartdesk.auth.schemas import TeamCreate
from cartdesk.brands.models import Brand
from cartdesk.channels.chat import routing
from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat.identity import VisitorTokens
from cartdesk.channels.chat.schemas import WidgetSettingsUpdate
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation, Status
from cartdesk.conversations.schemas import ConversationUpdate
from cartdesk.events.models import Event
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.errors import NotFound
from tests.factories.auth import make_user, principal
from tests.factories.conversations import make_brand

TOKENS = VisitorTokens("routing-test-secret")
_client_ids = itertools.count(1)


@pytest.fixture
def shop(session: Session) -> Brand:
    return make_brand(session, slug="routing-shop", name="Routing Shop")


def _agent(session: Session, name: str, *, online: bool = True, seen: bool = True,
           team_ids: list[int] | None = None) -> User:
    user = make_user(session, role=Role.agent, name=name, team_ids=team_ids)
    user.availability = Availability.online if online else Availability.away
    if seen:
        chat_service.agents_seen(session, user_ids=[user.id])  # the agent app is open
    session.flush()
    return user


def _chat(session: Session, brand: Brand, body: str = "Is the Ridge 2 tent in stock?") -> Conversation:
    visitor, _ = chat_service.start_session(session, tokens=TOKENS, brand=brand, token=None)
    posted = chat_service.post_message(session, visitor=visitor, client_id=f"c{next(_client_ids)}", body=body)
    return session.get_one(Conversation, posted.message.conversation_id)


def _events(session: Session, conversation: Conversation, verb: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.conversation_id == conversation.id, Event.verb == verb)
                                .order_by(Event.id)))


def _settings(session: Session, brand: Brand, **changes: object) -> None:
    chat_service.update_widget_settings(session, actor=SYSTEM, brand=brand,
                                        settings_in=WidgetSettingsUpdate(**changes))  # type: ignore[arg-type]


def test_a_new_chat_goes_to_the_least_busy_online_agent(session: Session, shop: Brand) -> None:
    ana, ben = _agent(session, "Ana Lopez"), _agent(session, "Ben Ito")
    _agent(session, "Cleo Away", online=False)  # set away
    _agent(session, "Dan Gone", seen=False)  # set online, but the app is not open anywhere

    first, second, third = _chat(session, shop), _chat(session, shop), _chat(session, shop)

    # Equal loads go to the lower id; then whoever holds fewer active chats.
    assert [first.assignee_id, second.assignee_id, third.assignee_id] == [ana.id, ben.id, ana.id]
    assert first.status == Status.new  # routed, not yet worked: it still counts as new
    [routed] = _events(session, first, "chat.routed")
    assert routed.actor_type == "system"
    assert routed.data == {"assignee_id": ana.id, "assignee_name": "Ana Lopez", "active_chats": 1, "capacity": 3}
    [assigned] = _events(session, first, "conversation.assigned")
    assert assigned.data == {"assignee_id": {"before": None, "after": ana.id}}
    assert _events(session, first, "chat.queued") == []
    assert routing.active_chats(session, user_ids=[ana.id, ben.id]) == {ana.id: 2, ben.id: 1}


def test_at_capacity_a_chat_waits_and_takes_the_first_freed_seat(session: Session, shop: Brand) -> None:
    _settings(session, shop, max_chats_per_agent=1)
    ana = _agent(session, "Ana Lopez")
    first, second, third = _chat(session, shop), _chat(session, shop), _chat(session, shop)
    assert (first.assignee_id, second.assignee_id, third.assignee_id) == (ana.id, None, None)
    assert [e.data for e in _events(session, second, "chat.queued")] == [{"reason": "all_at_capacity"}]
    # A further message in a queued chat does not queue it twice.
    visitor = chat_service.visitor_for_conversation(session, conversation_id=second.id)
    chat_service.post_message(session, visitor=visitor, client_id="again", body="Hello?")  # type: ignore[arg-type]
    assert len(_events(session, second, "chat.queued")) == 1 and second.assignee_id is None

    # Pending frees the seat as much as solving does: the oldest queued chat takes it.
    conversations_service.update(session, principal=principal(ana), conversation=first,
                                 update_in=ConversationUpdate(status=Status.pending))
    assert [(d.conversation_id, d.assignee_id) for d in routing.drain(session, brand_id=shop.id)] \
        == [(second.id, ana.id)]
    assert third.assignee_id is None
    assert routing.drain(session) == []  # nobody free: nothing moves


def test_nobody_online_then_an_agent_arrives(session: Session, shop: Brand) -> None:
    ana = _agent(session, "Ana Lopez", seen=False)
    chat = _chat(session, shop)
    assert chat.assignee_id is None
    assert [e.data for e in _events(session, chat, "chat.queued")] == [{"reason": "nobody_online"}]
    chat_service.agents_seen(session, user_ids=[ana.id])  # she opens the agent app
    assert [d.assignee_id for d in routing.drain(session)] == [ana.id]
    assert chat.assignee_id == ana.id


def test_only_the_brands_chat_team_takes_its_chats(session: Session, shop: Brand) -> None:
    team = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Chat desk"))
    ana = _agent(session, "Ana Lopez", team_ids=[team.id])
    ben = _agent(session, "Ben Ito")  # not in the team, and less busy
    _settings(session, shop, routing_team_id=team.id)
    assert [_chat(session, shop).assignee_id for _ in range(2)] == [ana.id, ana.id]
    _settings(session, shop, routing_team_id=None)  # any agent again
    assert _chat(session, shop).assignee_id == ben.id


def test_with_routing_off_chats_are_assigned_by_hand(session: Session, shop: Brand) -> None:
    _agent(session, "Ana Lopez")
    _settings(session, shop, routing=False)
    chat = _chat(session, shop)
    assert chat.assignee_id is None
    assert _events(session, chat, "chat.queued") == [] and _events(session, chat, "chat.routed") == []
    assert routing.drain(session) == []


def test_routing_settings_are_checked(session: Session, shop: Brand) -> None:
    with pytest.raises(NotFound):
        _settings(session, shop, routing_team_id=999_999)
    for bad in (0, 51):
        with pytest.raises(ValidationError):
            WidgetSettingsUpdate(max_chats_per_agent=bad)
    row = chat_service.widget_settings(session, brand_id=shop.id)
    assert (row.routing, row.routing_team_id, row.max_chats_per_agent) == (True, None, 3)  # the defaults


def test_a_chat_reopened_by_the_visitor_is_routed_again(session: Session, shop: Brand) -> None:
    ana = _agent(session, "Ana Lopez", seen=False)
    chat = _chat(session, shop)
    admin = make_user(session, role=Role.admin, name="Ada Admin")
    conversations_service.update(session, principal=principal(admin), conversation=chat,
                                 update_in=ConversationUpdate(status=Status.solved))
    chat_service.agents_seen(session, user_ids=[ana.id])
    visitor = chat_service.visitor_for_conversation(session, conversation_id=chat.id)
    chat_service.post_message(session, visitor=visitor, client_id="back", body="One more thing")  # type: ignore[arg-type]
    assert (chat.status, chat.assignee_id) == (Status.open, ana.id)


def test_the_queue_is_read_through_its_partial_index(session: Session, backend: str) -> None:
    """The queue's condition is literal SQL so the planner can match ix_conversations_chat_queue
    (a bound status list would hide it); otherwise every unassigned email is scanned."""
    stmt = select(Conversation.id).where(routing._QUEUED, Conversation.channel == chat_service.CHANNEL) \
        .order_by(Conversation.id).limit(20)
    if backend == "sqlite":
        compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = " ".join(row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    else:
        session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny test table would be scanned anyway
        compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = " ".join(row[0] for row in session.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_conversations_chat_queue" in plan, plan


def test_a_drain_with_every_seat_taken_loads_no_queued_chat(session: Session, shop: Brand) -> None:
    # The usual reason for a queue is that nobody is free; a drain then asked the first chat,
    # found no seat, and used to have loaded the whole batch (100 rows) as objects for
    # nothing, holding the writer for ~14 ms a drain under load (docs/performance.md).
    ana = _agent(session, "Ana Lopez")
    _settings(session, shop, max_chats_per_agent=1)
    taken = _chat(session, shop)
    waiting = [_chat(session, shop) for _ in range(12)]
    assert taken.assignee_id == ana.id and all(c.assignee_id is None for c in waiting)
    session.commit()
    session.expunge_all()
    loaded: list[object] = []
    listener = lambda _s, obj: loaded.append(obj)  # noqa: E731
    event.listen(session, "loaded_as_persistent", listener)
    try:
        assert routing.drain(session, brand_id=shop.id) == []
    finally:
        event.remove(session, "loaded_as_persistent", listener)
    queued_loaded = [o for o in loaded if isinstance(o, Conversation) and o.assignee_id is None]
    assert len(queued_loaded) == 1  # the first in line, to learn that nobody is free
    # A freed seat goes to the oldest waiting chat, as before.
    session.execute(text("UPDATE conversations SET status = 'solved' WHERE id = :id"), {"id": taken.id})
    [decision] = routing.drain(session, brand_id=shop.id)
    assert (decision.conversation_id, decision.assignee_id) == (waiting[0].id, ana.id)
