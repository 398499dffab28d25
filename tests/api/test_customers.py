from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.conversations.models import Conversation
from cartdesk.customers.models import Customer
from tests.api.conftest import Caller, caller, error_of, fields_of
from tests.factories.conversations import make_conversation
from tests.factories.customers import make_customer

API = "/api/v1/customers"


def test_create_get_and_update_a_customer(client, agent: Caller) -> None:
    created = client.post(API, headers=agent.headers, json={
        "name": "Ada Lovelace", "email": "Ada@Example.com", "phone": "+44 20 7946 0958",
        "identities": [{"kind": "instagram", "value": "ada.codes"}],
    })
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "ada@example.com"
    assert {(i["kind"], i["value"]) for i in body["identities"]} == {
        ("email", "ada@example.com"), ("phone", "+442079460958"), ("instagram", "ada.codes"),
    }

    got = client.get(f"{API}/{body['id']}", headers=agent.headers)
    assert got.status_code == 200 and got.json()["name"] == "Ada Lovelace"

    patched = client.patch(f"{API}/{body['id']}", headers=agent.headers, json={"is_vip": True, "email": "ada@new.example"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["is_vip"] is True
    assert patched.json()["email"] == "ada@new.example"
    assert ("email", "ada@new.example") in {(i["kind"], i["value"]) for i in patched.json()["identities"]}


def test_an_address_that_belongs_to_someone_else_is_a_conflict(client, agent: Caller, session: Session) -> None:
    other = make_customer(session, email="taken@example.com")
    response = client.post(API, headers=agent.headers, json={"name": "X", "email": "TAKEN@example.com"})
    assert response.status_code == 409
    assert error_of(response)["details"]["customer_id"] == other.id


def test_invalid_bodies_name_the_field(client, agent: Caller, session: Session) -> None:
    response = client.post(API, headers=agent.headers, json={"email": "not an email"})
    assert response.status_code == 422
    assert fields_of(response) == {"email"}
    customer = make_customer(session)
    response = client.patch(f"{API}/{customer.id}", headers=agent.headers, json={"name": "x" * 201})
    assert response.status_code == 422
    assert fields_of(response) == {"name"}
    response = client.post(API, headers=agent.headers, json={"identities": [{"kind": "fax", "value": "1"}]})
    assert response.status_code == 422
    assert fields_of(response) == {"identities.0.kind"}


def test_unknown_ids_are_404(client, agent: Caller, supervisor: Caller) -> None:
    for method, path, kwargs in [
        ("GET", f"{API}/999999", {}),
        ("PATCH", f"{API}/999999", {"json": {"name": "x"}}),
        ("POST", f"{API}/999999/merge", {"json": {"source_id": 1}}),
        ("GET", f"{API}/999999/conversations", {}),
    ]:
        response = client.request(method, path, headers=agent.headers, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
        assert error_of(response)["code"] == "not_found"
    response = client.delete(f"{API}/999999", headers=supervisor.headers)
    assert response.status_code == 404


def test_list_pages_by_keyset_and_searches_by_prefix(client, agent: Caller, session: Session) -> None:
    ids = [make_customer(session, name=f"Pager {i}", email=f"pager{i}@paging.example").id for i in range(7)]
    make_customer(session, name="Somebody Else", email="else@other.example")
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"q": "pager", "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(API, headers=agent.headers, params=params)
        assert page.status_code == 200, page.text
        seen += [c["id"] for c in page.json()["items"]]
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(ids, reverse=True)  # newest first, each exactly once

    by_email = client.get(API, headers=agent.headers, params={"q": "ELSE@other"})
    assert [c["name"] for c in by_email.json()["items"]] == ["Somebody Else"]


def test_a_bad_cursor_is_422(client, agent: Caller) -> None:
    response = client.get(API, headers=agent.headers, params={"cursor": "not-a-cursor"})
    assert response.status_code == 422
    assert fields_of(response) == {"cursor"}


def test_merge_moves_identities_and_conversations_and_old_id_resolves(
    client, agent: Caller, session: Session, brand
) -> None:
    target_conv = make_conversation(session, brand=brand, email="keep@example.com")
    source_conv = make_conversation(session, brand=brand, email="absorb@example.com")
    target_id, source_id = target_conv.customer_id, source_conv.customer_id

    response = client.post(f"{API}/{target_id}/merge", headers=agent.headers, json={"source_id": source_id})
    assert response.status_code == 200, response.text
    values = {i["value"] for i in response.json()["identities"]}
    assert {"keep@example.com", "absorb@example.com"} <= values

    old = client.get(f"{API}/{source_id}", headers=agent.headers)
    assert old.status_code == 200 and old.json()["id"] == target_id

    conversations = client.get(f"{API}/{target_id}/conversations", headers=agent.headers).json()["items"]
    assert {c["id"] for c in conversations} == {target_conv.id, source_conv.id}
    # Through the old id too, and the absorbed customer is gone from the list.
    via_old = client.get(f"{API}/{source_id}/conversations", headers=agent.headers).json()["items"]
    assert {c["id"] for c in via_old} == {target_conv.id, source_conv.id}
    listed = {c["id"] for c in client.get(API, headers=agent.headers, params={"limit": 100}).json()["items"]}
    assert target_id in listed and source_id not in listed

    again = client.post(f"{API}/{target_id}/merge", headers=agent.headers, json={"source_id": source_id})
    assert again.status_code == 409
    itself = client.post(f"{API}/{target_id}/merge", headers=agent.headers, json={"source_id": target_id})
    assert itself.status_code == 422 and fields_of(itself) == {"source_id"}


def test_delete_is_for_supervisors_and_is_soft(client, agent: Caller, supervisor: Caller, session: Session) -> None:
    customer = make_customer(session, email="gone@example.com")
    forbidden = client.delete(f"{API}/{customer.id}", headers=agent.headers)
    assert forbidden.status_code == 403
    assert error_of(forbidden)["code"] == "forbidden"

    assert client.delete(f"{API}/{customer.id}", headers=supervisor.headers).status_code == 204
    assert client.get(f"{API}/{customer.id}", headers=agent.headers).status_code == 404
    session.expire_all()
    row = session.get(Customer, customer.id)
    assert row is not None and row.deleted_at is not None
    # Its address is free again for a new customer.
    again = client.post(API, headers=agent.headers, json={"email": "gone@example.com"})
    assert again.status_code == 201


def test_deleting_through_a_merged_id_is_refused(client, supervisor: Caller, session: Session) -> None:
    target, source = make_customer(session), make_customer(session)
    client.post(f"{API}/{target.id}/merge", headers=supervisor.headers, json={"source_id": source.id})
    response = client.delete(f"{API}/{source.id}", headers=supervisor.headers)
    assert response.status_code == 409
    assert client.get(f"{API}/{target.id}", headers=supervisor.headers).status_code == 200


def test_scopes_are_enforced(client, session: Session) -> None:
    reader = caller(session, scopes=["customers:read"])
    customer = make_customer(session)
    assert client.get(f"{API}/{customer.id}", headers=reader.headers).status_code == 200
    for method, path, body in [
        ("POST", API, {"name": "x"}),
        ("PATCH", f"{API}/{customer.id}", {"name": "x"}),
        ("POST", f"{API}/{customer.id}/merge", {"source_id": customer.id}),
    ]:
        response = client.request(method, path, headers=reader.headers, json=body)
        assert response.status_code == 403, (method, path)
        assert error_of(response)["details"] == {"scope": "customers:write"}
    supervisor_reader = caller(session, role=Role.supervisor, scopes=["customers:read"])
    assert client.delete(f"{API}/{customer.id}", headers=supervisor_reader.headers).status_code == 403
    convo_only = caller(session, scopes=["conversations:read"])
    assert client.get(API, headers=convo_only.headers).status_code == 403


def test_customer_conversations_are_only_those_the_agent_may_read(
    client, session: Session, team, brand
) -> None:
    from cartdesk.auth import service as auth_service
    from cartdesk.auth.schemas import TeamCreate
    from cartdesk.conversations import service as conversations_service
    from cartdesk.conversations.schemas import ConversationUpdate
    from cartdesk.events.schemas import SYSTEM
    from tests.factories.auth import principal

    other_team = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Billing"))
    agent = caller(session, team_ids=[team.id])
    boss = principal(caller(session, role=Role.admin).user)
    mine = make_conversation(session, brand=brand, email="both@example.com")
    theirs = make_conversation(session, brand=brand, email="both@example.com")
    conversations_service.update(session, principal=boss, conversation=mine, update_in=ConversationUpdate(team_id=team.id))
    conversations_service.update(
        session, principal=boss, conversation=theirs, update_in=ConversationUpdate(team_id=other_team.id)
    )
    items = client.get(f"{API}/{mine.customer_id}/conversations", headers=agent.headers).json()["items"]
    assert [c["id"] for c in items] == [mine.id]
    total = session.scalar(select(func.count()).select_from(Conversation).where(Conversation.customer_id == mine.customer_id))
    assert total == 2
