"""Who is calling: typed dependencies that routes declare.

They are ``async def`` on purpose (see db/deps.py): a sync dependency costs a
thread-pool hop on every request.

API routes accept a bearer token or, for the web app's own fetches, the session
cookie. Permission checks are dependencies too, so a route's signature says who
may call it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import Principal
from cartdesk.db.deps import request_session
from cartdesk.db.session import on_commit
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Forbidden, Unauthorized

SESSION_USER_KEY = "uid"
SESSION_VERSION_KEY = "sv"


def _from_bearer(request: Request, session: Session, token: str) -> Principal:
    cached = auth_service.cached_principal(token)
    if cached is not None:
        return cached[0]
    row, user = auth_service.resolve_token(session, token=token)
    principal = auth_service.principal_for(user, scopes=row.scopes, via_token=True)
    auth_service.remember_principal(token, principal, row)
    now = utcnow()
    if auth_service.should_touch(row, now):
        # Recorded after the request's own transaction (which may be read-only, and on
        # SQLite may hold the write lock) has finished.
        database, token_id = request.app.state.db, row.id
        on_commit(session, lambda: auth_service.touch_token_soon(database, token_id=token_id, now=now))
    return principal


def _from_cookie(request: Request, session: Session) -> Principal | None:
    data = request.scope.get("session") or {}
    user_id = data.get(SESSION_USER_KEY)
    if not user_id:
        return None
    user = auth_service.get(session, user_id=int(user_id))
    if user is None or not user.is_active or data.get(SESSION_VERSION_KEY) != user.session_version:
        return None
    return auth_service.principal_for(user)


async def optional_principal(request: Request, session: Session = Depends(request_session, scope="function")) -> Principal | None:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'.")
        principal = _from_bearer(request, session, token.strip())
    else:
        principal = _from_cookie(request, session)
    request.state.principal = principal
    return principal


async def current_principal(principal: Principal | None = Depends(optional_principal)) -> Principal:
    if principal is None:
        raise Unauthorized("Authentication required: send a bearer token or log in.")
    return principal


async def require_supervisor(principal: Principal = Depends(current_principal)) -> Principal:
    if principal.role not in (Role.admin, Role.supervisor):
        raise Forbidden("This needs a supervisor or admin.")
    return principal


async def require_admin(principal: Principal = Depends(current_principal)) -> Principal:
    if principal.role != Role.admin or not principal.has_scope("admin"):
        raise Forbidden("This needs an admin (and a token with the admin scope).")
    return principal


def require_scope(scope: str):  # type: ignore[no-untyped-def]
    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.has_scope(scope):
            raise Forbidden(f"This token lacks the {scope} scope.", details={"scope": scope})
        return principal

    return dependency


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
SupervisorPrincipal = Annotated[Principal, Depends(require_supervisor)]
ConversationsRead = Annotated[Principal, Depends(require_scope("conversations:read"))]
ConversationsWrite = Annotated[Principal, Depends(require_scope("conversations:write"))]
CustomersRead = Annotated[Principal, Depends(require_scope("customers:read"))]
CustomersWrite = Annotated[Principal, Depends(require_scope("customers:write"))]
OrdersRead = Annotated[Principal, Depends(require_scope("orders:read"))]
OrdersWrite = Annotated[Principal, Depends(require_scope("orders:write"))]
