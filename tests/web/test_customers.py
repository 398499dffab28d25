"""Customer pages: the searchable list and one customer's page."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import User
from cartdesk.auth.schemas import TeamCreate
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.schemas import ConversationUpdate
from cartdesk.events.schemas import SYSTEM
from tests.factories.auth import make_user, principal
from tests.factories.conversations import make_conversation
from tests.factories.customers import make_customer
from tests.web.conftest import HX, PAGE, login


def test_the_list_searches_by_name_email_or_phone(client, agent: User, session: Session) -> None:
    make_customer(session, name="Olivia Brooks", email="olivia@example.net", phone="+1 555 0100")
    make_customer(session, name="Pablo Ortega", email="pablo@example.net")
    login(client, agent)
    everyone = client.get("/customers", headers=PAGE).text
    assert "Olivia Brooks" in everyone and "Pablo Ortega" in everyone

    by_name = client.get("/customers?q=oliv", headers=HX)
    assert by_name.status_code == 200 and "<html" not in by_name.text
    assert "Olivia Brooks" in by_name.text and "Pablo Ortega" not in by_name.text
    assert "Pablo Ortega" in client.get("/customers?q=pablo@", headers=HX).text
    assert "No customers match" in client.get("/customers?q=zzz", headers=HX).text


def test_a_customer_page_lists_only_conversations_the_agent_may_read(client, agent: User, brand, session: Session) -> None:
    seen = make_conversation(session, brand=brand, email="kim@example.org", name="Hannah Kim", subject="Promo code")
    hidden = make_conversation(session, brand=brand, email="kim@example.org", subject="Chargeback")
    other_team = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Billing"))
    boss = make_user(session, role="supervisor")
    conversations_service.update(session, principal=principal(boss), conversation=hidden,
                                 update_in=ConversationUpdate(team_id=other_team.id))
    login(client, agent)
    page = client.get(f"/customers/{seen.customer_id}", headers=PAGE)
    assert page.status_code == 200
    assert "Hannah Kim" in page.text and "kim@example.org" in page.text
    assert "Promo code" in page.text and "Chargeback" not in page.text


def test_a_merged_customer_redirects_to_the_survivor(client, agent: User, session: Session) -> None:
    survivor = make_customer(session, name="Ana")
    absorbed = make_customer(session, name="Ana (old)")
    conversations_service.merge_customers(session, principal=principal(agent), target=survivor, source=absorbed)
    login(client, agent)
    response = client.get(f"/customers/{absorbed.id}", headers=PAGE, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/customers/{survivor.id}"
    assert client.get("/customers/987654", headers=PAGE).status_code == 404
