"""Connected shops (admins): connect a Shopify or WooCommerce shop, check that Cartdesk can
reach it, start a sync, see how the last sync went, change its address or credentials, and
disconnect it (its imported orders stay). The sync itself is a durable job
(``commerce.store.sync``); the recurring ``commerce.store.sync_all`` runs it every 15 minutes."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from cartdesk.brands import service as brands_service
from cartdesk.commerce import connections, shop_sync, sync, tasks
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.commerce.models import StoreConnection
from cartdesk.db.deps import DbSession
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import AppError, Forbidden
from cartdesk.kit.routing import Router
from cartdesk.web.agent.common import sidebar
from cartdesk.web.agent.conversations import INLINE_HEADER
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.security import flash
from cartdesk.web.templating import is_htmx, render

router = Router()


def _admin(principal: Any) -> None:
    if not principal.is_admin:
        raise Forbidden("Only admins connect shops.")


def _page(request: Request, session: Session, principal: Any, *, error: str | None = None,
          form: dict[str, str] | None = None, created: dict[str, Any] | None = None,
          status_code: int = 200) -> Response:
    settings = request.app.state.settings
    return render(request, "agent/store_connections.html", {
        **sidebar(session, principal=principal, active=None), "nav": "shops",
        "connections": sync.list_connections(session), "held": shop_sync.orders_held(session),
        "brands": {b.id: b for b in brands_service.list_brands(session)},
        "base_url": settings.base_url.rstrip("/"), "error": error, "form": form or {}, "created": created,
    }, status_code=status_code)


@router.get("/store-connections", name="store_connections")
def connections_page(request: Request, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    return _page(request, session, principal)


@router.post("/store-connections")
async def connect_shop(request: Request, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    form = {k: str(v) for k, v in (await request.form()).items()}
    platform = form.get("platform", "")
    keys = ("access_token",) if platform == "shopify" else ("consumer_key", "consumer_secret")
    # WooCommerce lets the admin choose the webhook secret: we make a strong one when left empty.
    # (Shopify signs with the app's client secret, which only Shopify can give.)
    secret = form.get("webhook_secret", "").strip()
    generated = not secret and platform == "woocommerce"
    if generated:
        secret = secrets.token_urlsafe(32)
    try:
        connection = connections.create(
            session, actor=principal.actor, brand_id=int(form.get("brand") or 0), platform=platform,
            base_url=form.get("base_url", "").strip(), webhook_secret=secret,
            credentials_in={k: form.get(k, "").strip() for k in keys})
        shop_sync.request_sync(session, connection=connection, key="first")
    except (AppError, ValueError) as exc:
        session.rollback()
        message = exc.message if isinstance(exc, AppError) else "Choose a brand."
        return _page(request, session, principal, error=message, form=form, status_code=422)
    # Shown on this one response only: the secret is never displayed again.
    return _page(request, session, principal, created={
        "connection": connection, "secret": secret if generated else None}, status_code=201)


def _connection(session: Session, connection_id: int) -> StoreConnection:
    return sync.get_connection(session, connection_id=connection_id)


def _row(request: Request, session: Session, connection: StoreConnection, *, notice: tuple[str, str] | None,
         editing: bool = False, status_code: int = 200) -> Response:
    settings = request.app.state.settings
    response = render(request, "agent/_store_connection.html", {
        "cn": connection, "held": shop_sync.orders_held(session), "notice": notice, "editing": editing,
        "brands": {b.id: b for b in brands_service.list_brands(session)}, "base_url": settings.base_url.rstrip("/"),
    }, status_code=status_code)
    if status_code >= 400:
        response.headers[INLINE_HEADER] = "1"  # htmx swaps the card with the reason in it
    return response


def _answer(request: Request, session: Session, connection: StoreConnection, notice: tuple[str, str]) -> Response:
    if is_htmx(request):
        return _row(request, session, connection, notice=notice)
    flash(request, notice[1], notice[0])
    return RedirectResponse("/store-connections", status_code=303)


@router.post("/store-connections/{connection_id}/check")
def check_shop(request: Request, connection_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    connection = _connection(session, connection_id)
    connector = connector_for(connection, **tasks.CONNECTOR_OPTIONS)
    # Nothing is written here: end the transaction so that SQLite's write lock is not held
    # while the shop answers (up to the connector's timeout).
    session.commit()
    problem = shop_sync.check(connector)
    notice = ("error", problem) if problem else ("success", "Connected: the shop answered with these credentials.")
    return _answer(request, session, connection, notice)


@router.post("/store-connections/{connection_id}/sync")
def sync_now(request: Request, connection_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    connection = _connection(session, connection_id)
    # Keyed by the minute: a double click asks once.
    shop_sync.request_sync(session, connection=connection, key=f"now:{utcnow():%Y%m%d%H%M}", actor=principal.actor)
    notice = ("success", "Sync queued: new and changed orders come in within a minute.")
    return _answer(request, session, connection, notice)


@router.post("/store-connections/{connection_id}/edit")
async def edit_shop(request: Request, connection_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    """New address and/or credentials; an empty credential field keeps the current one."""
    _admin(principal)
    connection = _connection(session, connection_id)
    form = {k: str(v) for k, v in (await request.form()).items()}
    keys = connections.NEEDED[connection.platform]
    try:
        connections.update(session, actor=principal.actor, connection=connection,
                           connection_in=connections.ConnectionUpdate(
                               base_url=form.get("base_url"), webhook_secret=form.get("webhook_secret"),
                               credentials={k: form.get(k, "") for k in keys}))
    except AppError as exc:
        session.rollback()
        connection = _connection(session, connection_id)
        if is_htmx(request):
            return _row(request, session, connection, notice=("error", exc.message), editing=True, status_code=422)
        flash(request, exc.message, "error")
        return RedirectResponse("/store-connections", status_code=303)
    return _answer(request, session, connection, ("success", "Saved. Test the connection to check the new details."))


@router.post("/store-connections/{connection_id}/disconnect")
def disconnect_shop(request: Request, connection_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    connection = _connection(session, connection_id)
    connections.disconnect(session, actor=principal.actor, connection=connection)
    return _answer(request, session, connection, (
        "success", "Disconnected: no more syncs or webhooks from this shop. Its orders stay in Cartdesk."))
