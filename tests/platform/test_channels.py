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


def test_configure_follows_each_apps_settings_and_keeps_adapters_registered_by_hand(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cartdesk.channels import registry
    from cartdesk.channels.base import FakeAdapter
    from cartdesk.channels.email.adapter import EmailAdapter
    from cartdesk.channels.outbox import OutboxAdapter
    from cartdesk.config import Settings

    saved = {name: registry.get(name) for name in ("email", "sms", "chat", "web")}
    try:
        def settings(outboxes: str) -> Settings:
            return Settings(database_url=f"sqlite:///{tmp_path}/x.db", data_dir=tmp_path, secret_key="k" * 32,
                            dev_outbox_channels=outboxes)

        registry.configure(settings(""))
        assert isinstance(registry.get("email"), EmailAdapter)
        # A later app in the same process asking for the outbox gets it (the earlier choice does not stick).
        registry.configure(settings("email,sms"))
        assert isinstance(registry.get("email"), OutboxAdapter) and isinstance(registry.get("sms"), OutboxAdapter)
        registry.configure(settings(""))
        assert isinstance(registry.get("email"), EmailAdapter)

        fake = registry.register(FakeAdapter("email"), replace=True)
        registry.configure(settings("email"))
        assert registry.get("email") is fake  # registered by hand: kept
    finally:
        for name, adapter in saved.items():
            if adapter is None:
                registry.unregister(name)
            else:
                registry.register(adapter, replace=True)
