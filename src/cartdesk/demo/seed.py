"""Seeding the demo store once: what is there already, wiping it, and filling an empty database.

The first (up to) ``CURATED`` conversations are replayed through the services as
full threads: they are what a visitor reads. Any beyond that are bulk-loaded with
three messages each (``bulk``), which is how a million conversations fit in minutes.
A ``demo.seeded`` audit event, written last, marks a finished seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.brands.models import Brand
from cartdesk.conversations.models import Conversation
from cartdesk.db.engine import Database
from cartdesk.demo import bulk, knowledge, loading, replay, store
from cartdesk.demo.history import Backdater
from cartdesk.demo.people import BRANDS, CUSTOMERS, DEMO_EMAIL_DOMAIN
from cartdesk.demo.plans import CURATED_AGES, CURATED_WEIGHTS, OUTCOMES, Person, Plan, build
from cartdesk.events import service as events_service
from cartdesk.events.models import Event
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import Conflict

CURATED = 120
MARKER = "demo.seeded"

State = Literal["empty", "seeded", "unfinished", "other"]


@dataclass(frozen=True)
class Found:
    state: State
    detail: str


def inspect_database(session: Session) -> Found:
    """What the database holds, as far as the demo is concerned."""
    marker = session.scalar(select(Event).where(Event.verb == MARKER).order_by(Event.id.desc()).limit(1))
    if marker is not None:
        data = marker.data
        return Found("seeded", f"seeded {marker.created_at:%Y-%m-%d %H:%M} UTC with seed {data.get('seed')}, "
                               f"{data.get('conversations')} conversations")
    slugs = set(session.scalars(select(Brand.slug)).all())
    if BRANDS[0].slug in slugs:
        return Found("unfinished", "a previous demo seed did not finish")
    conversations = session.scalar(select(func.count()).select_from(Conversation)) or 0
    if slugs or conversations:
        return Found("other", f"{len(slugs)} brand(s) and {conversations} conversation(s) of its own")
    return Found("empty", "")


def reset(database: Database) -> int:
    """Empty the database for a fresh seed; refuses when it holds people who are not the demo's."""
    with database.transaction() as session:
        strangers = session.scalars(
            select(User.email).where(~User.email.like(f"%@{DEMO_EMAIL_DOMAIN}")).order_by(User.email)
        ).all()
        if strangers:
            listed = ", ".join(strangers[:5]) + (" …" if len(strangers) > 5 else "")
            raise Conflict(
                f"Refusing to reset: the database has {len(strangers)} user(s) who are not demo users ({listed}). "
                "--reset is for demo databases only; point CARTDESK_DATABASE_URL at a fresh database instead."
            )
        conversations = session.scalar(select(func.count()).select_from(Conversation)) or 0
        loading.wipe(session.connection())
        loading.ensure_indexes(session.connection())  # a bulk load that was cut short dropped some
    return conversations


def curated_plans(rng: random.Random, *, count: int, now: datetime) -> list[Plan]:
    """The showcase: every outcome at least once, every customer at least once (when there are enough)."""
    people = [Person(c.first_name, c.channel, c.vip, c.company) for c in CUSTOMERS]
    weights = [CURATED_WEIGHTS[o] for o in OUTCOMES]
    plans = []
    for i in range(count):
        outcome = OUTCOMES[i] if i < len(OUTCOMES) else rng.choices(OUTCOMES, weights=weights)[0]
        index = i % len(people) if i < len(people) else rng.randrange(len(people))
        low, high = CURATED_AGES[outcome]
        end = now - timedelta(hours=low + (high - low) * rng.random())
        plans.append(build(rng, person_index=index, person=people[index], outcome=outcome, end=end))
    # Replayed in time order, so conversation numbers rise with time.
    return sorted(plans, key=lambda p: p.steps[0].at)


def bulk_period(count: int) -> timedelta:
    """How far back the bulk store reaches: about 2,500 conversations a day, 3 weeks to a year."""
    return timedelta(days=min(365, max(21, count / 2500)))


@dataclass(frozen=True)
class Seeded:
    conversations: int
    curated: int
    bulk: int


def seed(
    database: Database,
    *,
    seed: int,
    conversations: int,
    now: datetime | None = None,
    curated: int = CURATED,
    on_progress: Callable[[int], None] = lambda n: None,
    on_phase: Callable[[str], None] = lambda text: None,
) -> Seeded:
    """Fill an empty database with the demo store (the caller checked it is empty).

    ``curated`` is how many conversations are full threads; the rest are bulk-loaded.
    """
    now = (now or utcnow()).replace(microsecond=0)
    rng = random.Random(seed)
    curated_count = min(conversations, curated)
    bulk_count = conversations - curated_count
    plans = curated_plans(rng, count=curated_count, now=now)
    period = bulk_period(bulk_count) if bulk_count else timedelta(days=21)
    opened_at = now - period - timedelta(days=30)

    # Customers who wrote in appear just before their first message; the rest early on.
    first_seen = {i: opened_at + timedelta(days=1) for i in range(len(CUSTOMERS))}
    for plan in reversed(plans):
        first_seen[plan.customer] = plan.steps[0].at

    on_phase("team and customers")
    with database.transaction() as session:
        clock = Backdater(session)
        cast = replay.create_staff(session, clock, at=opened_at)
        replay.create_customers(session, clock, cast, first_seen=first_seen)

    on_phase("help center")
    with database.transaction() as session:
        clock = Backdater(session)
        cast = replay.load_cast(session)
        written = knowledge.seed(session, clock, cast, at=opened_at + timedelta(days=2))
        knowledge.simulate_activity(session, clock, cast, written, rng=random.Random(seed), now=now)

    if bulk_count:
        on_phase("bulk conversations")
        bulk.load(database, seed=seed, count=bulk_count, now=now, period=period, on_progress=on_progress)
        on_phase("building indexes")
        with database.transaction() as session:
            loading.ensure_indexes(session.connection())

    on_phase("conversation threads")
    with database.transaction() as session:
        clock = Backdater(session)
        cast = replay.load_cast(session)
        for plan in plans:
            replay.play(session, clock, cast, plan)
            on_progress(1)
        on_phase("store: catalogue, orders, shipments, returns")
        store.seed_store(session, clock, cast, rng=random.Random(seed), now=now)
        with clock.at(now):
            events_service.record(
                session, verb=MARKER, actor=replay.DEMO_ACTOR, subject_type="brand",
                subject_id=cast.brands[BRANDS[0].slug].id,
                data={"seed": seed, "conversations": conversations, "curated": curated_count, "bulk": bulk_count},
            )
    if bulk_count:
        on_phase("planner statistics")
        with database.transaction() as session:
            loading.analyze(session.connection())
    return Seeded(conversations=conversations, curated=curated_count, bulk=bulk_count)
