"""The channel adapter registry and the built-in api channel's inbound parsing."""

from __future__ import annotations

import base64

import pytest

from cartdesk.channels import registry
from cartdesk.channels.api import ApiAdapter
from cartdesk.channels.base import ChannelAdapter, FakeAdapter
from cartdesk.kit.errors import ValidationFailed


def test_api_channel_is_built_in_and_adapters_satisfy_the_protocol(fake_channel: FakeAdapter) -> None:
    api = registry.get("api")
    assert isinstance(api, ApiAdapter)
    assert isinstance(api, ChannelAdapter) and isinstance(fake_channel, ChannelAdapter)
    assert registry.get(fake_channel.name) is fake_channel
    assert {"api", fake_channel.name} <= set(registry.names())
    assert registry.get("no-such-channel") is None


def test_a_channel_name_cannot_be_taken_twice_by_accident(fake_channel: FakeAdapter) -> None:
    other = FakeAdapter(fake_channel.name)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(other)
    registry.register(other, replace=True)
    assert registry.get(fake_channel.name) is other


def test_api_inbound_payload_is_normalised() -> None:
    [message] = ApiAdapter().parse_inbound(
        b'{"external_id": "shop-77-1", "customer": {"email": "ana@example.org", "name": "Ana"},'
        b' "subject": "Refund", "body": "Where is my refund?", "in_reply_to": "shop-77-0",'
        b' "references": ["shop-77-0"], "conversation_ref": "1042",'
        b' "attachments": [{"filename": "receipt.txt", "content_type": "text/plain",'
        b' "content_base64": "' + base64.b64encode(b"paid 20 EUR") + b'"}]}'
    )
    assert message.channel == "api" and message.external_id == "shop-77-1"
    assert (message.customer.kind, message.customer.value, message.customer.name) == ("email", "ana@example.org", "Ana")
    assert message.subject == "Refund" and message.body_text == "Where is my refund?"
    assert message.thread.in_reply_to == "shop-77-0" and message.thread.references == ("shop-77-0",)
    assert message.thread.conversation_ref == "1042"
    assert message.attachments[0].content == b"paid 20 EUR"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"customer": {"email": "a@example.org"}, "body": "hi"}, "external_id"),
        ({"external_id": "x", "body": "hi"}, "customer"),
        ({"external_id": "x", "customer": {"email": "a@example.org"}}, "body"),
        ({"external_id": "x", "customer": {"email": "a@example.org"}, "body": "hi",
          "attachments": [{"filename": "a.bin", "content_base64": "***"}]}, "attachments.0.content_base64"),
    ],
)
def test_api_inbound_payload_errors_name_the_field(payload: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        ApiAdapter().parse_inbound(payload)
    assert caught.value.details == [{"field": field}]


def test_fake_adapter_parses_inbound_in_its_own_channel(fake_channel: FakeAdapter) -> None:
    [message] = fake_channel.parse_inbound({"external_id": "f-1", "customer": {"phone": "+4912345"}, "body": "hi"})
    assert message.channel == fake_channel.name
    assert (message.customer.kind, message.customer.value) == ("phone", "+4912345")
