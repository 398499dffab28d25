from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role, User
from cartdesk.auth.schemas import Principal, TokenCreate, UserCreate
from cartdesk.events.schemas import SYSTEM

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


def make_user(session: Session, *, role: Role = Role.agent, name: str | None = None, email: str | None = None,
              team_ids: list[int] | None = None) -> User:
    n = next(_seq)
    return auth_service.create_user(
        session, actor=SYSTEM,
        user_in=UserCreate(email=email or f"user{n}@example.com", name=name or f"User {n}", role=role,
                           password=PASSWORD, team_ids=team_ids or []),
    )


def make_token(session: Session, *, user: User, scopes: list[str] | None = None) -> str:
    _, token = auth_service.create_token(session, actor=SYSTEM, user=user, token_in=TokenCreate(scopes=scopes))
    return token


def principal(user: User, *, scopes: list[str] | None = None) -> Principal:
    return auth_service.principal_for(user, scopes=scopes)


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
