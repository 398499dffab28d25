"""The development outbox stands in for channels that are not connected yet."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from cartdesk.channels import registry
from cartdesk.config import Settings
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import DeliveryStatus
from cartdesk.conversations.schemas import MessageCreate
from cartdesk.conversations.tasks import deliver
from tests.factories.auth import make_user, principal
from tests.factories.conversations import make_conversation


def test_outbox_channel_records_the_reply_and_marks_it_sent(session: Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, dev_outbox_channels="outboxtest", secret_key="x")
    registry.configure(settings)
    try:
        agent = principal(make_user(session))
        conversation = make_conversation(session, channel="outboxtest")
        reply = conversations_service.add_message(
            session, principal=agent, conversation=conversation, message_in=MessageCreate(body="Your parcel ships today")
        )
        deliver(session, {"message_id": reply.id})
        assert reply.delivery_status == DeliveryStatus.sent
        lines = (tmp_path / "outbox" / "outboxtest.jsonl").read_text().splitlines()
        assert [json.loads(line)["body_text"] for line in lines] == ["Your parcel ships today"]
    finally:
        registry.unregister("outboxtest")


def test_channels_without_adapter_fail_with_a_reason(session: Session) -> None:
    agent = principal(make_user(session))
    conversation = make_conversation(session, channel="pigeon")
    reply = conversations_service.add_message(
        session, principal=agent, conversation=conversation, message_in=MessageCreate(body="hello")
    )
    deliver(session, {"message_id": reply.id})
    assert reply.delivery_status == DeliveryStatus.failed
    assert "pigeon" in (reply.delivery_error or "")
