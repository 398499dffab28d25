"""Connecting, editing and disconnecting a shop (admins) and receiving its webhooks (the platform, signed).

A webhook is checked before anything is read from it: a bad signature is a 401 and
changes nothing. A verified first delivery is stored and applied by a job
(``commerce.webhook.apply``); a delivery id seen before is answered 200 and not applied
again, so the platform's retries and replays are harmless.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from fastapi import Request, status
from pydantic import BaseModel, ConfigDict, Field

from cartdesk.auth.deps import AdminPrincipal
from cartdesk.brands import service as brands_service
from cartdesk.commerce import connections, shop_sync, sync, tasks
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.db.deps import DbSession
from cartdesk.jobs import service as jobs_service
from cartdesk.kit.errors import Unauthorized, ValidationFailed
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router

router = Router(tags=["store"], responses=error_responses(401, 403, 422))


class ConnectionCreate(BaseModel):
    brand: int | str
    platform: Literal["shopify", "woocommerce"]
    base_url: str = Field(min_length=8, max_length=500, description="https://my-shop.myshopify.com or the WordPress site")
    credentials: dict[str, str] = Field(description='{"access_token"} (Shopify) or {"consumer_key", "consumer_secret"}')
    webhook_secret: str = Field(min_length=8, max_length=200)


class ConnectionEdit(BaseModel):
    base_url: str | None = Field(default=None, min_length=8, max_length=500)
    credentials: dict[str, str] | None = Field(default=None, description="Only the keys to change")
    webhook_secret: str | None = Field(default=None, min_length=8, max_length=200)


class ConnectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    platform: str
    base_url: str
    is_active: bool


@router.post("/api/v1/store-connections", status_code=status.HTTP_201_CREATED, response_model=ConnectionRead,
             summary="Connect a Shopify or WooCommerce shop")
async def create_connection(body: ConnectionCreate, session: DbSession, principal: AdminPrincipal) -> ConnectionRead:
    """Admins only. The first import is queued at once; point the platform's webhooks at
    `/webhooks/{platform}/{id}` to keep it current (a recurring sync catches up anything missed)."""
    brand = brands_service.resolve(session, ref=body.brand)
    connection = connections.create(session, actor=principal.actor, brand_id=brand.id, platform=body.platform,
                                    base_url=body.base_url, credentials_in=body.credentials,
                                    webhook_secret=body.webhook_secret)
    shop_sync.request_sync(session, connection=connection, key="first")
    return ConnectionRead.model_validate(connection)


@router.patch("/api/v1/store-connections/{connection_id}", response_model=ConnectionRead,
              summary="Change a shop's address or credentials", responses=error_responses(404))
async def edit_connection(connection_id: int, body: ConnectionEdit, session: DbSession,
                          principal: AdminPrincipal) -> ConnectionRead:
    """Admins only. Credentials not given keep their current values; nothing is echoed back."""
    connection = sync.get_connection(session, connection_id=connection_id)
    connections.update(session, actor=principal.actor, connection=connection, connection_in=connections.ConnectionUpdate(
        base_url=body.base_url, credentials=body.credentials, webhook_secret=body.webhook_secret))
    return ConnectionRead.model_validate(connection)


@router.delete("/api/v1/store-connections/{connection_id}", response_model=ConnectionRead,
               summary="Disconnect a shop", responses=error_responses(404))
async def disconnect_connection(connection_id: int, session: DbSession, principal: AdminPrincipal) -> ConnectionRead:
    """Admins only. Stops sync and webhooks (then answered 404); imported orders stay."""
    connection = sync.get_connection(session, connection_id=connection_id)
    connections.disconnect(session, actor=principal.actor, connection=connection)
    return ConnectionRead.model_validate(connection)


@router.post("/webhooks/{platform}/{connection_id}", include_in_schema=False)
async def receive_webhook(platform: str, connection_id: int, request: Request, session: DbSession) -> dict[str, str]:
    body = await request.body()
    connection = sync.get_connection(session, connection_id=connection_id)
    if connection.platform != platform:
        raise Unauthorized("This webhook is not for this connection.")
    connector = connector_for(connection, **tasks.CONNECTOR_OPTIONS)
    if not connector.verify(request.headers, body):
        raise Unauthorized("The webhook signature does not match.")
    delivery_id, topic = connector.delivery(request.headers)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationFailed("The webhook body is not JSON.") from exc
    # Without a delivery id, the same body is the same delivery.
    delivery_id = delivery_id or "sha256:" + hashlib.sha256(body).hexdigest()
    receipt = sync.record_delivery(session, connection=connection, delivery_id=delivery_id, topic=topic,
                                   payload=payload)
    if receipt is None:
        return {"status": "duplicate"}
    # Applied by a job: the platform gets its 200 at once (Shopify gives up after 5 s),
    # and a slow shop API (a refetch) never holds the request.
    jobs_service.enqueue(session, "commerce.webhook.apply", {"receipt_id": receipt.id},
                         dedupe_key=f"webhook-receipt:{receipt.id}")
    return {"status": "queued"}
