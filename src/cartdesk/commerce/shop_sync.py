"""Keeping connected shops current without anyone at the CLI: sync jobs, the connection
check and the purge of old webhook receipts.

A sync job runs the same incremental import as ``cartdesk store sync``, one transaction
per page (committed by the job between the shop's pages, never across an HTTP call): a
shop that fails half-way keeps the pages already done, and the outcome (when, what came in, the shop's error) is written on the connection
for the admins' page. The high-water mark moves only after a complete run, so the next
run re-reads what was missed; the import is idempotent, so re-reading changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cartdesk.commerce import sync
from cartdesk.commerce.connectors.base import Rejected, Retry
from cartdesk.commerce.models import Order, StoreConnection, WebhookReceipt
from cartdesk.events import service as events_service
from cartdesk.events.schemas import Actor
from cartdesk.jobs import service as jobs_service
from cartdesk.kit.clock import utcnow

SYNC_JOB = "commerce.store.sync"


def check(connector: Any) -> str | None:
    """None when the shop answers an authenticated read; otherwise what went wrong, readable."""
    try:
        connector.check()
    except Rejected as exc:
        return f"The shop refused: {exc}"
    except Retry as exc:
        return f"The shop could not be reached: {exc}"
    finally:
        connector.http.close()
    return None


def request_sync(session: Session, *, connection: StoreConnection, key: str, actor: Actor | None = None) -> None:
    """Enqueue one sync of ``connection``; the same ``key`` enqueues it once (a double click, a second runner)."""
    jobs_service.enqueue(session, SYNC_JOB, {"connection_id": connection.id},
                         dedupe_key=f"store-sync:{connection.id}:{key}", max_attempts=3)
    if actor is not None:
        events_service.record(session, verb="store.sync_requested", actor=actor, subject_type="store_connection",
                              subject_id=connection.id, brand_id=connection.brand_id, data={})


def request_all(session: Session, *, period: int) -> int:
    """One sync per active connection for this period; returns how many were asked for."""
    connections = list(session.scalars(select(StoreConnection).where(StoreConnection.is_active.is_(True))))
    for connection in connections:
        request_sync(session, connection=connection, key=f"p{period}")
    return len(connections)


def run(session: Session, *, connection_id: int, connector_factory: Callable[..., Any]) -> sync.ImportReport | None:
    """Import what changed since the last run and record the outcome on the connection."""
    connection = session.get(StoreConnection, connection_id)
    if connection is None or not connection.is_active:
        return None  # disconnected since the job was enqueued

    @contextmanager
    def page() -> Iterator[Session]:
        # One page, one transaction, as in the CLI: the shop's HTTP calls happen between
        # commits, so the job never holds SQLite's write lock while it waits on the shop.
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    report = sync.ImportReport()
    try:
        sync.run_import(page, connection_id=connection_id, connector_factory=connector_factory, report=report)
    except (Rejected, Retry) as exc:
        report.errors.append(str(exc)[:1000])
    connection = session.get(StoreConnection, connection_id)
    if connection is None:
        return report
    connection.last_sync_at = utcnow()
    connection.last_error = report.errors[-1] if report.errors else None
    connection.imported_customers, connection.imported_products = report.customers, report.products
    connection.imported_orders = report.orders
    events_service.record(session, verb="store.synced", actor=sync.actor_for(connection),
                          subject_type="store_connection", subject_id=connection.id, brand_id=connection.brand_id,
                          data={"customers": report.customers, "products": report.products, "orders": report.orders,
                                "error": connection.last_error})
    session.flush()
    return report


def orders_held(session: Session) -> dict[int, int]:
    """Orders Cartdesk holds per connection (same brand, same platform)."""
    rows = session.execute(
        select(StoreConnection.id, func.count(Order.id))
        .join(Order, (Order.brand_id == StoreConnection.brand_id) & (Order.source == StoreConnection.platform))
        .group_by(StoreConnection.id))
    return dict(rows.all())  # each Row is a (connection id, count) tuple


def purge_receipts(session: Session, *, older_than: datetime) -> int:
    """Forget webhook deliveries received before ``older_than``: platforms stop retrying after
    a couple of days, so a receipt that old can no longer meet its replay."""
    result = session.execute(delete(WebhookReceipt).where(WebhookReceipt.received_at < older_than)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
