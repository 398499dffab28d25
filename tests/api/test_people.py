"""Users, teams, the caller and their tokens; authentication and scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import ApiToken, Role
from cartdesk.auth.schemas import TokenCreate, UserUpdate
from cartdesk.events.models import Event
from cartdesk.events.schemas import SYSTEM
from tests.api.conftest import Caller, caller, error_of, fields_of
from tests.factories.auth import PASSWORD, auth_header


def test_admin_creates_lists_gets_and_updates_users(client, admin: Caller, team, session: Session) -> None:
    created = client.post("/api/v1/users", headers=admin.headers, json={
        "email": "New.Agent@Example.com", "name": "New Agent", "role": "agent", "password": "long enough pw",
        "team_ids": [team.id],
    })
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "new.agent@example.com"
    assert [t["name"] for t in user["teams"]] == ["Returns"]
    assert "password" not in user and "password_hash" not in user

    listed = client.get("/api/v1/users", headers=admin.headers).json()
    assert user["id"] in {u["id"] for u in listed["items"]} and listed["next_cursor"] is None
    assert client.get(f"/api/v1/users/{user['id']}", headers=admin.headers).json()["name"] == "New Agent"

    patched = client.patch(f"/api/v1/users/{user['id']}", headers=admin.headers,
                           json={"role": "supervisor", "team_ids": []})
    assert patched.status_code == 200, patched.text
    assert patched.json()["role"] == "supervisor" and patched.json()["teams"] == []
    verbs = session.scalars(select(Event.verb).where(Event.subject_type == "user", Event.subject_id == user["id"])).all()
    assert verbs == ["user.created", "user.updated"]

    duplicate = client.post("/api/v1/users", headers=admin.headers, json={"email": "new.agent@example.com", "name": "Again"})
    assert duplicate.status_code == 409


def test_user_bad_input(client, admin: Caller) -> None:
    response = client.post("/api/v1/users", headers=admin.headers, json={"email": "x@example.com", "name": "", "role": "boss"})
    assert response.status_code == 422
    assert fields_of(response) == {"name", "role"}
    response = client.post("/api/v1/users", headers=admin.headers, json={"email": "y@example.com", "name": "Y", "team_ids": [987654]})
    assert response.status_code == 422 and fields_of(response) == {"team_ids"}
    assert client.get("/api/v1/users/987654", headers=admin.headers).status_code == 404
    assert client.patch("/api/v1/users/987654", headers=admin.headers, json={"name": "n"}).status_code == 404


def test_the_last_admin_cannot_be_demoted_or_deactivated(client, admin: Caller, session: Session) -> None:
    others = [u for u in auth_service.list_users(session, active_only=True) if u.role == Role.admin and u.id != admin.user.id]
    for other in others:  # data of other tests never leaks, but be explicit
        auth_service.update_user(session, actor=SYSTEM, user=other, user_in=UserUpdate(role=Role.agent))
    demote = client.patch(f"/api/v1/users/{admin.user.id}", headers=admin.headers, json={"role": "agent"})
    assert demote.status_code == 409
    deactivate = client.patch(f"/api/v1/users/{admin.user.id}", headers=admin.headers, json={"is_active": False})
    assert deactivate.status_code == 409 and fields_of(deactivate) == {"is_active"}
    second = caller(session, role=Role.admin)
    assert client.patch(f"/api/v1/users/{admin.user.id}", headers=second.headers, json={"role": "agent"}).status_code == 200


def test_teams(client, admin: Caller, agent: Caller) -> None:
    created = client.post("/api/v1/teams", headers=admin.headers,
                          json={"name": "Shipping", "description": "Carriers", "member_ids": [agent.user.id]})
    assert created.status_code == 201, created.text
    team = created.json()
    assert [m["id"] for m in team["members"]] == [agent.user.id]
    assert team["id"] in {t["id"] for t in client.get("/api/v1/teams", headers=admin.headers).json()["items"]}
    patched = client.patch(f"/api/v1/teams/{team['id']}", headers=admin.headers, json={"name": "Logistics", "member_ids": []})
    assert patched.status_code == 200 and patched.json()["name"] == "Logistics" and patched.json()["members"] == []
    assert client.post("/api/v1/teams", headers=admin.headers, json={"name": "Logistics"}).status_code == 409
    unknown = client.post("/api/v1/teams", headers=admin.headers, json={"name": "Ghosts", "member_ids": [987654]})
    assert unknown.status_code == 422 and fields_of(unknown) == {"member_ids"}
    assert client.patch("/api/v1/teams/987654", headers=admin.headers, json={"name": "x"}).status_code == 404


def test_only_admins_manage_users_and_teams(client, agent: Caller, supervisor: Caller, session: Session) -> None:
    admin_without_admin_scope = caller(session, role=Role.admin, scopes=["conversations:read", "customers:read"])
    for who in (agent, supervisor, admin_without_admin_scope):
        for method, path, body in [
            ("GET", "/api/v1/users", None), ("POST", "/api/v1/users", {"email": "z@example.com", "name": "Z"}),
            ("GET", f"/api/v1/users/{agent.user.id}", None), ("PATCH", f"/api/v1/users/{agent.user.id}", {"name": "n"}),
            ("GET", "/api/v1/teams", None), ("POST", "/api/v1/teams", {"name": "T"}),
        ]:
            response = client.request(method, path, headers=who.headers, json=body)
            assert response.status_code == 403, (who.user.role, method, path)
            assert error_of(response)["code"] == "forbidden"


def test_me(client, agent: Caller, session: Session) -> None:
    me = client.get("/api/v1/me", headers=agent.headers)
    assert me.status_code == 200
    assert me.json()["id"] == agent.user.id and me.json()["via_token"] is True
    assert "admin" not in me.json()["scopes"]
    narrow = caller(session, scopes=["conversations:read"])
    assert client.get("/api/v1/me", headers=narrow.headers).json()["scopes"] == ["conversations:read"]


def test_tokens_are_shown_once_listed_by_prefix_and_revocable(client, agent: Caller) -> None:
    created = client.post("/api/v1/me/tokens", headers=agent.headers, json={"name": "zapier", "scopes": ["conversations:read"]})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token.startswith("cd_") and created.json()["prefix"] == token[:10]

    listed = client.get("/api/v1/me/tokens", headers=agent.headers).json()["items"]
    assert {t["name"] for t in listed} >= {"zapier"}
    assert all("token" not in t for t in listed)

    new_headers = auth_header(token)
    assert client.get("/api/v1/conversations", headers=new_headers).status_code == 200
    assert client.get("/api/v1/customers", headers=new_headers).status_code == 403

    revoked = client.delete(f"/api/v1/me/tokens/{created.json()['id']}", headers=agent.headers)
    assert revoked.status_code == 204
    after = client.get("/api/v1/me", headers=new_headers)
    assert after.status_code == 401
    assert error_of(after)["code"] == "unauthorized"
    assert after.headers["www-authenticate"] == "Bearer"
    assert client.delete(f"/api/v1/me/tokens/{created.json()['id']}", headers=agent.headers).status_code == 204


def test_nobody_revokes_someone_elses_token(client, agent: Caller, session: Session) -> None:
    other = caller(session)
    theirs = session.scalar(select(ApiToken).where(ApiToken.user_id == other.user.id))
    assert client.delete(f"/api/v1/me/tokens/{theirs.id}", headers=agent.headers).status_code == 404
    assert client.get("/api/v1/me", headers=other.headers).status_code == 200


def test_a_token_cannot_mint_a_broader_token(client, session: Session) -> None:
    narrow = caller(session, scopes=["conversations:read"])
    wider = client.post("/api/v1/me/tokens", headers=narrow.headers, json={"scopes": ["conversations:write"]})
    assert wider.status_code == 403
    default = client.post("/api/v1/me/tokens", headers=narrow.headers, json={})
    assert default.status_code == 201 and default.json()["scopes"] == ["conversations:read"]


def test_agents_get_every_scope_but_admin_by_default_and_cannot_ask_for_admin(client, agent: Caller) -> None:
    default = client.post("/api/v1/me/tokens", headers=agent.headers, json={"name": "all I can"})
    assert default.status_code == 201
    assert "admin" not in default.json()["scopes"] and "customers:write" in default.json()["scopes"]
    assert client.post("/api/v1/me/tokens", headers=agent.headers, json={"scopes": ["admin"]}).status_code == 403


def test_token_input_errors(client, agent: Caller) -> None:
    unknown = client.post("/api/v1/me/tokens", headers=agent.headers, json={"scopes": ["everything"]})
    assert unknown.status_code == 422 and fields_of(unknown) == {"scopes"}
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = client.post("/api/v1/me/tokens", headers=agent.headers, json={"expires_at": past})
    assert response.status_code == 422 and fields_of(response) == {"expires_at"}
    naive = client.post("/api/v1/me/tokens", headers=agent.headers, json={"expires_at": "2999-01-01T00:00:00"})
    assert naive.status_code == 422 and fields_of(naive) == {"expires_at"}
    assert client.delete("/api/v1/me/tokens/987654", headers=agent.headers).status_code == 404


def test_missing_malformed_unknown_and_expired_tokens_are_401(client, agent: Caller, session: Session) -> None:
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not-ours"},
        {"Authorization": "Bearer cd_" + "x" * 43},
    ):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, headers
        assert error_of(response)["code"] == "unauthorized"
    _, expired = auth_service.create_token(
        session, actor=SYSTEM, user=agent.user,
        token_in=TokenCreate(scopes=["conversations:read"], expires_at=datetime.now(UTC) - timedelta(seconds=1)),
    )
    response = client.get("/api/v1/me", headers=auth_header(expired))
    assert response.status_code == 401
    assert "expired" in error_of(response)["message"]


def test_a_deactivated_users_tokens_stop_working(client, admin: Caller, agent: Caller) -> None:
    assert client.get("/api/v1/me", headers=agent.headers).status_code == 200
    response = client.patch(f"/api/v1/users/{agent.user.id}", headers=admin.headers, json={"is_active": False})
    assert response.status_code == 200
    assert client.get("/api/v1/me", headers=agent.headers).status_code == 401


def test_password_is_hashed(session: Session, client, admin: Caller) -> None:
    created = client.post("/api/v1/users", headers=admin.headers,
                          json={"email": "hash@example.com", "name": "H", "password": PASSWORD})
    user = auth_service.get(session, user_id=created.json()["id"])
    assert user.password_hash and PASSWORD not in user.password_hash
    assert auth_service.verify_password(user.password_hash, PASSWORD)
