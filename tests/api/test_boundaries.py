"""Bad input across the API: the error shape, atomic requests, permission as part of the query."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import TeamCreate
from cartdesk.brands.models import Brand
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation
from cartdesk.conversations.schemas import ConversationUpdate
from cartdesk.customers.models import Customer, CustomerIdentity
from cartdesk.events.models import Event
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.errors import ValidationFailed
from tests.api.conftest import Caller, caller, error_of, fields_of
from tests.factories.auth import principal
from tests.factories.conversations import make_conversation


def _counts(session: Session) -> tuple[int, ...]:
    session.expire_all()
    return tuple(
        session.scalar(select(func.count()).select_from(model)) for model in (Customer, CustomerIdentity, Conversation, Event)
    )


def test_a_request_failing_midway_leaves_no_partial_rows(
    client, agent: Caller, session: Session, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _counts(session)
    number_before = brand.next_conversation_number

    def fail_after_customer_and_conversation(*args, **kwargs):  # type: ignore[no-untyped-def]
        # Reached after the customer, its identity, the conversation, its first message
        # and their events were flushed, and the brand's counter advanced.
        raise ValidationFailed("the first message was refused", details=[{"field": "message.body"}])

    monkeypatch.setattr(conversations_service, "_message_created", fail_after_customer_and_conversation)
    response = client.post("/api/v1/conversations", headers=agent.headers, json={
        "customer": {"email": "brand.new@example.com", "name": "Brand New"}, "subject": "Hi",
        "message": {"body": "Hello"}, "brand": brand.id,
    })
    assert response.status_code == 422 and fields_of(response) == {"message.body"}
    assert _counts(session) == before
    session.refresh(brand)
    assert brand.next_conversation_number == number_before


def test_invalid_conversation_bodies_name_the_field_before_anything_is_written(
    client, agent: Caller, session: Session, brand: Brand
) -> None:
    before = _counts(session)
    cases = [
        ({"customer": {"email": "a@example.com"}, "message": {"body": "x"}, "tags": ["x" * 65], "brand": brand.id},
         {"tags"}),
        ({"customer": {"email": "not-an-email"}, "message": {"body": "x"}}, {"customer.email"}),
        ({"customer": {"email": "a@example.com"}, "message": {"body": ""}}, {"message.body"}),
        ({"customer": {"email": "a@example.com"}}, {"message"}),
        ({"customer": {"email": "a@example.com"}, "message": {"body": "x"}, "priority": "asap"}, {"priority"}),
    ]
    for body, fields in cases:
        response = client.post("/api/v1/conversations", headers=agent.headers, json=body)
        assert response.status_code == 422, (body, response.text)
        assert fields_of(response) == fields, body
        assert error_of(response)["code"] == "validation_error"
    unknown_brand = client.post("/api/v1/conversations", headers=agent.headers, json={
        "customer": {"email": "a@example.com"}, "message": {"body": "x"}, "brand": "no-such-brand"})
    assert unknown_brand.status_code == 422 and fields_of(unknown_brand) == {"brand"}
    assert _counts(session) == before


def test_an_invalid_assignee_rolls_back_the_whole_update(client, agent: Caller, session: Session) -> None:
    convo = make_conversation(session)
    response = client.patch(f"/api/v1/conversations/{convo.id}", headers=agent.headers,
                            json={"status": "open", "tags": ["vip"], "assignee_id": 987654})
    assert response.status_code == 404
    session.expire_all()
    fresh = session.get(Conversation, convo.id)
    assert fresh.status == "new" and fresh.tag_names == []


def test_agents_get_404_not_403_for_another_teams_conversation(client, session: Session) -> None:
    ours = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Team ours"))
    theirs = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Team theirs"))
    boss = principal(caller(session, role=Role.admin).user)
    hidden = make_conversation(session)
    conversations_service.update(session, principal=boss, conversation=hidden, update_in=ConversationUpdate(team_id=theirs.id))
    agent = caller(session, team_ids=[ours.id])
    for method, template, body in [
        ("GET", "/api/v1/conversations/{}", None),
        ("PATCH", "/api/v1/conversations/{}", {"status": "open"}),
        ("POST", "/api/v1/conversations/{}/messages", {"body": "hi"}),
        ("GET", "/api/v1/conversations/{}/events", None),
    ]:
        response = client.request(method, template.format(hidden.id), headers=agent.headers, json=body)
        assert response.status_code == 404, (method, template)
        missing = client.request(method, template.format(987654), headers=agent.headers, json=body)
        # Exactly the answer for an id that does not exist: ids are not an oracle.
        assert missing.status_code == 404
        assert error_of(response)["message"].replace(str(hidden.id), "N") == \
            error_of(missing)["message"].replace("987654", "N")
    listed = client.get("/api/v1/conversations", headers=agent.headers, params={"limit": 100}).json()["items"]
    assert hidden.id not in {c["id"] for c in listed}


def test_conversation_history(client, agent: Caller, session: Session) -> None:
    convo = make_conversation(session)
    client.patch(f"/api/v1/conversations/{convo.id}", headers=agent.headers, json={"priority": "high"})
    events = client.get(f"/api/v1/conversations/{convo.id}/events", headers=agent.headers)
    assert events.status_code == 200
    verbs = [e["verb"] for e in events.json()]
    assert verbs[0] == "conversation.created" and verbs[-1] == "conversation.updated"
    assert events.json()[-1]["data"] == {"priority": {"before": "normal", "after": "high"}}
    assert events.json()[-1]["actor_id"] == agent.user.id


def test_malformed_json_and_wrong_types(client, agent: Caller) -> None:
    response = client.post("/api/v1/customers", headers={**agent.headers, "Content-Type": "application/json"},
                           content=b"{not json")
    assert response.status_code == 422 and error_of(response)["code"] == "validation_error"
    response = client.get("/api/v1/customers/not-a-number", headers=agent.headers)
    assert response.status_code == 422 and fields_of(response) == {"customer_id"}


def test_a_constraint_hit_by_a_race_is_a_409_and_saves_nothing(
    client, agent: Caller, session: Session, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"customer": {"email": "racer@example.com", "name": "Racer"}, "subject": "Hi",
            "message": {"body": "Hello"}, "brand": brand.id}
    assert client.post("/api/v1/conversations", headers=agent.headers, json=body).status_code == 201
    before = _counts(session)

    from cartdesk.customers import service as customers_service

    # As if a concurrent request had created the customer after our lookup: the
    # insert of the same email identity then meets the unique constraint.
    monkeypatch.setattr(customers_service, "find_by_identity", lambda *a, **k: None)
    response = client.post("/api/v1/conversations", headers=agent.headers, json=body)
    assert response.status_code == 409, response.text
    error = error_of(response)
    assert error["code"] == "conflict" and "nothing was saved" in error["message"]
    assert error["details"]["constraint"]
    assert _counts(session) == before


def test_inbox_pages_seek_past_the_cursor_and_keep_ties_on_activity_time(
    client, agent: Caller, session: Session, brand: Brand
) -> None:
    from datetime import UTC, datetime, timedelta

    # Seven open conversations, three of them with the very same activity time: pages of
    # two must return each once, in (last activity, id) order, whatever the ties.
    made = [make_conversation(session, brand=brand) for _ in range(7)]
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    times = [base, base + timedelta(minutes=1), base + timedelta(minutes=1), base + timedelta(minutes=1),
             base + timedelta(minutes=2), base + timedelta(minutes=3), base + timedelta(minutes=3)]
    for convo, at in zip(made, times, strict=True):
        convo.last_activity_at = at
        convo.status = "open"
    session.flush()
    expected = [c.id for c in sorted(made, key=lambda c: (c.last_activity_at, c.id), reverse=True)]

    seen: list[int] = []
    cursor = None
    while True:
        params = {"brand": brand.id, "status": "open", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/conversations", headers=agent.headers, params=params).json()
        seen += [c["id"] for c in page["items"]]
        assert len(seen) <= 7, seen  # a cursor that does not move on must not loop for ever
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
