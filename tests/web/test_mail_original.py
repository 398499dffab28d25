"""An inbound mail's original HTML: sanitised, served in a sandbox, only to agents who may see the conversation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import TeamCreate
from cartdesk.channels.email import ingest
from cartdesk.config import Settings
from cartdesk.conversations.models import Conversation, Message
from cartdesk.events.schemas import SYSTEM
from cartdesk.kit.storage import create_store
from tests.factories.auth import make_user
from tests.factories.email import make_mail, make_mailbox
from tests.web.conftest import PAGE, login

HOSTILE = """<html><head><style>body{background:red}</style><script>alert(1)</script></head><body>
<p onclick="steal()">Hello, the <b>blue</b> jacket arrived <i>torn</i>.</p>
<table><tr><td>Order</td><td>#4411</td></tr></table>
<img src="https://tracker.example/open.gif" width="1" height="1">
<a href="javascript:alert(2)">click</a> <iframe src="https://evil.example/"></iframe>
</body></html>"""


def _file(session: Session, settings: Settings, **kw: Any) -> Message:
    mailbox = make_mailbox(session)
    result = ingest.ingest(session, raw=make_mail(to=mailbox.address, **kw), source="imap",
                           store=create_store(settings), mailbox=mailbox)
    assert result.outcome == "created"
    return session.get_one(Message, result.message_id)


def test_agents_see_the_original_html_sanitised_and_sandboxed(session: Session, client: Any, settings: Settings) -> None:
    message = _file(session, settings, body="Hello, the blue jacket arrived torn.", html=HOSTILE)
    url = message.meta["original_html_url"]
    assert url == f"/mail/messages/{message.id}/original"
    agent = make_user(session, role=Role.agent)
    session.commit()
    login(client, agent)

    page = client.get(f"/conversations/{message.conversation_id}", headers=PAGE)
    assert page.status_code == 200
    assert f'<iframe class="msg-html-frame" sandbox src="{url}"' in page.text

    original = client.get(url, headers=PAGE)
    assert original.status_code == 200 and original.headers["content-type"].startswith("text/html")
    body = original.text
    assert "<b>blue</b>" in body and "<i>torn</i>" in body and "<td>#4411</td>" in body  # formatting kept
    for gone in ("<script", "alert(1)", "onclick", "steal()", "javascript:", "background:red", "evil.example"):
        assert gone not in body, gone
    policy = original.headers["content-security-policy"]
    # The tracking pixel stays in the markup but the browser may not fetch it: no remote loads.
    assert "sandbox" in policy and "default-src 'none'" in policy and "img-src data:" in policy
    assert "frame-ancestors 'self'" in policy and original.headers["x-content-type-options"] == "nosniff"


def test_no_html_no_page_and_others_conversations_stay_hidden(
    session: Session, client: Any, settings: Settings
) -> None:
    plain = _file(session, settings, body="Just text.")
    assert "original_html_url" not in plain.meta
    html = _file(session, settings, body="Hi", html="<p>Hi <b>there</b></p>")
    billing = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Billing"))
    session.get_one(Conversation, html.conversation_id).team_id = billing.id
    outsider = make_user(session, role=Role.agent)
    member = make_user(session, role=Role.agent, team_ids=[billing.id])
    session.commit()

    login(client, outsider)
    assert client.get(f"/mail/messages/{plain.id}/original", headers=PAGE).status_code == 404  # no HTML part
    assert client.get(f"/mail/messages/{html.id}/original", headers=PAGE).status_code == 404  # not their team
    assert client.get("/mail/messages/999999/original", headers=PAGE).status_code == 404
    client.post("/logout", headers=PAGE)
    client.cookies.clear()
    login(client, member)
    shown = client.get(f"/mail/messages/{html.id}/original", headers=PAGE)
    assert shown.status_code == 200 and "Hi <b>there</b>" in shown.text
