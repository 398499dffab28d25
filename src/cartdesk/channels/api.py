"""The built-in ``api`` channel: conversations created and answered over the REST API.

Outbound there is nothing to transmit — the integrator reads replies back through
the API or webhooks — so sending only marks the message sent. Inbound payloads are
JSON objects:

    {"external_id": "order-77-msg-1", "customer": {"email": "..", "name": ".."},
     "subject": "..", "body": "..", "html": "..", "conversation_ref": "..",
     "in_reply_to": "..", "attachments": [{"filename": "..", "content_type": "..",
     "url": ".." | "content_base64": ".."}]}

The customer may also be given as ``{"phone": ..}`` or ``{"kind": .., "value": ..}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cartdesk.channels.base import InboundAttachment, InboundIdentity, InboundMessage, SendResult, ThreadHints
from cartdesk.conversations.models import DeliveryStatus
from cartdesk.kit.errors import ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cartdesk.conversations.models import Conversation, Message


class ApiAdapter:
    name = "api"

    def send(self, session: Session, *, message: Message, conversation: Conversation) -> SendResult:
        return SendResult(external_id=None, status=DeliveryStatus.sent)

    def send_in_transaction(self, session: Session, *, message: Message, conversation: Conversation) -> SendResult:
        # Nothing leaves the process, so the reply is sent when it is saved.
        return self.send(session, message=message, conversation=conversation)

    def parse_inbound(
        self, payload: bytes | str | Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Sequence[InboundMessage]:
        return parse_api_payload(self.name, payload)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": field}])


def _text(data: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise _invalid(key, f"{key} is required.")
        return None
    if not isinstance(value, str):
        raise _invalid(key, f"{key} must be a string.")
    return value


def _identity(data: Any) -> InboundIdentity:
    if not isinstance(data, Mapping):
        raise _invalid("customer", "customer must be an object with an email, a phone or a kind and value.")
    name = _text(data, "name")
    for kind in ("email", "phone"):
        value = _text(data, kind)
        if value:
            return InboundIdentity(kind=kind, value=value.strip(), name=name)
    kind, value = _text(data, "kind"), _text(data, "value")
    if kind and value:
        return InboundIdentity(kind=kind, value=value.strip(), name=name)
    raise _invalid("customer", "customer needs an email, a phone, or a kind and value.")


def _attachments(items: Any) -> tuple[InboundAttachment, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise _invalid("attachments", "attachments must be a list.")
    result = []
    for n, item in enumerate(items):
        field = f"attachments.{n}"
        if not isinstance(item, Mapping):
            raise _invalid(field, "each attachment must be an object.")
        content = None
        encoded = _text(item, "content_base64")
        if encoded is not None:
            try:
                content = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise _invalid(f"{field}.content_base64", "content_base64 is not valid base64.") from exc
        url = _text(item, "url")
        if content is None and url is None:
            raise _invalid(field, "an attachment needs content_base64 or url.")
        result.append(InboundAttachment(
            filename=_text(item, "filename", required=True) or "",
            content_type=_text(item, "content_type") or "application/octet-stream",
            content=content, url=url, content_id=_text(item, "content_id"),
        ))
    return tuple(result)


def parse_api_payload(channel: str, payload: bytes | str | Mapping[str, Any]) -> list[InboundMessage]:
    """One inbound message from an API-shaped JSON object (shared with the test adapter)."""
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise _invalid("body", "The payload is not valid JSON.") from exc
    if not isinstance(payload, Mapping):
        raise _invalid("body", "The payload must be a JSON object.")
    body = _text(payload, "body")
    html = _text(payload, "html")
    if body is None and html is None:
        raise _invalid("body", "A message needs a body or html.")
    references = payload.get("references") or []
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise _invalid("references", "references must be a list of strings.")
    return [InboundMessage(
        channel=channel,
        external_id=_text(payload, "external_id", required=True) or "",
        customer=_identity(payload.get("customer")),
        body_text=body or "",
        body_html=html,
        subject=_text(payload, "subject"),
        attachments=_attachments(payload.get("attachments")),
        thread=ThreadHints(
            reply_token=_text(payload, "reply_token"),
            conversation_ref=_text(payload, "conversation_ref"),
            in_reply_to=_text(payload, "in_reply_to"),
            references=tuple(references),
        ),
    )]
