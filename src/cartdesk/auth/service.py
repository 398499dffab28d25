"""Users, teams, passwords and API tokens.

Passwords are hashed with argon2id (argon2-cffi). API tokens are 256-bit random
strings stored as SHA-256 digests: a database leak reveals no usable token.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cartdesk.auth.models import ApiToken, Role, Team, User
from cartdesk.auth.schemas import (
    SCOPES,
    Principal,
    TeamCreate,
    TeamUpdate,
    TokenCreate,
    UserCreate,
    UserUpdate,
)
from cartdesk.db.engine import Database
from cartdesk.db.session import on_commit
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
TOKEN_PREFIX = "cd_"


# --- passwords -----------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- users ---------------------------------------------------------------------

def get(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_or_raise(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.", details={"user_id": user_id})
    return user


def get_by_email(session: Session, *, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def list_users(session: Session, *, active_only: bool = False) -> Sequence[User]:
    stmt = select(User).order_by(User.name)
    if active_only:
        stmt = stmt.where(User.is_active.is_(True))
    return session.scalars(stmt).all()


def create_user(session: Session, *, actor: Actor, user_in: UserCreate) -> User:
    email = str(user_in.email).strip().lower()
    if get_by_email(session, email=email) is not None:
        raise Conflict(f"A user with email {email} already exists.", details={"field": "email"})
    user = User(
        email=email,
        name=user_in.name.strip(),
        role=user_in.role,
        password_hash=hash_password(user_in.password) if user_in.password else None,
    )
    user.teams = _teams_by_ids(session, user_in.team_ids)
    session.add(user)
    session.flush()
    events_service.record(
        session, verb="user.created", actor=actor, subject_type="user", subject_id=user.id,
        data={"email": email, "role": str(user.role)},
    )
    return user


def update_user(session: Session, *, actor: Actor, user: User, user_in: UserUpdate) -> User:
    changes = user_in.model_dump(exclude_unset=True)
    before = {k: getattr(user, k) for k in ("name", "role", "is_active", "availability")}
    if "password" in changes and changes["password"]:
        user.password_hash = hash_password(changes.pop("password"))
        user.session_version += 1
    changes.pop("password", None)
    if "team_ids" in changes:
        user.teams = _teams_by_ids(session, changes.pop("team_ids") or [])
    for key, value in changes.items():
        setattr(user, key, value)
    if changes.get("is_active") is False:
        user.session_version += 1
    session.flush()
    on_commit(session, _bump_generation)
    after = {k: getattr(user, k) for k in before}
    events_service.record(
        session, verb="user.updated", actor=actor, subject_type="user", subject_id=user.id,
        data=events_service.diff({k: str(v) for k, v in before.items()}, {k: str(v) for k, v in after.items()}),
    )
    return user


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    user = get_by_email(session, email=email)
    if user is None:
        # Spend the same time as a real check so that response timing reveals nothing.
        verify_password(_dummy_hash(), password)
        return None
    if not user.is_active or not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Made on first use, not at import: hashing costs ~0.5 s and every CLI command imports this.
    return _hasher.hash("not-a-real-password")


def principal_for(user: User, *, scopes: Sequence[str] | None = None, via_token: bool = False) -> Principal:
    return Principal(
        user_id=user.id,
        name=user.name,
        email=user.email,
        role=Role(user.role),
        team_ids=tuple(t.id for t in user.teams),
        scopes=frozenset(scopes) if scopes is not None else frozenset(SCOPES),
        via_token=via_token,
    )


# --- teams ---------------------------------------------------------------------

def _teams_by_ids(session: Session, ids: Sequence[int]) -> list[Team]:
    if not ids:
        return []
    teams = session.scalars(select(Team).where(Team.id.in_(ids))).all()
    missing = set(ids) - {t.id for t in teams}
    if missing:
        raise ValidationFailed("Unknown team id(s).", details=[{"field": "team_ids", "missing": sorted(missing)}])
    return list(teams)


def _users_by_ids(session: Session, ids: Sequence[int]) -> list[User]:
    if not ids:
        return []
    users = session.scalars(select(User).where(User.id.in_(ids))).all()
    missing = set(ids) - {u.id for u in users}
    if missing:
        raise ValidationFailed("Unknown user id(s).", details=[{"field": "member_ids", "missing": sorted(missing)}])
    return list(users)


def list_teams(session: Session) -> Sequence[Team]:
    return session.scalars(select(Team).order_by(Team.name)).all()


def get_team_or_raise(session: Session, *, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.", details={"team_id": team_id})
    return team


def create_team(session: Session, *, actor: Actor, team_in: TeamCreate) -> Team:
    if session.scalar(select(Team).where(Team.name == team_in.name.strip())) is not None:
        raise Conflict(f"A team named {team_in.name!r} already exists.", details={"field": "name"})
    team = Team(name=team_in.name.strip(), description=team_in.description)
    team.members = _users_by_ids(session, team_in.member_ids)
    session.add(team)
    session.flush()
    events_service.record(
        session, verb="team.created", actor=actor, subject_type="team", subject_id=team.id,
        data={"name": team.name},
    )
    return team


def update_team(session: Session, *, actor: Actor, team: Team, team_in: TeamUpdate) -> Team:
    changes = team_in.model_dump(exclude_unset=True)
    if "member_ids" in changes:
        team.members = _users_by_ids(session, changes.pop("member_ids") or [])
    for key, value in changes.items():
        setattr(team, key, value)
    session.flush()
    events_service.record(
        session, verb="team.updated", actor=actor, subject_type="team", subject_id=team.id, data=changes
    )
    return team


# --- API tokens ----------------------------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, actor: Actor, user: User, token_in: TokenCreate) -> tuple[ApiToken, str]:
    """Returns the row and the token itself, which is never stored and shown once."""
    scopes = token_in.scopes if token_in.scopes is not None else list(SCOPES)
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValidationFailed(
            "Unknown scope(s).", details=[{"field": "scopes", "unknown": sorted(unknown), "allowed": SCOPES}]
        )
    if "admin" in scopes and user.role != Role.admin:
        raise Forbidden("Only admins can hold tokens with the admin scope.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=token_in.name,
        prefix=token[:10],
        token_hash=_digest(token),
        scopes=list(scopes),
        expires_at=token_in.expires_at,
    )
    session.add(row)
    session.flush()
    events_service.record(
        session, verb="token.created", actor=actor, subject_type="api_token", subject_id=row.id,
        data={"user_id": user.id, "name": row.name, "scopes": row.scopes},
    )
    return row, token


def list_tokens(session: Session, *, user_id: int) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)).all()


def revoke_token(session: Session, *, actor: Actor, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        on_commit(session, _bump_generation)
        events_service.record(
            session, verb="token.revoked", actor=actor, subject_type="api_token", subject_id=token.id, data={}
        )


# --- the token cache -------------------------------------------------------------
# Resolving a bearer token costs two queries on every API request. Principals are
# cached per process for a few seconds; any change that could revoke access
# (token revoked, user updated or deactivated) bumps a generation counter after
# commit, which empties this process's cache at once. Other processes notice within
# TOKEN_CACHE_SECONDS.
TOKEN_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, int, Principal, int, datetime | None]] = {}
_generation = 0


def _bump_generation() -> None:
    global _generation
    _generation += 1
    _cache.clear()


def cached_principal(token: str) -> tuple[Principal, int] | None:
    """(principal, token_id) if this token was resolved moments ago and nothing changed since."""
    entry = _cache.get(_digest(token))
    if entry is None:
        return None
    cached_at, generation, principal, token_id, expires_at = entry
    if generation != _generation or time.monotonic() - cached_at > TOKEN_CACHE_SECONDS:
        return None
    if expires_at is not None and expires_at <= utcnow():
        return None
    return principal, token_id


def remember_principal(token: str, principal: Principal, row: ApiToken) -> None:
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[_digest(token)] = (time.monotonic(), _generation, principal, row.id, row.expires_at)


# Touching last_used_at on every request would turn every read into a write; once a
# minute is plenty to tell a live token from a forgotten one.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def resolve_token(session: Session, *, token: str) -> tuple[ApiToken, User]:
    """The token's row and user, or Unauthorized for anything stale, revoked or unknown."""
    if not token.startswith(TOKEN_PREFIX):
        raise Unauthorized("The bearer token is not a Cartdesk API token.")
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("The bearer token is unknown or has been revoked.")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("The bearer token has expired.")
    if not row.user.is_active:
        raise Unauthorized("The token's user is deactivated.")
    return row, row.user


def should_touch(row: ApiToken, now: datetime) -> bool:
    return row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRANULARITY


def touch_token(database: Database, *, token_id: int, now: datetime) -> None:
    with database.transaction() as session:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


_touches: set[asyncio.Task[None]] = set()  # running touches: a task nobody holds may be collected


def touch_token_soon(database: Database, *, token_id: int, now: datetime) -> None:
    """Record a token's last use in a transaction of its own, after the request's commit.

    On an event loop with SQLite writer turns it must not simply begin a write: waiting
    for the writer lock there blocks the loop, and when the lock has been handed to a
    request of that loop, which then cannot run, everything waits out the lock's 10 s
    time-out (docs/performance.md). So it takes a writer turn of its own, in a task;
    anywhere else (a thread, PostgreSQL, a test's shared connection) it writes at once.
    """
    if database.has_writer_turns:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            task = loop.create_task(_touch_in_turn(database, token_id=token_id, now=now),
                                    name="cartdesk-token-touch")
            _touches.add(task)
            task.add_done_callback(_touches.discard)
            return
    touch_token(database, token_id=token_id, now=now)


async def _touch_in_turn(database: Database, *, token_id: int, now: datetime) -> None:
    try:
        async with database.writer_turn():
            touch_token(database, token_id=token_id, now=now)
    except Exception:  # a last-used time is worth a log line, not a failed request
        log.exception("could not record the last use of API token %s", token_id)
