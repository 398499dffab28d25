"""Background work for connected shops, as durable jobs keyed by ids.

Each handler is idempotent: a refund already carried out (it has the shop's id, or is no
longer pending) is not sent again; the shop is also given an idempotency key. A shop that
is down or rate-limiting raises, so the runner retries with backoff and the refund stays
visibly pending; a shop that refuses for good marks the refund failed and frees its amount.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from cartdesk.commerce import refunds as refunds_service
from cartdesk.commerce import service, shop_sync, sync
from cartdesk.commerce.connectors.base import Rejected
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.commerce.models import Refund, RefundStatus, WebhookReceipt
from cartdesk.config import get_settings
from cartdesk.jobs.recurring import recurring
from cartdesk.jobs.registry import job
from cartdesk.kit.clock import utcnow

# Tests point connectors at their fake servers' transports through this hook.
CONNECTOR_OPTIONS: dict[str, Any] = {}


@contextmanager
def _connector(session: Session, order):  # type: ignore[no-untyped-def]
    connection = sync.connection_for_order(session, order=order)
    if connection is None:
        raise Rejected(f"Order {order.number} comes from {order.source}, which is not connected any more.")
    yield from _opened(connector_for(connection, **CONNECTOR_OPTIONS))


@contextmanager
def _connection_connector(connection):  # type: ignore[no-untyped-def]
    yield from _opened(connector_for(connection, **CONNECTOR_OPTIONS))


def _opened(connector):  # type: ignore[no-untyped-def]
    # A job's connector talks to the shop once or twice: its connections are closed when the job is done.
    try:
        yield connector
    finally:
        connector.http.close()


@job("commerce.refund.execute")
def execute_refund(session: Session, payload: dict[str, Any]) -> None:
    refund = session.get(Refund, payload["refund_id"])
    if refund is None or refund.status != RefundStatus.pending or refund.external_id:
        return
    order = refund.order
    try:
        with _connector(session, order) as connector:
            external_id = connector.refund(
                order=order, refund=refund, line_ids={li.id: li.external_id for li in order.lines if li.external_id})
    except Rejected as exc:
        refunds_service.mark_failed(session, refund=refund, error=str(exc))
        return
    refunds_service.mark_succeeded(session, refund=refund, external_id=external_id)


@job("commerce.order.cancel")
def cancel_in_shop(session: Session, payload: dict[str, Any]) -> None:
    order = service.get_order_or_raise(session, order_id=payload["order_id"])
    with _connector(session, order) as connector:
        connector.cancel(order=order)
    refund_id = payload.get("refund_id")
    refund = session.get(Refund, refund_id) if refund_id else None
    if refund is not None and refund.status == RefundStatus.pending:
        # Cancelling in the shop refunds the payment there too.
        refunds_service.mark_succeeded(session, refund=refund)


@job("commerce.order.address")
def address_in_shop(session: Session, payload: dict[str, Any]) -> None:
    order = service.get_order_or_raise(session, order_id=payload["order_id"])
    with _connector(session, order) as connector:
        connector.update_address(order=order)


@job("commerce.order.reship")
def reship_in_shop(session: Session, payload: dict[str, Any]) -> None:
    original = service.get_order_or_raise(session, order_id=payload["order_id"])
    replacement = service.get_order_or_raise(session, order_id=payload["replacement_id"])
    if replacement.external_id:
        return
    with _connector(session, original) as connector:
        replacement.external_id = connector.create_replacement(order=replacement, original=original)


@job("commerce.order.refetch")
def refetch_order(session: Session, payload: dict[str, Any]) -> None:
    connection = sync.get_connection(session, connection_id=payload["connection_id"])
    with _connection_connector(connection) as connector:
        raw = connector.get_order(payload["order_external_id"])
    sync.upsert_order(session, connection=connection, ext=connector.to_order(raw))


@job("commerce.webhook.apply")
def apply_webhook(session: Session, payload: dict[str, Any]) -> None:
    receipt = session.get(WebhookReceipt, payload["receipt_id"])
    if receipt is None or receipt.applied_at is not None or receipt.payload is None:
        return  # applied already (a retried job), or purged
    connection = session.get(sync.StoreConnection, receipt.connection_id)
    if connection is not None and connection.is_active:
        with _connection_connector(connection) as connector:
            receipt.outcome = sync.apply_webhook(session, connection=connection, topic=receipt.topic,
                                                 connector=connector, payload=receipt.payload)
    else:
        receipt.outcome = "disconnected"
    receipt.applied_at, receipt.payload = utcnow(), None


# --- keeping connected shops current, and tidy -------------------------------------

# A lost webhook is caught up within this long (webhooks themselves arrive in seconds).
SYNC_EVERY = timedelta(minutes=15)


@recurring("commerce.store.sync_all", every=SYNC_EVERY)
def sync_all(session: Session, payload: dict[str, Any]) -> None:
    shop_sync.request_all(session, period=int(payload.get("period", 0)))


@job(shop_sync.SYNC_JOB)
def sync_shop(session: Session, payload: dict[str, Any]) -> None:
    shop_sync.run(session, connection_id=payload["connection_id"],
                  connector_factory=lambda c: connector_for(c, **CONNECTOR_OPTIONS))


@recurring("commerce.webhook_receipts.purge", every=timedelta(hours=1))
def purge_webhook_receipts(session: Session, payload: dict[str, Any]) -> None:
    days = get_settings().webhook_receipt_retention_days
    shop_sync.purge_receipts(session, older_than=utcnow() - timedelta(days=days))
