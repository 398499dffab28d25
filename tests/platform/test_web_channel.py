"""Conversations from the help center's contact form (channel "web") are answered by email."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from cartdesk.channels import registry as channels_registry
from cartdesk.channels.base import FakeAdapter
from cartdesk.channels.web import WebFormAdapter
from cartdesk.conversations.models import DeliveryStatus
from cartdesk.jobs.runner import JobRunner
from tests.factories.conversations import make_conversation
from tests.platform.test_deliver import _reload, _reply


@pytest.fixture
def web_channel() -> Iterator[None]:
    previous = channels_registry.get("web")
    channels_registry.register(WebFormAdapter(), replace=True)
    yield
    if previous is not None:
        channels_registry.register(previous, replace=True)


@pytest.fixture
def email_channel(web_channel: None) -> Iterator[FakeAdapter]:
    previous = channels_registry.get("email")
    fake = channels_registry.register(FakeAdapter("email"), replace=True)
    yield fake
    if previous is not None:
        channels_registry.register(previous, replace=True)
    else:
        channels_registry.unregister("email")


def test_a_reply_to_a_contact_form_conversation_goes_out_by_email(
    session: Session, runner: JobRunner, email_channel: FakeAdapter
) -> None:
    conversation = make_conversation(session, channel="web", email="visitor@example.org")
    message = _reply(session, conversation, body="Here is how returns work.")
    runner.run_pending()
    sent = _reload(session, message)
    assert sent.delivery_status == DeliveryStatus.sent
    assert [(r.message_id, r.body_text) for r in email_channel.sent] == [(message.id, "Here is how returns work.")]


def test_without_an_email_channel_the_reply_fails_with_the_reason(
    session: Session, runner: JobRunner, web_channel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels_registry, "get", lambda name: WebFormAdapter() if name == "web" else None)
    conversation = make_conversation(session, channel="web", email="visitor@example.org")
    message = _reply(session, conversation)
    runner.run_pending()
    failed = _reload(session, message)
    assert failed.delivery_status == DeliveryStatus.failed
    assert "mailbox" in (failed.delivery_error or "")
