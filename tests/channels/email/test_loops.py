"""Loop and noise protection: auto-replies, bulk, our own mail, spam, floods, unknown senders."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.channels.email import ingest
from cartdesk.conversations.models import Conversation
from cartdesk.kit.storage import LocalStore
from tests.factories.customers import make_customer
from tests.factories.email import make_mail, make_mailbox


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
    {"X-Autoreply": "yes"},
    {"X-Autorespond": "Out of office"},
    {"X-Auto-Response-Suppress": "All"},
])
def test_automatic_mail_never_opens_or_reopens_a_conversation(
    session: Session, store: LocalStore, headers: dict[str, str]
) -> None:
    mailbox = make_mailbox(session)
    before = session.scalar(select(func.count()).select_from(Conversation))
    result = ingest.ingest(session, raw=make_mail(to=mailbox.address, headers=headers, subject="Automatic reply: hi"),
                           source="test", store=store, mailbox=mailbox)
    assert (result.outcome, result.reason) == ("quarantined", "loop")
    assert session.scalar(select(func.count()).select_from(Conversation)) == before


def test_auto_submitted_no_is_a_person(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session)
    result = ingest.ingest(session, raw=make_mail(to=mailbox.address, headers={"Auto-Submitted": "no"}),
                           source="test", store=store, mailbox=mailbox)
    assert result.outcome == "created"


def test_mail_from_any_of_our_own_addresses_is_a_loop(session: Session, store: LocalStore) -> None:
    ours = make_mailbox(session)
    other = make_mailbox(session)
    result = ingest.ingest(session, raw=make_mail(sender=other.address, to=ours.address), source="test", store=store,
                           mailbox=ours)
    assert (result.outcome, result.reason) == ("quarantined", "loop")


def test_spam_flag_is_configurable(session: Session, store: LocalStore) -> None:
    strict = make_mailbox(session, drop_spam=True)
    lenient = make_mailbox(session, drop_spam=False)
    spam = {"X-Spam-Flag": "YES"}
    assert ingest.ingest(session, raw=make_mail(to=strict.address, headers=spam), source="t", store=store,
                         mailbox=strict).reason == "spam"
    assert ingest.ingest(session, raw=make_mail(to=lenient.address, headers=spam, message_id="s2@x"), source="t",
                         store=store, mailbox=lenient).outcome == "created"


def test_per_sender_rate_limit(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session, max_per_sender_per_hour=3)
    outcomes = [ingest.ingest(session, raw=make_mail(to=mailbox.address, sender="flood@x.example",
                                                     subject=f"msg {n}"),
                              source="t", store=store, mailbox=mailbox) for n in range(5)]
    assert [o.outcome for o in outcomes].count("quarantined") == 2
    assert [o.reason for o in outcomes[3:]] == ["rate_limited", "rate_limited"]
    other = ingest.ingest(session, raw=make_mail(to=mailbox.address, sender="calm@x.example"), source="t",
                          store=store, mailbox=mailbox)
    assert other.outcome == "created"


def test_unknown_senders_can_be_refused(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session, accept_unknown_senders=False)
    stranger = ingest.ingest(session, raw=make_mail(to=mailbox.address, sender="stranger@x.example"), source="t",
                             store=store, mailbox=mailbox)
    assert stranger.reason == "unknown_sender"
    make_customer(session, email="known@x.example")
    known = ingest.ingest(session, raw=make_mail(to=mailbox.address, sender="known@x.example"), source="t",
                          store=store, mailbox=mailbox)
    assert known.outcome == "created"
