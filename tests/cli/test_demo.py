"""`cartdesk demo`: a believable store, seeded once, the same for the same seed, at any size."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import User
from cartdesk.brands import service as brands_service
from cartdesk.brands.models import Brand
from cartdesk.conversations.models import Conversation, Message
from cartdesk.customers.models import Customer
from cartdesk.demo import seed as demo_seed
from cartdesk.demo.loading import PG_SEARCH_INDEXES
from cartdesk.demo.people import USERS
from cartdesk.events.models import Event
from cartdesk.jobs.models import Job
from cartdesk.kit.clock import utcnow
from cartdesk.search import service as search_service


def fingerprint(database) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """Everything a visitor would see, with times relative to the newest activity."""
    with database.transaction(read_only=True) as session:
        newest = session.scalar(select(func.max(Conversation.last_activity_at)))
        emails = dict(session.execute(select(User.id, User.email)).all())
        rows = []
        for c in session.scalars(select(Conversation).order_by(Conversation.brand_id, Conversation.number)).unique():
            messages = session.scalars(select(Message).where(Message.conversation_id == c.id).order_by(Message.id))
            rows.append((
                c.brand.slug, c.number, c.subject, c.status, c.priority, c.channel, c.customer.email,
                c.assignee.email if c.assignee else None, c.team.name if c.team else None, tuple(c.tag_names),
                c.reopened_count, newest - c.created_at, newest - c.last_activity_at,
                tuple((m.direction, m.author_type, emails.get(m.author_user_id), m.body_text, newest - m.created_at)
                      for m in messages),
            ))
        return rows


def _search_index_definitions(database) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with database.transaction(read_only=True) as session:
        rows = session.execute(text("SELECT indexname, indexdef FROM pg_indexes"))
        return {name: ddl for name, ddl in rows.all() if name in PG_SEARCH_INDEXES}


def count(database, model) -> int:  # type: ignore[no-untyped-def]
    with database.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_demo_seeds_once_and_prints_the_logins(cli) -> None:  # type: ignore[no-untyped-def]
    first = cli.ok("demo", "--seed", "7", "--conversations", "24")
    assert "Seeded 24 conversations" in first.stderr
    for user in USERS:
        assert user.email in first.stdout and user.password in first.stdout
    database = cli.database()
    before = (count(database, Conversation), count(database, Message), count(database, Event))

    again = cli.ok("demo", "--seed", "7", "--conversations", "24")
    assert "already there" in again.stderr and "nothing to do" in again.stderr
    assert "admin@demo.cartdesk.dev" in again.stdout
    assert (count(database, Conversation), count(database, Message), count(database, Event)) == before
    assert before[0] == 24


def test_demo_store_is_believable(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("demo", "--seed", "7", "--conversations", "40")
    database = cli.database()
    now = utcnow()
    with database.transaction() as session:
        conversations = session.scalars(select(Conversation)).unique().all()
        assert {c.status for c in conversations} == {"new", "open", "pending", "on_hold", "solved", "closed"}
        assert {c.channel for c in conversations} == {"email", "chat", "api", "sms", "social"}
        assert any(c.reopened_count for c in conversations)
        assert {b.slug for b in session.scalars(select(Brand))} == {"northwind", "lumen-loom"}
        assert all(c.assignee_id is None for c in conversations if c.status == "new")
        assert all(c.assignee_id is not None for c in conversations if c.status not in ("new",))
        assert {c.team.name for c in conversations if c.team} == {"Front line", "Returns & refunds", "VIP"}
        for c in conversations:
            messages = session.scalars(select(Message).where(Message.conversation_id == c.id).order_by(Message.id)).all()
            times = [m.created_at for m in messages]
            assert times == sorted(times) and times[0] == c.created_at and times[-1] == c.last_activity_at
            assert c.created_at < now - timedelta(minutes=1)
            assert len(messages) == c.message_count and c.tag_names
            if c.first_response_at:
                assert c.created_at < c.first_response_at <= c.last_activity_at
            if c.status in ("solved", "closed"):
                assert c.solved_at is not None and c.solved_at >= c.first_response_at
        # History, not work to do: replies are delivered, no delivery job waits to resend them.
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        assert set(session.scalars(select(Message.delivery_status).distinct())) == {"received", "delivered", "n/a"}
        assert session.scalar(select(func.count()).where(Message.direction == "internal")) > 0
        # Events are dated with their step, never "now".
        assert session.scalar(select(func.max(Event.created_at))) < now
        # The printed logins work.
        for user in USERS:
            assert auth_service.authenticate(session, email=user.email, password=user.password) is not None


def test_same_seed_same_store_other_seed_other_store(make_cli) -> None:  # type: ignore[no-untyped-def]
    a, b, c = make_cli("a"), make_cli("b"), make_cli("c")
    a.ok("demo", "--seed", "11", "--conversations", "20")
    b.ok("demo", "--seed", "11", "--conversations", "20")
    c.ok("demo", "--seed", "12", "--conversations", "20")
    assert fingerprint(a.database()) == fingerprint(b.database())
    assert fingerprint(a.database()) != fingerprint(c.database())


def test_reset_seeds_again_but_only_a_demo_database(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("demo", "--seed", "5", "--conversations", "12")
    database = cli.database()
    seeded = fingerprint(database)
    reset = cli.ok("demo", "--seed", "5", "--conversations", "12", "--reset")
    assert "Reset: emptied the database (12 conversations removed)" in reset.stderr
    assert fingerprint(database) == seeded
    with database.transaction(read_only=True) as session:
        assert session.scalar(select(func.min(Conversation.id))) == 1  # really emptied, ids start over

    cli.ok("user", "create", "--email", "owner@realstore.example", "--name", "Owner", "--role", "admin",
           "--password-stdin", input="a long enough secret\n")
    refused = cli("demo", "--reset")
    assert refused.exit_code == 1
    assert "owner@realstore.example" in refused.stderr and "Refusing to reset" in refused.stderr
    assert count(database, Conversation) == 12


def test_demo_leaves_a_database_with_its_own_data_alone(cli) -> None:  # type: ignore[no-untyped-def]
    database = cli.database()
    with database.transaction() as session:
        brands_service.create(session, slug="my-shop", name="My Shop")
    result = cli.ok("demo")
    assert "already has data" in result.stderr
    assert count(database, Conversation) == 0 and count(database, User) == 0


def test_bulk_seed_is_deterministic_numbered_and_searchable(make_cli) -> None:  # type: ignore[no-untyped-def]
    a, b = make_cli("a"), make_cli("b")
    now = utcnow()
    for cli in (a, b):
        demo_seed.seed(cli.database(), seed=3, conversations=45, curated=5, now=now)
    assert fingerprint(a.database()) == fingerprint(b.database())

    database = a.database()
    with database.transaction() as session:
        conversations = session.scalars(select(Conversation).order_by(Conversation.id)).unique().all()
        bulk = conversations[:40]  # bulk rows are written before the curated threads
        assert len(conversations) == 45 and all(c.message_count == 3 for c in bulk)
        for brand in session.scalars(select(Brand)):
            numbers = sorted(c.number for c in conversations if c.brand_id == brand.id)
            assert numbers == list(range(1001, 1001 + len(numbers)))
            assert brand.next_conversation_number == 1001 + len(numbers)
        assert session.scalar(select(func.count()).select_from(Customer)) > 60

        # Bulk messages are in the search index (FTS5 rows written per batch, or PostgreSQL's GIN).
        last = session.scalars(select(Message).where(Message.conversation_id == bulk[-1].id)).first()
        word = max(re.findall(r"[A-Za-z]{6,}", last.body_text), key=len)
        admin = auth_service.principal_for(auth_service.get_by_email(session, email="admin@demo.cartdesk.dev"))
        hits = search_service.search(session, principal=admin, q=word, limit=50)
        assert last.id in {hit.id for hit in hits.messages}

    if database.dialect == "postgresql":
        # The full-text indexes dropped for the load were rebuilt exactly as migration 0001 made them.
        fresh = make_cli("fresh")
        fresh.ok("migrate")
        assert _search_index_definitions(database) == _search_index_definitions(fresh.database())
        assert set(_search_index_definitions(database)) == set(PG_SEARCH_INDEXES)

    # New rows still get fresh ids and numbers (PostgreSQL sequences were moved past the bulk ids).
    from tests.factories.conversations import make_conversation

    with database.transaction() as session:
        brand = session.scalar(select(Brand).where(Brand.slug == "lumen-loom"))
        expected = brand.next_conversation_number
        made = make_conversation(session, brand=brand)
        assert made.number == expected and made.id > conversations[-1].id


def test_bulk_rows_match_what_the_services_write(cli) -> None:  # type: ignore[no-untyped-def]
    """The bulk loader's stand-in for the services writes the same rows, step for step."""
    from cartdesk.customers import service as customers_service
    from cartdesk.customers.schemas import CustomerCreate
    from cartdesk.demo import bulk, replay
    from cartdesk.demo.history import Backdater
    from cartdesk.demo.plans import OUTCOMES, Person, build
    from cartdesk.demo.simulate import Batch, Simulator
    from cartdesk.events.schemas import SYSTEM

    database = cli.database()
    now = utcnow()
    rng = random.Random(99)
    person = Person(first_name="Robin", channel="email")
    plans = [
        build(rng, person_index=0, person=person, outcome=outcome, end=now - timedelta(hours=1 + i),
              three_messages=three)
        for i, (outcome, three) in enumerate((o, t) for o in OUTCOMES for t in (True, False))
    ]
    with database.transaction() as session:
        clock = Backdater(session)
        cast = replay.create_staff(session, clock, at=now - timedelta(days=30))
        played = customers_service.create(session, actor=SYSTEM, customer_in=CustomerCreate(name="Robin A"))
        simulated = customers_service.create(session, actor=SYSTEM, customer_in=CustomerCreate(name="Robin B"))
        cast.customers[0] = played
        through_services = [replay.play(session, clock, cast, plan).id for plan in plans]
    with database.transaction() as session:
        ctx = bulk.load_context(session)
        ids = bulk.next_ids(session)
        first = ids.conversation
        batch = Batch()
        simulator = Simulator(ctx, ids, dialect=database.dialect)
        for plan in plans:
            simulator.conversation(batch, plan, customer_id=simulated.id)
        batch.next_numbers = dict(ctx.next_numbers)
        bulk.write(session.connection(), batch, ctx.brand_ids)
    through_rows = list(range(first, first + len(plans)))

    def described(conversation_id: int) -> dict[str, Any]:
        with database.transaction(read_only=True) as session:
            c = session.get(Conversation, conversation_id)
            messages = session.scalars(select(Message).where(Message.conversation_id == c.id).order_by(Message.id)).all()
            position = {m.id: i for i, m in enumerate(messages)}
            events = session.scalars(select(Event).where(Event.conversation_id == c.id).order_by(Event.id)).all()
            fields = ("subject", "status", "priority", "channel", "assignee_id", "team_id", "preview", "message_count",
                      "reopened_count", "created_at", "updated_at", "last_activity_at", "last_customer_message_at",
                      "last_agent_message_at", "first_response_at", "solved_at", "closed_at", "custom_fields")
            return {
                "conversation": {f: getattr(c, f) for f in fields},
                "tags": c.tag_names,
                "messages": [(m.channel, m.direction, m.author_type, m.author_user_id, m.author_customer_id is not None,
                              m.body_text, m.body_html, m.delivery_status, m.external_id, m.meta, m.created_at)
                             for m in messages],
                "events": [(e.verb, e.actor_type, e.actor_id if e.actor_type == "user" else None, e.subject_type,
                            position.get(e.subject_id) if e.subject_type == "message" else None, e.brand_id,
                            {k: v for k, v in e.data.items() if k not in ("number", "customer_id")}, e.created_at)
                           for e in events],
            }

    for service_id, row_id, plan in zip(through_services, through_rows, plans, strict=True):
        assert described(row_id) == described(service_id), f"{plan.outcome}: bulk rows differ from the services"


def test_an_interrupted_seed_is_reported_and_reset_recovers(cli) -> None:  # type: ignore[no-untyped-def]
    from cartdesk.demo import replay
    from cartdesk.demo.history import Backdater

    database = cli.database()
    with database.transaction() as session:  # the first step of a seed that then died
        replay.create_staff(session, Backdater(session), at=utcnow() - timedelta(days=30))
    result = cli("demo")
    assert result.exit_code == 1 and "unfinished demo" in result.stderr and "--reset" in result.stderr

    cli.ok("demo", "--reset", "--conversations", "6")
    assert count(database, Conversation) == 6
    assert "already there" in cli.ok("demo").stderr
