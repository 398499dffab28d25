"""Connected shops stay current from the job runner: sync jobs, the recurring sync, the receipts purge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.commerce import credentials, shop_sync
from cartdesk.commerce.connectors.registry import connector_for
from cartdesk.commerce.models import Order, StoreConnection, WebhookReceipt
from cartdesk.events.models import Event
from cartdesk.jobs.models import Job, JobStatus
from cartdesk.kit.clock import utcnow


def _orders(session: Session, connection: StoreConnection) -> int:
    return session.scalar(select(func.count()).select_from(Order).where(Order.brand_id == connection.brand_id)) or 0


def _sync_jobs(session: Session, connection: StoreConnection) -> list[Job]:
    return [j for j in session.scalars(select(Job).where(Job.name == shop_sync.SYNC_JOB).order_by(Job.id))
            if j.payload.get("connection_id") == connection.id]


def test_the_recurring_sync_imports_what_a_lost_webhook_missed_once_per_period(session: Session, shopify, runner) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    fake.add_order(number=2001, email="lost@example.org", lines=[("MUG-1", "Mug", 2, "12.00")],
                   updated_at="2026-11-02T08:00:00-05:00")
    session.commit()
    # Two runners in the same period ask for the sync: one job per connection and period.
    runner.schedule_recurring()
    runner.schedule_recurring()
    twin = type(runner)(runner.database, settings=runner.settings, clock=runner.clock, worker_id="twin")
    twin.schedule_recurring()
    runner.run_pending()
    session.expire_all()
    jobs = _sync_jobs(session, connection)
    assert [j.status for j in jobs] == [JobStatus.done]
    assert _orders(session, connection) == 1
    assert (connection.imported_orders, connection.last_error) == (1, None)
    assert connection.last_sync_at is not None and connection.synced_until is not None
    assert session.scalar(select(func.count()).select_from(Event).where(
        Event.verb == "store.synced", Event.subject_id == connection.id)) == 1

    # The next period syncs again, incrementally: nothing new, nothing doubled, no full customer list.
    fake.calls.clear()
    runner.clock.now += timedelta(minutes=15)
    runner.schedule_recurring()
    runner.run_pending()
    session.expire_all()
    assert len(_sync_jobs(session, connection)) == 2
    assert _orders(session, connection) == 1
    assert any("/orders.json?" in url and "updated_at_min=" in url for _, url in fake.calls)
    assert not any("/customers.json" in url for _, url in fake.calls)


def test_a_shop_that_fails_leaves_its_error_on_the_connection_and_the_next_sync_recovers(session: Session, shopify) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    fake.add_order(number=2002, email="a@example.org", lines=[("MUG-1", "Mug", 1, "12.00")])
    factory = lambda c: connector_for(c, sleep=lambda s: None)  # noqa: E731
    fake.fail_next = 1
    report = shop_sync.run(session, connection_id=connection.id, connector_factory=factory)
    assert report is not None and report.errors and "503" in connection.last_error
    assert connection.synced_until is None and _orders(session, connection) == 0
    fake.token, good = "revoked", fake.token
    shop_sync.run(session, connection_id=connection.id, connector_factory=factory)
    assert "401" in connection.last_error
    fake.token = good
    shop_sync.run(session, connection_id=connection.id, connector_factory=factory)
    assert connection.last_error is None and _orders(session, connection) == 1 and connection.imported_orders == 1


def test_the_connection_check_says_what_is_wrong(session: Session, shopify) -> None:  # type: ignore[no-untyped-def]
    fake, connection = shopify
    assert shop_sync.check(connector_for(connection)) is None
    assert fake.calls[-1][0] == "GET" and "limit=1" in fake.calls[-1][1]
    credentials.seal(connection, credentials={"access_token": "wrong"})
    assert "refused" in (shop_sync.check(connector_for(connection)) or "")
    connection.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    assert "could not be reached" in (shop_sync.check(connector_for(connection)) or "")


def test_old_webhook_receipts_are_purged_by_the_recurring_job(session: Session, shopify, runner) -> None:  # type: ignore[no-untyped-def]
    _, connection = shopify
    now = utcnow()
    for delivery, age in (("old", 31), ("recent", 29), ("new", 0)):
        session.add(WebhookReceipt(connection_id=connection.id, delivery_id=delivery, topic="orders/updated",
                                   received_at=now - timedelta(days=age)))
    session.commit()
    assert "commerce.webhook_receipts.purge" in runner.schedule_recurring()
    runner.run_pending()
    session.expire_all()
    kept = set(session.scalars(select(WebhookReceipt.delivery_id).where(WebhookReceipt.connection_id == connection.id)))
    assert kept == {"recent", "new"}
    # What the purge forgot is a first delivery again: a very late replay is applied (idempotent by version).
    assert shop_sync.purge_receipts(session, older_than=now + timedelta(seconds=1)) == 2
