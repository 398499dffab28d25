"""The admin page for a brand's chat widget: admins only, saving through the same rules as
the API (422 with the reasons on the form), the identity secret shown once, the snippet."""

from __future__ import annotations

import html
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role, User
from cartdesk.brands.models import Brand
from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat.identity import identity_hash, verify_identity
from cartdesk.events.models import Event
from tests.factories.auth import make_user
from tests.web.conftest import PAGE, hx, login

FORM = {"enabled": "on", "color": "#0f766e", "position": "left", "greeting": "Hello from the trail!",
        "offline_message": "Back at nine.", "reply_time": "under an hour", "prechat_email": "on",
        "hours_mon": "09:00-12:00, 13:00-17:30", "hours_sat": "10:00-14:00"}


def _admin(session: Session) -> User:
    return make_user(session, name="Ada Admin", role=Role.admin)


def test_only_admins_see_the_page_and_its_rail_link(client, agent: User, brand: Brand, session: Session) -> None:
    login(client, agent)
    assert 'href="/settings/chat"' not in client.get("/", headers=PAGE).text
    assert client.get("/settings/chat", headers=PAGE).status_code == 403
    token = login(client, _admin(session))
    home = client.get("/", headers=PAGE).text
    assert 'href="/settings/chat"' in home
    page = client.get(f"/settings/chat?brand={brand.slug}", headers=PAGE)
    assert page.status_code == 200
    # The snippet is exactly what widget.js reads: its src and data-brand.
    snippet = f'<script src="http://testserver/widget.js" data-brand="{brand.slug}" async></script>'
    shown = re.search(r'id="embed-snippet"[^>]*>([^<]+)</textarea>', page.text).group(1)
    assert html.unescape(shown) == snippet
    assert f'href="/demo/shop?brand={brand.slug}"' in page.text
    assert client.post(f"/settings/chat/{brand.slug}", data=FORM, headers=hx(token)).status_code == 200
    login(client, agent)
    assert client.post(f"/settings/chat/{brand.slug}", data=FORM, headers=hx(token)).status_code in (403, 419)


def test_saving_changes_what_the_widget_gets(client, brand: Brand, session: Session) -> None:
    token = login(client, _admin(session))
    response = client.post(f"/settings/chat/{brand.slug}", data=FORM, headers=hx(token))
    assert response.status_code == 200, response.text
    assert "Saved." in response.text
    config = client.get(f"/widget/api/config?brand={brand.slug}").json()
    assert config["color"] == "#0f766e" and config["position"] == "left"
    assert config["greeting"] == "Hello from the trail!" and config["reply_time"] == "under an hour"
    assert config["prechat"] == {"name": False, "email": True}
    assert config["business_hours"] == {"mon": [["09:00", "12:00"], ["13:00", "17:30"]], "sat": [["10:00", "14:00"]]}
    verbs = session.scalars(select(Event.verb).where(Event.subject_type == "brand", Event.subject_id == brand.id)).all()
    assert "chat.settings_updated" in verbs
    # The page shows what was saved.
    page = client.get(f"/settings/chat?brand={brand.slug}", headers=PAGE).text
    assert 'value="09:00-12:00, 13:00-17:30"' in page and 'value="under an hour"' in page


def test_bad_input_is_shown_on_the_form_and_nothing_is_saved(client, brand: Brand, session: Session) -> None:
    token = login(client, _admin(session))
    bad = {**FORM, "color": "teal", "hours_tue": "17:00-09:00", "hours_wed": "nine to five", "reply_time": " "}
    response = client.post(f"/settings/chat/{brand.slug}", data=bad, headers=hx(token))
    assert response.status_code == 422 and response.headers["X-Cartdesk-Inline"]
    errors = dict(re.findall(r'id="err-([a-z_]+)">([^<]+)<', response.text))
    assert set(errors) == {"color", "hours_tue", "hours_wed", "reply_time"}, errors
    assert "hex colour" in errors["color"] and "start before end" in errors["hours_tue"] and "09:00-17:00" in errors["hours_wed"]
    assert 'value="teal"' in response.text  # what was typed stays on the form
    assert chat_service.widget_settings(session, brand_id=brand.id).id is None
    assert client.get(f"/widget/api/config?brand={brand.slug}").json()["color"] == "#4f46e5"


def test_the_identity_secret_is_shown_once_and_regenerating_invalidates_the_old(
    client, brand: Brand, session: Session
) -> None:
    token = login(client, _admin(session))
    first = client.post(f"/settings/chat/{brand.slug}/secret", headers=hx(token))
    assert first.status_code == 200
    secret = re.search(r'id="new-secret"[^>]*value="([^"]+)"', first.text).group(1)
    assert "won't be shown again" in first.text
    assert verify_identity(chat_service.widget_settings(session, brand_id=brand.id).identity_secret,
                           value="u-42", given_hash=identity_hash(secret, "u-42"))
    again = client.get(f"/settings/chat?brand={brand.slug}", headers=PAGE).text
    assert secret not in again and f"…{secret[-4:]}" in again
    second = client.post(f"/settings/chat/{brand.slug}/secret", headers=hx(token))
    new = re.search(r'id="new-secret"[^>]*value="([^"]+)"', second.text).group(1)
    assert new != secret
    current = chat_service.widget_settings(session, brand_id=brand.id).identity_secret
    assert not verify_identity(current, value="u-42", given_hash=identity_hash(secret, "u-42"))
    assert verify_identity(current, value="u-42", given_hash=identity_hash(new, "u-42"))


def test_routing_settings_on_the_form(client, brand: Brand, session: Session) -> None:
    from cartdesk.auth import service as auth_service
    from cartdesk.auth.schemas import TeamCreate
    from cartdesk.events.schemas import SYSTEM

    team = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Chat desk"))
    token = login(client, _admin(session))
    page = client.get(f"/settings/chat?brand={brand.slug}", headers=PAGE).text
    assert 'name="routing" checked' in page and 'name="max_chats_per_agent" value="3"' in page
    assert f'<option value="{team.id}" >Chat desk</option>' in page

    form = {**FORM, "routing": "on", "routing_team_id": str(team.id), "max_chats_per_agent": "5"}
    response = client.post(f"/settings/chat/{brand.slug}", data=form, headers=hx(token))
    assert response.status_code == 200, response.text
    row = chat_service.widget_settings(session, brand_id=brand.id)
    assert (row.routing, row.routing_team_id, row.max_chats_per_agent) == (True, team.id, 5)
    assert f'<option value="{team.id}" selected>Chat desk</option>' in response.text

    for bad in ("0", "lots", ""):
        response = client.post(f"/settings/chat/{brand.slug}", data={**form, "max_chats_per_agent": bad},
                               headers=hx(token))
        assert response.status_code == 422
        assert "A whole number from 1 to 50." in response.text
    response = client.post(f"/settings/chat/{brand.slug}", data={**form, "routing_team_id": "999999"},
                           headers=hx(token))
    assert response.status_code == 422 and "Pick one of the teams." in response.text
    session.expire_all()
    row = chat_service.widget_settings(session, brand_id=brand.id)
    assert (row.routing, row.routing_team_id, row.max_chats_per_agent) == (True, team.id, 5)  # unchanged

    off = {k: v for k, v in form.items() if k not in ("routing", "routing_team_id")}
    assert client.post(f"/settings/chat/{brand.slug}", data=off, headers=hx(token)).status_code == 200
    session.expire_all()
    row = chat_service.widget_settings(session, brand_id=brand.id)
    assert (row.routing, row.routing_team_id) == (False, None)
