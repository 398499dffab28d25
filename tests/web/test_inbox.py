"""The inbox page: views, counts, filters, search, keyset paging, fragment vs full page."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Conversation
from cartdesk.conversations.schemas import ConversationUpdate
from tests.factories.auth import principal
from tests.factories.conversations import make_conversation
from tests.web.conftest import HX, PAGE, login


def _numbers(html: str) -> list[int]:
    """Conversation numbers listed in the rows, in order."""
    return [int(n) for n in re.findall(r'class="conv-number">#(\d+)<', html)]


def _count(html: str, view: str) -> int:
    match = re.search(rf'data-count="{view}">(\d+)<', html)
    assert match, f"no count for {view}"
    return int(match.group(1))


def _assign(session: Session, who: User, conversation: Conversation, assignee: User) -> None:
    conversations_service.update(session, principal=principal(who), conversation=conversation,
                                 update_in=ConversationUpdate(assignee_id=assignee.id))


def test_full_page_and_htmx_fragment_come_from_the_same_route(client, agent: User, brand, session: Session) -> None:
    first = make_conversation(session, brand=brand, subject="Parcel lost")
    login(client, agent)
    full = client.get("/", headers=PAGE)
    assert full.status_code == 200
    assert full.text.lstrip().lower().startswith("<!doctype html>")
    assert 'id="inbox-results"' in full.text and 'class="rail"' in full.text
    assert full.headers["vary"] == "HX-Request"

    fragment = client.get("/", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'class="rail"' not in fragment.text
    assert 'id="inbox-results"' in fragment.text and 'id="view-nav"' in fragment.text
    assert _numbers(fragment.text) == _numbers(full.text) == [first.number]


def test_views_split_the_work_and_count_it(client, agent: User, supervisor: User, brand, session: Session) -> None:
    mine = make_conversation(session, brand=brand, subject="Mine")
    theirs = make_conversation(session, brand=brand, subject="Supervisor's")
    nobody = make_conversation(session, brand=brand, subject="Nobody's")
    _assign(session, supervisor, mine, agent)
    _assign(session, supervisor, theirs, supervisor)
    solved = make_conversation(session, brand=brand, subject="Done")
    conversations_service.update(session, principal=principal(supervisor), conversation=solved,
                                 update_in=ConversationUpdate(status="solved"))
    login(client, agent)

    assert _numbers(client.get("/?view=mine", headers=HX).text) == [mine.number]
    assert _numbers(client.get("/?view=unassigned", headers=HX).text) == [nobody.number]
    assert set(_numbers(client.get("/?view=open", headers=HX).text)) == {mine.number, theirs.number, nobody.number}
    assert _numbers(client.get("/?view=solved", headers=HX).text) == [solved.number]
    page = client.get("/", headers=PAGE).text
    assert (_count(page, "mine"), _count(page, "unassigned"), _count(page, "open"), _count(page, "solved")) == (1, 1, 3, 1)


def test_filters_narrow_the_list_and_show_as_chips(client, agent: User, brand, session: Session) -> None:
    email = make_conversation(session, brand=brand, channel="email", subject="By mail")
    make_conversation(session, brand=brand, channel="chat", subject="By chat")
    login(client, agent)
    response = client.get("/?view=open&channel=email", headers=HX)
    assert _numbers(response.text) == [email.number]
    assert "Channel</span> Email" in response.text

    tagged = make_conversation(session, brand=brand, subject="Tagged")
    conversations_service.update(session, principal=principal(agent), conversation=tagged,
                                 update_in=ConversationUpdate(tags=["refund"], priority="urgent"))
    assert _numbers(client.get("/?tag=refund", headers=HX).text) == [tagged.number]
    assert _numbers(client.get("/?priority=urgent", headers=HX).text) == [tagged.number]
    # Nonsense values are ignored rather than failing the page.
    assert client.get("/?priority=nope&team=abc&channel=pigeon", headers=PAGE).status_code == 200


def test_load_more_pages_by_cursor_without_repeating_rows(client, agent: User, brand, session: Session) -> None:
    created = [make_conversation(session, brand=brand, subject=f"Case {i}") for i in range(28)]
    login(client, agent)
    first = client.get("/", headers=HX).text
    assert len(_numbers(first)) == 25
    more = re.search(r'hx-get="(/\?[^"]*cursor=[^"]+)"', first)
    assert more, "a full first page offers Load more"
    second = client.get(more.group(1).replace("&amp;", "&"), headers=HX).text
    assert len(_numbers(second)) == 3
    assert 'hx-get="/?' not in second.split('id="conv-rows"')[1]  # no further page
    assert sorted(_numbers(first) + _numbers(second)) == sorted(c.number for c in created)


def test_search_finds_words_in_messages_across_views(client, agent: User, brand, session: Session) -> None:
    hit = make_conversation(session, brand=brand, subject="Order question", body="The zebra print scarf is torn")
    make_conversation(session, brand=brand, subject="Other", body="Nothing to see")
    login(client, agent)
    response = client.get("/?view=solved&q=zebra", headers=HX)
    assert response.status_code == 200
    assert _numbers(response.text) == [hit.number]
    assert "<mark>zebra</mark>" in response.text
    assert _numbers(client.get("/?q=xylophone", headers=HX).text) == []
    assert "No conversations match" in client.get("/?q=xylophone", headers=HX).text


def test_an_empty_view_says_so(client, agent: User) -> None:
    login(client, agent)
    assert "All caught up" in client.get("/?view=mine", headers=PAGE).text
