"""REST API for people: users and teams (admins), and the caller's own profile and tokens.

The HTML login lives in the web app; this is the API only. Handlers are
``async def`` (db/deps.py says why); password hashing goes to a thread.
"""

from __future__ import annotations

from datetime import UTC

from fastapi import Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.orm import Session

from cartdesk.auth import service
from cartdesk.auth.deps import AdminPrincipal, CurrentPrincipal
from cartdesk.auth.models import Role, User
from cartdesk.auth.schemas import (
    SCOPES,
    Principal,
    TeamCreate,
    TeamRead,
    TeamUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from cartdesk.db.deps import DbSession
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router

router = Router(prefix="/api/v1", responses=error_responses(401, 403, 422))


class MeRead(UserRead):
    scopes: list[str]
    via_token: bool


# Lists have the same shape as every paged list of the API. A support team is small
# enough for one page; next_cursor is there so that paging can come without
# breaking clients.
class UserList(BaseModel):
    items: list[UserRead]
    next_cursor: str | None = None


class TeamList(BaseModel):
    items: list[TeamRead]
    next_cursor: str | None = None


class TokenList(BaseModel):
    items: list[TokenRead]
    next_cursor: str | None = None


def check_keeps_an_admin(session: Session, *, user: User, body: UserUpdate) -> None:
    changes = body.model_dump(exclude_unset=True)
    demoted = "role" in changes and changes["role"] != Role.admin
    deactivated = changes.get("is_active") is False
    if user.role != Role.admin or not user.is_active or not (demoted or deactivated):
        return
    if not any(u.role == Role.admin and u.id != user.id for u in service.list_users(session, active_only=True)):
        raise Conflict(
            "This is the last active admin; make someone else an admin first.",
            details={"field": "is_active" if deactivated else "role"},
        )


# --- users (admins) ------------------------------------------------------------------

@router.get("/users", response_model=UserList, tags=["users"], summary="List users")
async def list_users(session: DbSession, principal: AdminPrincipal) -> UserList:
    """Every user, by name, with their teams."""
    return UserList(items=[UserRead.model_validate(u) for u in service.list_users(session)])


@router.post(
    "/users", status_code=status.HTTP_201_CREATED, response_model=UserRead, tags=["users"],
    summary="Create a user", responses=error_responses(409),
)
async def create_user(body: UserCreate, session: DbSession, principal: AdminPrincipal) -> UserRead:
    """Add an agent, supervisor or admin. Without a password they cannot log in to the web
    app until one is set; they can still hold API tokens."""
    # Hashing a password takes tens of milliseconds by design: not on the event loop.
    user = await run_in_threadpool(service.create_user, session, actor=principal.actor, user_in=body)
    return UserRead.model_validate(user)


@router.get("/users/{user_id}", response_model=UserRead, tags=["users"], summary="Get a user",
            responses=error_responses(404))
async def get_user(user_id: int, session: DbSession, principal: AdminPrincipal) -> UserRead:
    """One user with their teams."""
    return UserRead.model_validate(service.get_or_raise(session, user_id=user_id))


@router.patch("/users/{user_id}", response_model=UserRead, tags=["users"], summary="Update a user",
              responses=error_responses(404, 409))
async def update_user(user_id: int, body: UserUpdate, session: DbSession, principal: AdminPrincipal) -> UserRead:
    """Change name, role, teams, availability or password, or deactivate (`is_active: false`).
    A new password or deactivation ends the user's web sessions. The last active admin
    cannot be demoted or deactivated (409): nobody could undo it."""
    user = service.get_or_raise(session, user_id=user_id)
    check_keeps_an_admin(session, user=user, body=body)
    user = await run_in_threadpool(service.update_user, session, actor=principal.actor, user=user, user_in=body)
    return UserRead.model_validate(user)


# --- teams (admins) ------------------------------------------------------------------

@router.get("/teams", response_model=TeamList, tags=["teams"], summary="List teams")
async def list_teams(session: DbSession, principal: AdminPrincipal) -> TeamList:
    """Every team with its members."""
    return TeamList(items=[TeamRead.model_validate(t) for t in service.list_teams(session)])


@router.post(
    "/teams", status_code=status.HTTP_201_CREATED, response_model=TeamRead, tags=["teams"],
    summary="Create a team", responses=error_responses(409),
)
async def create_team(body: TeamCreate, session: DbSession, principal: AdminPrincipal) -> TeamRead:
    """A team, optionally with its members. Agents see the conversations of their teams."""
    return TeamRead.model_validate(service.create_team(session, actor=principal.actor, team_in=body))


@router.patch("/teams/{team_id}", response_model=TeamRead, tags=["teams"], summary="Update a team",
              responses=error_responses(404, 409))
async def update_team(team_id: int, body: TeamUpdate, session: DbSession, principal: AdminPrincipal) -> TeamRead:
    """Rename, describe, or replace the member list (`member_ids`)."""
    team = service.get_team_or_raise(session, team_id=team_id)
    return TeamRead.model_validate(service.update_team(session, actor=principal.actor, team=team, team_in=body))


# --- the caller ----------------------------------------------------------------------

@router.get("/me", response_model=MeRead, tags=["me"], summary="Who am I")
async def me(session: DbSession, principal: CurrentPrincipal) -> MeRead:
    """The calling user, and the scopes of the token used (all of them for a web session)."""
    user = service.get_or_raise(session, user_id=principal.user_id)
    return MeRead.model_validate(
        {**UserRead.model_validate(user).model_dump(), "scopes": sorted(principal.scopes), "via_token": principal.via_token}
    )


@router.get("/me/tokens", response_model=TokenList, tags=["me"], summary="List my API tokens")
async def list_tokens(session: DbSession, principal: CurrentPrincipal) -> TokenList:
    """Your tokens, revoked ones included; only their prefixes are shown."""
    tokens = service.list_tokens(session, user_id=principal.user_id)
    return TokenList(items=[TokenRead.model_validate(t) for t in tokens])


def _grantable_scopes(principal: Principal) -> list[str]:
    # A token can only hand on what its caller holds. "admin" counts as every scope
    # in has_scope, and only admins may hold it, so it is granted by role and scope.
    if principal.role == Role.admin and "admin" in principal.scopes:
        return list(SCOPES)
    return [s for s in SCOPES if s in principal.scopes and s != "admin"]


def check_token_request(principal: Principal, body: TokenCreate) -> TokenCreate:
    grantable = _grantable_scopes(principal)
    if body.scopes is None:
        body = body.model_copy(update={"scopes": grantable})
    # Unknown names are the service's 422; known ones the caller cannot grant are a 403.
    beyond = sorted((set(body.scopes or []) & set(SCOPES)) - set(grantable))
    if beyond:
        raise Forbidden("A token cannot have scopes its creator does not hold.", details={"scopes": beyond})
    if body.expires_at is not None:
        if body.expires_at.tzinfo is None:
            raise ValidationFailed("expires_at needs a time zone (e.g. a trailing Z).", details=[{"field": "expires_at"}])
        if body.expires_at.astimezone(UTC) <= utcnow():
            raise ValidationFailed("expires_at is in the past.", details=[{"field": "expires_at"}])
    return body


@router.post(
    "/me/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated, tags=["me"],
    summary="Create an API token",
)
async def create_token(body: TokenCreate, session: DbSession, principal: CurrentPrincipal) -> TokenCreated:
    """A new bearer token for you. The token itself is in this response only; it is stored
    hashed. Scopes default to everything you may grant, and can never exceed what the calling
    token holds."""
    body = check_token_request(principal, body)
    user = service.get_or_raise(session, user_id=principal.user_id)
    row, token = service.create_token(session, actor=principal.actor, user=user, token_in=body)
    return TokenCreated.model_validate({**TokenRead.model_validate(row).model_dump(), "token": token})


@router.delete(
    "/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, tags=["me"],
    summary="Revoke an API token", responses=error_responses(404),
)
async def revoke_token(token_id: int, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The token stops working at once. Revoking twice is harmless."""
    token = next((t for t in service.list_tokens(session, user_id=principal.user_id) if t.id == token_id), None)
    if token is None:
        raise NotFound(f"Token {token_id} does not exist.", details={"id": token_id})
    service.revoke_token(session, actor=principal.actor, token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
