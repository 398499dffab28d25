"""Callers for API tests: users of each role with a bearer token, created through the services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role, Team, User
from cartdesk.auth.schemas import TeamCreate
from cartdesk.brands.models import Brand
from cartdesk.events.schemas import SYSTEM
from tests.factories.auth import auth_header, make_token, make_user
from tests.factories.conversations import make_brand


@dataclass
class Caller:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return auth_header(self.token)


def caller(session: Session, *, role: Role = Role.agent, scopes: list[str] | None = None,
           team_ids: list[int] | None = None) -> Caller:
    user = make_user(session, role=role, team_ids=team_ids)
    if scopes is None and role != Role.admin:
        scopes = [s for s in auth_service.SCOPES if s != "admin"]
    return Caller(user=user, token=make_token(session, user=user, scopes=scopes))


@pytest.fixture
def brand(session: Session) -> Brand:
    return make_brand(session)


@pytest.fixture
def admin(session: Session) -> Caller:
    return caller(session, role=Role.admin)


@pytest.fixture
def supervisor(session: Session) -> Caller:
    return caller(session, role=Role.supervisor)


@pytest.fixture
def agent(session: Session) -> Caller:
    return caller(session)


@pytest.fixture
def team(session: Session) -> Team:
    return auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Returns"))


def error_of(response: Any) -> dict[str, Any]:
    """The error object of a failing response, after checking it has the one error shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


def fields_of(response: Any) -> set[str]:
    """The fields an error names: validation errors list them, conflicts carry one."""
    details = error_of(response)["details"] or []
    if isinstance(details, dict):
        details = [details]
    return {d.get("field") for d in details}
