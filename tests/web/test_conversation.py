"""The conversation page and every move on it, through forms like the browser sends them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Team, User
from cartdesk.auth.schemas import TeamCreate
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Direction, Status
from cartdesk.conversations.schemas import ConversationUpdate
from cartdesk.events.schemas import SYSTEM
from tests.factories.auth import make_user, principal
from tests.factories.conversations import make_conversation
from tests.web.conftest import PAGE, hx, login


def _messages(session: Session, conversation_id: int):  # type: ignore[no-untyped-def]
    return conversations_service.list_messages(session, conversation_id=conversation_id)


def test_the_page_shows_thread_customer_and_history(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand, name="Olivia Brooks", subject="Broken zip",
                                     body="The zip broke after <b>two</b> weeks")
    conversations_service.system_note(session, conversation=conversation, body="Order NW-1 was refunded")
    login(client, agent)
    page = client.get(f"/conversations/{conversation.id}", headers=PAGE)
    assert page.status_code == 200
    text = page.text
    assert f"#{conversation.number}" in text and "Broken zip" in text
    assert "Olivia Brooks" in text and conversation.customer.email in text
    assert "The zip broke after &lt;b&gt;two&lt;/b&gt; weeks" in text  # customer text is escaped, never markup
    assert 'class="msg msg-in"' in text and 'class="msg-system"' in text
    assert "started the conversation" in text


def test_reply_through_the_plain_form_redirects_back_and_sets_pending(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    token = login(client, agent)
    response = client.post(f"/conversations/{conversation.id}/messages", headers=PAGE, follow_redirects=False,
                           data={"csrf_token": token, "kind": "reply", "body": "It ships today."})
    assert response.status_code == 303
    assert response.headers["location"] == f"/conversations/{conversation.id}"
    reply = _messages(session, conversation.id)[-1]
    assert (reply.body_text, reply.direction, reply.author_user_id) == ("It ships today.", Direction.outbound, agent.id)
    session.refresh(conversation)
    assert conversation.status == Status.pending and conversation.assignee_id == agent.id
    page = client.get(response.headers["location"], headers=PAGE).text
    assert "It ships today." in page and "Reply sent" in page  # the flash survives the redirect


def test_htmx_reply_answers_with_the_fragment_and_a_notice(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    token = login(client, agent)
    response = client.post(f"/conversations/{conversation.id}/messages", headers=hx(token),
                           data={"kind": "reply", "body": "On its way", "status": "solved"})
    assert response.status_code == 200
    assert "<html" not in response.text
    for part in ('id="conv-notice"', 'id="thread"', 'id="conv-head"', 'id="conv-side"'):
        assert part in response.text
    assert "Reply sent" in response.text and "On its way" in response.text
    session.refresh(conversation)
    assert conversation.status == Status.solved


def test_a_note_stays_internal_and_keeps_the_status(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    token = login(client, agent)
    response = client.post(f"/conversations/{conversation.id}/messages", headers=hx(token),
                           data={"kind": "note", "body": "Checked with the warehouse"})
    assert response.status_code == 200 and "msg msg-note" in response.text
    assert _messages(session, conversation.id)[-1].direction == Direction.internal
    assert conversation.status == Status.new


def test_an_empty_reply_is_refused_inline(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    token = login(client, agent)
    response = client.post(f"/conversations/{conversation.id}/messages", headers=hx(token),
                           data={"kind": "reply", "body": "   "})
    assert response.status_code == 422
    assert response.headers["X-Cartdesk-Inline"] == "1"
    assert "Write a message first" in response.text
    assert len(_messages(session, conversation.id)) == 1


def test_status_moves_and_a_refused_transition_shows_inline(client, agent: User, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    token = login(client, agent)
    solved = client.post(f"/conversations/{conversation.id}/status", headers=hx(token), data={"status": "solved"})
    assert solved.status_code == 200 and "Marked as solved" in solved.text
    session.refresh(conversation)
    assert conversation.status == Status.solved

    conversations_service.update(session, principal=principal(agent), conversation=conversation,
                                 update_in=ConversationUpdate(status=Status.closed))
    refused = client.post(f"/conversations/{conversation.id}/status", headers=hx(token), data={"status": "open"})
    assert refused.status_code == 409
    assert "cannot go from closed to open" in refused.text
    assert 'class="notice notice-error"' in refused.text
    session.refresh(conversation)
    assert conversation.status == Status.closed


def test_assign_team_priority_and_tags(client, agent: User, team: Team, brand, session: Session) -> None:
    conversation = make_conversation(session, brand=brand)
    other = make_user(session, name="Tom Becker")
    token = login(client, agent)
    url = f"/conversations/{conversation.id}"

    assert "Assigned to you" in client.post(f"{url}/assign", headers=hx(token), data={"assignee": "me"}).text
    assert "Assigned to Tom Becker" in client.post(f"{url}/assign", headers=hx(token), data={"assignee": str(other.id)}).text
    assert "Moved to Front line" in client.post(f"{url}/team", headers=hx(token), data={"team": str(team.id)}).text
    assert "Priority set to high" in client.post(f"{url}/priority", headers=hx(token), data={"priority": "high"}).text
    added = client.post(f"{url}/tags", headers=hx(token), data={"tag": "Refund, VIP follow up"})
    assert added.status_code == 200
    session.refresh(conversation)
    assert (conversation.assignee_id, conversation.team_id, conversation.priority) == (other.id, team.id, "high")
    assert sorted(conversation.tag_names) == ["refund", "vip-follow-up"]

    removed = client.post(f"{url}/tags/remove", headers=hx(token), data={"tag": "refund"})
    assert "Removed tag refund" in removed.text
    session.refresh(conversation)
    assert conversation.tag_names == ["vip-follow-up"]
    history = client.get(url, headers=PAGE).text
    assert "assigned it to <strong>Tom Becker</strong>" in history
    assert "set the priority to <strong>High</strong>" in history

    unassigned = client.post(f"{url}/assign", headers=hx(token), data={"assignee": ""})
    assert "Unassigned." in unassigned.text


def test_merge_by_number(client, agent: User, brand, session: Session) -> None:
    target = make_conversation(session, brand=brand, email="same@example.org", body="First question")
    source = make_conversation(session, brand=brand, email="same@example.org", body="Second question")
    token = login(client, agent)
    response = client.post(f"/conversations/{target.id}/merge", headers=hx(token), data={"source": f"#{source.number}"})
    assert response.status_code == 200, response.text
    assert f"Merged #{source.number}" in response.text
    session.refresh(source)
    assert source.merged_into_id == target.id
    assert {"First question", "Second question"} <= {m.body_text for m in _messages(session, target.id)}

    missing = client.post(f"/conversations/{target.id}/merge", headers=hx(token), data={"source": "99999"})
    assert missing.status_code == 404 and "no conversation #99999" in missing.text
    merged_page = client.get(f"/conversations/{source.id}", headers=PAGE).text
    assert "was merged into" in merged_page and 'id="composer"' not in merged_page


def test_an_agent_cannot_open_another_teams_conversation(client, agent: User, brand, session: Session) -> None:
    billing = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Billing"))
    supervisor = make_user(session, role="supervisor")
    hidden = make_conversation(session, brand=brand, subject="Chargeback dispute")
    conversations_service.update(session, principal=principal(supervisor), conversation=hidden,
                                 update_in=ConversationUpdate(team_id=billing.id))
    token = login(client, agent)

    page = client.get(f"/conversations/{hidden.id}", headers=PAGE)
    assert page.status_code == 404
    assert "Nothing here" in page.text and "Chargeback dispute" not in page.text
    move = client.post(f"/conversations/{hidden.id}/messages", headers=hx(token), data={"kind": "note", "body": "x"})
    assert move.status_code == 404
    assert len(_messages(session, hidden.id)) == 1
    assert "Chargeback dispute" not in client.get("/?view=open", headers=PAGE).text


def test_an_unknown_conversation_is_a_404_page(client, agent: User) -> None:
    login(client, agent)
    response = client.get("/conversations/424242", headers=PAGE)
    assert response.status_code == 404 and "Back to the inbox" in response.text
