"""Background work of conversations: sending agent replies out through their channel.

``messages.deliver`` is enqueued by :func:`send_or_enqueue` in the reply's own
transaction, so a reply is sent only if it was saved; the handler skips messages
that are already sent, so a job that runs twice sends once. Where sending is only a
database write (the API channel, chat to a connected visitor), the adapter does it
in that same transaction instead and no job is made.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from cartdesk.channels import registry as channels_registry
from cartdesk.channels.base import DeliversInTransaction, SendResult, Transmission
from cartdesk.conversations.models import Conversation, DeliveryStatus, Direction, Message
from cartdesk.events import service as events_service
from cartdesk.events.schemas import SYSTEM
from cartdesk.jobs import service as jobs_service
from cartdesk.jobs.registry import Outside, job

log = logging.getLogger(__name__)

# Delivery is finished for these; a re-run of the job must not send again.
_DELIVERED = (DeliveryStatus.sent, DeliveryStatus.delivered)


def send_or_enqueue(session: Session, *, message: Message, conversation: Conversation) -> None:
    """Send ``message`` in this transaction when its adapter can without leaving the
    process, else enqueue its durable delivery job (which runs after commit).

    No dedupe key on the job: the message is new, so the job is too, and the handler
    is idempotent on the message id.
    """
    adapter = channels_registry.get(message.channel)
    if isinstance(adapter, DeliversInTransaction):
        result = adapter.send_in_transaction(session, message=message, conversation=conversation)
        if result is not None:
            _record(session, message=message, conversation=conversation, status=result.status,
                    external_id=result.external_id)
            return
    jobs_service.enqueue(session, "messages.deliver", {"message_id": message.id})


@job("messages.deliver", quick=True)  # talking to a provider is Outside
def deliver(session: Session, payload: dict[str, Any]) -> Outside | None:
    """Send one outbound message through its channel's adapter (idempotent).

    Notes and inbound messages are skipped, and so are messages already sent: a
    job re-run after a crash does not send twice. A retryable failure is raised so
    the runner tries again with backoff; a permanent one, or the last attempt,
    marks the message failed with the reason, for the agent to see. An adapter that
    talks to a provider hands back a :class:`Transmission`: the talking then runs
    outside any transaction (``jobs.registry.Outside``) and its outcome is recorded in
    a second one.
    """
    found = _locked(session, int(payload["message_id"]))
    if found is None:
        log.info("message %s is gone; nothing to deliver", payload["message_id"])
        return None
    message, conversation = found
    if message.direction != Direction.outbound or message.delivery_status in _DELIVERED:
        return None
    adapter = channels_registry.get(message.channel)
    if adapter is None:
        _record(session, message=message, conversation=conversation, status=DeliveryStatus.failed,
                error=f"No channel adapter is registered for {message.channel!r}, so this message cannot be sent.")
        return None
    try:
        result = adapter.send(session, message=message, conversation=conversation)
    except Exception as exc:
        _failed(session, message=message, conversation=conversation, exc=exc)
        return None
    if isinstance(result, Transmission):
        return Outside(work=lambda: _attempt(result), record=lambda s, outcome: _after_transmit(
            s, message_id=message.id, transmission=result, outcome=outcome))
    _record(session, message=message, conversation=conversation, status=result.status,
            external_id=result.external_id)
    return None


# Built once: the message (row-locked on PostgreSQL) and its conversation, in one statement,
# with the customer (every adapter addresses them); the message's author and the assignee
# load only for an adapter that reads them (chat names the agent).
# (Built on first use: loader options need the mappers configured, i.e. every model imported.)
@cache
def _locked_statement() -> Any:
    return (
        select(Message, Conversation)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.id == bindparam("message_id"))
        .options(lazyload(Message.author_user), lazyload(Conversation.assignee))
        .with_for_update(of=Message)
    )

# The outcome of a delivery, written with Core (see _record).
_SET_DELIVERY = (
    update(Message.__table__)
    .where(Message.__table__.c.id == bindparam("message_id"))
    .values(delivery_status=bindparam("delivery_status"), delivery_error=bindparam("delivery_error"))
)
_SET_DELIVERY_AND_ID = _SET_DELIVERY.values(external_id=bindparam("external_id"))


def _locked(session: Session, message_id: int) -> tuple[Message, Conversation] | None:
    row = session.execute(_locked_statement(), {"message_id": message_id}).first()
    return None if row is None else (row[0], row[1])


def _attempt(transmission: Transmission) -> SendResult | Exception:
    try:
        return transmission.transmit()
    except Exception as exc:  # judged in the recording transaction
        return exc


def _after_transmit(
    session: Session, *, message_id: int, transmission: Transmission, outcome: SendResult | Exception
) -> None:
    found = _locked(session, message_id)
    if found is None or found[0].delivery_status in _DELIVERED:
        return
    message, conversation = found
    if isinstance(outcome, Exception):
        _failed(session, message=message, conversation=conversation, exc=outcome)
        return
    if transmission.on_sent is not None:
        transmission.on_sent(session, message)
    _record(session, message=message, conversation=conversation, status=outcome.status,
            external_id=outcome.external_id)


def _failed(session: Session, *, message: Message, conversation: Conversation, exc: Exception) -> None:
    """Retry a retryable failure (re-raised for the runner's backoff) unless this was the last
    attempt; otherwise the message is failed with the reason."""
    context = jobs_service.context(session)
    retryable = getattr(exc, "retryable", True)
    if retryable and context is not None and not context.is_last_attempt:
        raise exc
    _record(session, message=message, conversation=conversation, status=DeliveryStatus.failed,
            error=str(exc) or type(exc).__name__)


def _record(
    session: Session,
    *,
    message: Message,
    conversation: Conversation,
    status: DeliveryStatus,
    error: str | None = None,
    external_id: str | None = None,
) -> None:
    before = message.delivery_status
    # One prebuilt UPDATE, and the object told the new values as if loaded: a unit-of-work
    # flush of this one row cost more than the rest of a delivery job. (Other changes to the
    # message, e.g. its meta, still go out with the next flush.)
    values: dict[str, Any] = {"message_id": message.id, "delivery_status": status, "delivery_error": error}
    if external_id:
        values["external_id"] = external_id
    session.connection().execute(_SET_DELIVERY_AND_ID if external_id else _SET_DELIVERY, values)
    set_committed_value(message, "delivery_status", status)
    set_committed_value(message, "delivery_error", error)
    if external_id:
        set_committed_value(message, "external_id", external_id)
    events_service.record(
        session, verb="message.delivery_updated", actor=SYSTEM, subject_type="message", subject_id=message.id,
        conversation_id=conversation.id, brand_id=conversation.brand_id,
        data={"delivery_status": {"before": str(before), "after": str(status)}, "channel": message.channel,
              "error": error, "external_id": external_id},
    )
