"""CSRF: cookie-authenticated writes need the session's token; bearer-token calls do not."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.conversations import service as conversations_service
from tests.factories.auth import auth_header, make_token
from tests.factories.conversations import make_conversation
from tests.web.conftest import HX, PAGE, hx, login


def _bodies(session: Session, conversation_id: int) -> list[str]:
    return [m.body_text for m in conversations_service.list_messages(session, conversation_id=conversation_id)]


def test_a_form_post_without_the_token_is_refused_and_changes_nothing(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    login(client, agent)
    response = client.post(f"/conversations/{conversation.id}/messages", headers=PAGE,
                           data={"kind": "reply", "body": "forged"}, follow_redirects=False)
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert "forged" not in _bodies(session, conversation.id)


def test_a_wrong_token_in_the_header_is_refused(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    login(client, agent)
    response = client.post(f"/conversations/{conversation.id}/status", headers={**HX, "X-CSRF-Token": "nope"},
                           data={"status": "solved"})
    assert response.status_code == 403
    assert conversation.status == "new"


def test_the_right_token_in_a_form_field_or_header_is_accepted(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    token = login(client, agent)
    by_field = client.post(f"/conversations/{conversation.id}/messages", headers=PAGE, follow_redirects=False,
                           data={"kind": "note", "body": "by field", "csrf_token": token})
    assert by_field.status_code == 303
    by_header = client.post(f"/conversations/{conversation.id}/messages", headers=hx(token),
                            data={"kind": "note", "body": "by header"})
    assert by_header.status_code == 200
    assert {"by field", "by header"} <= set(_bodies(session, conversation.id))


def test_the_api_with_the_session_cookie_needs_the_token_too(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    token = login(client, agent)
    url = f"/api/v1/conversations/{conversation.id}/messages"
    refused = client.post(url, json={"kind": "note", "body": "cookie only"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    accepted = client.post(url, json={"kind": "note", "body": "cookie and token"}, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 201, accepted.text


def test_bearer_token_requests_are_exempt(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    api_token = make_token(session, user=agent, scopes=["conversations:read", "conversations:write"])
    login(client, agent)  # a session cookie rides along, but the bearer token is what authenticates
    response = client.post(f"/api/v1/conversations/{conversation.id}/messages", headers=auth_header(api_token),
                           json={"kind": "note", "body": "from a script"})
    assert response.status_code == 201, response.text


def test_the_token_changes_at_login(client, agent: User) -> None:
    before = client.get("/login", headers=PAGE).text
    after = login(client, agent)
    assert after and after not in before
