"""What every channel adapter provides: sending a message out, and normalising what comes in.

Conversation code never asks which channel it serves. Outbound, the
``messages.deliver`` job finds the adapter by the message's channel name and calls
:meth:`ChannelAdapter.send`; an adapter whose send is only a database write may also
offer :meth:`DeliversInTransaction.send_in_transaction`, which spares the job. Inbound, an adapter turns a provider's payload (a raw
email, a webhook body) into :class:`InboundMessage` values, which one shared flow
files into conversations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cartdesk.conversations.models import DeliveryStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cartdesk.conversations.models import Conversation, Message


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider accepted the message: its id (for threading, receipts, dedupe) and how far it got."""

    external_id: str | None
    status: DeliveryStatus = DeliveryStatus.sent


@dataclass(frozen=True, slots=True)
class Transmission:
    """What ``send`` returns when reaching the provider is slow (an SMTP conversation): the
    delivery job commits what ``send`` wrote, calls ``transmit()`` outside any transaction
    (on SQLite a transaction would hold the single write lock for the whole call), and
    records the outcome in a new one. ``transmit`` returns the :class:`SendResult` or
    raises :class:`SendFailed`; it must not touch the database. ``on_sent``, if given, runs
    in the recording transaction after a successful transmit (a chat log row for a reply
    that went out by email)."""

    transmit: Callable[[], SendResult]
    on_sent: Callable[[Session, Message], None] | None = None


class SendFailed(Exception):
    """The provider refused or could not be reached.

    ``retryable`` failures (timeouts, 5xx, rate limits) are retried with backoff;
    permanent ones (an invalid address, a closed chat) fail the message at once.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class InboundIdentity:
    """How the provider names the customer: ``kind`` is a customers IdentityKind value."""

    kind: str
    value: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class InboundAttachment:
    filename: str
    content_type: str
    content: bytes | None = None  # inline bytes, or
    url: str | None = None  # where the provider keeps them (fetched by the ingest job)
    content_id: str | None = None  # for inline images referenced as cid:


@dataclass(frozen=True, slots=True)
class ThreadHints:
    """What ties an inbound message to an existing conversation, strongest first:
    our own reply token or conversation reference, then the provider's reply headers.
    A subject alone never threads a message."""

    reply_token: str | None = None
    conversation_ref: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message, the same shape whatever channel brought it.

    ``external_id`` is the provider's message id; with ``channel`` it is unique,
    so a message delivered twice is stored once.
    """

    channel: str
    external_id: str
    customer: InboundIdentity
    body_text: str
    body_html: str | None = None
    subject: str | None = None
    attachments: tuple[InboundAttachment, ...] = ()
    thread: ThreadHints = field(default_factory=ThreadHints)
    received_at: datetime | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class ChannelAdapter(Protocol):
    """One channel (email, chat, WhatsApp, the API...).

    ``send`` runs inside the delivery job's transaction: it may read the session
    (the customer's address, earlier message ids for threading) but must not
    commit. An adapter that talks to a provider returns a :class:`Transmission`, so the
    talking happens outside the transaction. It raises :class:`SendFailed` when the provider says no. It can run
    more than once for one message (a crash after sending, before the commit), so
    adapters pass the message id as an idempotency key where the provider has one.
    """

    name: str

    def send(
        self, session: Session, *, message: Message, conversation: Conversation
    ) -> SendResult | Transmission: ...

    def parse_inbound(
        self, payload: bytes | str | Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Sequence[InboundMessage]: ...


@runtime_checkable
class DeliversInTransaction(Protocol):
    """An adapter whose sending, in some cases, is only a database write (the API channel
    marks a reply sent; chat adds it to a connected visitor's log).

    ``send_in_transaction`` runs in the transaction that saves the message (it is only
    called for a message created in that transaction), so the reply and its delivery
    commit together and no ``messages.deliver`` job is needed. It
    returns ``None`` whenever sending would leave the process (an email, a provider
    call): those always go through the durable job, after commit. It must not raise
    for a provider's sake, since no provider is called.
    """

    def send_in_transaction(
        self, session: Session, *, message: Message, conversation: Conversation
    ) -> SendResult | None: ...


@dataclass(frozen=True, slots=True)
class SentRecord:
    message_id: int
    conversation_id: int
    body_text: str
    external_id: str


class FakeAdapter:
    """A channel for tests: records what was sent and fails when told to.

    ``fail_next(n)`` makes the next ``n`` sends raise :class:`SendFailed`
    (``retryable`` as given); ``inbound`` payloads are dicts in the API channel's
    shape, so tests can drive the inbound side too.
    """

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.sent: list[SentRecord] = []
        self.attempts = 0
        self._failures: list[SendFailed] = []
        self._ids = itertools.count(1)

    def fail_next(self, times: int = 1, *, retryable: bool = True, reason: str = "provider unavailable") -> None:
        self._failures.extend(SendFailed(reason, retryable=retryable) for _ in range(times))

    def send(self, session: Session, *, message: Message, conversation: Conversation) -> SendResult:
        self.attempts += 1
        if self._failures:
            raise self._failures.pop(0)
        external_id = f"{self.name}-{next(self._ids)}"
        self.sent.append(SentRecord(message_id=message.id, conversation_id=conversation.id,
                                    body_text=message.body_text, external_id=external_id))
        return SendResult(external_id=external_id, status=DeliveryStatus.sent)

    def parse_inbound(
        self, payload: bytes | str | Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Sequence[InboundMessage]:
        from cartdesk.channels.api import parse_api_payload

        return parse_api_payload(self.name, payload)
