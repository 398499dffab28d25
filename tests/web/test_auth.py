"""Signing in and out, the session cookie, login throttling and the login redirect."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import User
from cartdesk.auth.schemas import UserUpdate
from cartdesk.events.schemas import SYSTEM
from cartdesk.web.setup import SESSION_COOKIE
from tests.web.conftest import HX, PAGE, csrf_of, login


def test_logged_out_pages_redirect_to_login_with_next(client, brand) -> None:
    response = client.get("/", headers=PAGE, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"

    response = client.get("/conversations/7?x=1", headers=PAGE, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/conversations/7%3Fx%3D1"

    page = client.get(response.headers["location"], headers=PAGE)
    assert page.status_code == 200
    assert 'name="next" value="/conversations/7?x=1"' in page.text


def test_logged_out_htmx_request_is_told_to_navigate_to_login(client) -> None:
    response = client.get("/?view=mine", headers={**HX, "HX-Current-URL": "http://testserver/?view=mine"},
                          follow_redirects=False)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=/%3Fview%3Dmine"


def test_login_sets_a_signed_httponly_lax_cookie_and_follows_next(client, agent: User, session: Session) -> None:
    form = client.get("/login?next=/customers", headers=PAGE)
    response = client.post("/login", headers=PAGE, follow_redirects=False, data={
        "email": agent.email.upper(), "password": "correct horse battery", "csrf_token": csrf_of(form.text),
        "next": "/customers",
    })
    assert response.status_code == 303
    assert response.headers["location"] == "/customers"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(SESSION_COOKIE + "=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    page = client.get("/customers", headers=PAGE)
    assert page.status_code == 200
    assert agent.name in page.text


def test_next_never_leaves_the_site(client, agent: User) -> None:
    form = client.get("/login", headers=PAGE)
    response = client.post("/login", headers=PAGE, follow_redirects=False, data={
        "email": agent.email, "password": "correct horse battery", "csrf_token": csrf_of(form.text),
        "next": "//evil.example/steal",
    })
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_wrong_password_shows_the_form_again(client, agent: User) -> None:
    form = client.get("/login", headers=PAGE)
    response = client.post("/login", headers=PAGE, follow_redirects=False, data={
        "email": agent.email, "password": "nope", "csrf_token": csrf_of(form.text),
    })
    assert response.status_code == 400
    assert "don&#39;t match" in response.text
    assert client.get("/", headers=PAGE, follow_redirects=False).status_code == 303


def test_login_form_without_its_csrf_token_is_refused(client, agent: User) -> None:
    client.get("/login", headers=PAGE)
    response = client.post("/login", headers=PAGE, follow_redirects=False, data={
        "email": agent.email, "password": "correct horse battery", "csrf_token": "forged",
    })
    assert response.status_code == 403
    assert client.get("/", headers=PAGE, follow_redirects=False).status_code == 303


def test_repeated_failures_lock_the_account_out_even_with_the_right_password(client, agent: User) -> None:
    token = csrf_of(client.get("/login", headers=PAGE).text)
    for _ in range(5):
        response = client.post("/login", headers=PAGE, data={
            "email": agent.email, "password": "guess", "csrf_token": token,
        })
        assert response.status_code == 400
    response = client.post("/login", headers=PAGE, follow_redirects=False, data={
        "email": agent.email, "password": "correct horse battery", "csrf_token": token,
    })
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text


def test_logout_needs_the_token_and_ends_the_session(client, agent: User) -> None:
    token = login(client, agent)
    refused = client.post("/logout", headers=PAGE, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/", headers=PAGE, follow_redirects=False).status_code == 200

    response = client.post("/logout", headers=PAGE, data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "signed out" in client.get("/login", headers=PAGE).text
    assert client.get("/", headers=PAGE, follow_redirects=False).status_code == 303


def test_a_password_change_ends_existing_sessions(client, agent: User, session: Session) -> None:
    login(client, agent)
    auth_service.update_user(session, actor=SYSTEM, user=agent, user_in=UserUpdate(password="a new password 123"))
    session.flush()
    assert client.get("/", headers=PAGE, follow_redirects=False).status_code == 303


def test_an_error_page_is_html_for_people(client, agent: User) -> None:
    login(client, agent)
    response = client.get("/no/such/page", headers=PAGE)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "Nothing here" in response.text
