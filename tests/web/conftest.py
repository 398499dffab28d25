"""Helpers for page tests: a browser-like client that logs in through the real form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role, Team, User
from cartdesk.auth.schemas import TeamCreate
from cartdesk.brands.models import Brand
from cartdesk.events.schemas import SYSTEM
from tests.factories.auth import PASSWORD, make_user
from tests.factories.conversations import make_brand

# What a browser sends: pages want HTML, htmx adds its header (and our hx-headers add the token).
PAGE = {"Accept": "text/html,application/xhtml+xml"}
HX = {**PAGE, "HX-Request": "true"}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page should carry a CSRF token"
    return match.group(1)


def login(client: Any, user: User, *, password: str = PASSWORD) -> str:
    """Sign in through /login like a person would; returns the session's CSRF token."""
    form = client.get("/login", headers=PAGE)
    assert form.status_code == 200
    response = client.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": csrf_of(form.text), "next": "/"},
        headers=PAGE, follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/", headers=PAGE)
    assert page.status_code == 200
    return csrf_of(page.text)


def hx(token: str) -> dict[str, str]:
    """Headers of an htmx request from a logged-in page."""
    return {**HX, "X-CSRF-Token": token}


@pytest.fixture
def brand(session: Session) -> Brand:
    return make_brand(session)


@pytest.fixture
def team(session: Session) -> Team:
    return auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Front line"))


@pytest.fixture
def agent(session: Session, team: Team) -> User:
    return make_user(session, name="Maria Lopez", role=Role.agent, team_ids=[team.id])


@pytest.fixture
def supervisor(session: Session) -> User:
    return make_user(session, name="Sam Supervisor", role=Role.supervisor)
