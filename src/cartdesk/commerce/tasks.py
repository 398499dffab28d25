"""Background work for connected shops, as durable jobs keyed by ids.

Each handler is idempotent: a refund already carried out (it has the shop's id, or is no
longer pending) is not sent again; the shop is also given an idempotency key. A shop that
is down or rate-limiting raises, so the runner retries with backoff and the refund stays
visibly pending; a shop that refuses for good marks the refund failed and frees its amount.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cartdesk.commerce import refunds as refunds_service
from cartdesk.commerce import service, sync
from cartdesk.commerce.connectors.base import Rejected
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.commerce.models import Refund, RefundStatus
from cartdesk.jobs.registry import job

# Tests point connectors at their fake servers' transports through this hook.
CONNECTOR_OPTIONS: dict[str, Any] = {}


def _connector(session: Session, order):  # type: ignore[no-untyped-def]
    connection = sync.connection_for_order(session, order=order)
    if connection is None:
        raise Rejected(f"Order {order.number} comes from {order.source}, which is not connected any more.")
    return connector_for(connection, **CONNECTOR_OPTIONS)


@job("commerce.refund.execute")
def execute_refund(session: Session, payload: dict[str, Any]) -> None:
    refund = session.get(Refund, payload["refund_id"])
    if refund is None or refund.status != RefundStatus.pending or refund.external_id:
        return
    order = refund.order
    try:
        external_id = _connector(session, order).refund(
            order=order, refund=refund, line_ids={li.id: li.external_id for li in order.lines if li.external_id})
    except Rejected as exc:
        refunds_service.mark_failed(session, refund=refund, error=str(exc))
        return
    refunds_service.mark_succeeded(session, refund=refund, external_id=external_id)


@job("commerce.order.cancel")
def cancel_in_shop(session: Session, payload: dict[str, Any]) -> None:
    order = service.get_order_or_raise(session, order_id=payload["order_id"])
    _connector(session, order).cancel(order=order)
    refund_id = payload.get("refund_id")
    refund = session.get(Refund, refund_id) if refund_id else None
    if refund is not None and refund.status == RefundStatus.pending:
        # Cancelling in the shop refunds the payment there too.
        refunds_service.mark_succeeded(session, refund=refund)


@job("commerce.order.address")
def address_in_shop(session: Session, payload: dict[str, Any]) -> None:
    order = service.get_order_or_raise(session, order_id=payload["order_id"])
    _connector(session, order).update_address(order=order)


@job("commerce.order.reship")
def reship_in_shop(session: Session, payload: dict[str, Any]) -> None:
    original = service.get_order_or_raise(session, order_id=payload["order_id"])
    replacement = service.get_order_or_raise(session, order_id=payload["replacement_id"])
    if replacement.external_id:
        return
    replacement.external_id = _connector(session, original).create_replacement(order=replacement, original=original)


@job("commerce.order.refetch")
def refetch_order(session: Session, payload: dict[str, Any]) -> None:
    connection = sync.get_connection(session, connection_id=payload["connection_id"])
    connector = connector_for(connection, **CONNECTOR_OPTIONS)
    sync.upsert_order(session, connection=connection, ext=connector.to_order(connector.get_order(payload["order_external_id"])))
