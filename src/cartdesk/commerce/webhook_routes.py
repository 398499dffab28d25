"""Connecting a shop (admins) and receiving its webhooks (the platform, signed).

A webhook is checked before anything is read from it: a bad signature is a 401 and
changes nothing. A delivery id seen before is answered 200 and not applied again, so
the platform's retries and replays are harmless.
"""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from cartdesk.auth.deps import AdminPrincipal
from cartdesk.brands import service as brands_service
from cartdesk.commerce import sync, tasks
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import Unauthorized, ValidationFailed
from cartdesk.kit.openapi import error_responses

router = APIRouter(tags=["store"], responses=error_responses(401, 403, 422))


class ConnectionCreate(BaseModel):
    brand: int | str
    platform: Literal["shopify", "woocommerce"]
    base_url: str = Field(min_length=8, max_length=500, description="https://my-shop.myshopify.com or the WordPress site")
    credentials: dict[str, str] = Field(description='{"access_token"} (Shopify) or {"consumer_key", "consumer_secret"}')
    webhook_secret: str = Field(min_length=8, max_length=200)


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
    """Admins only. Point the platform's webhooks at `/webhooks/{platform}/{id}` and run
    `cartdesk store-import {id}` once; webhooks keep it current after that."""
    brand = brands_service.resolve(session, ref=body.brand)
    connection = sync.create_connection(session, actor=principal.actor, brand_id=brand.id, platform=body.platform,
                                        base_url=body.base_url, credentials=body.credentials,
                                        webhook_secret=body.webhook_secret)
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
    if not sync.record_delivery(session, connection=connection, delivery_id=delivery_id, topic=topic):
        return {"status": "duplicate"}
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationFailed("The webhook body is not JSON.") from exc
    return {"status": sync.apply_webhook(session, connection=connection, connector=connector, topic=topic,
                                         payload=payload)}
