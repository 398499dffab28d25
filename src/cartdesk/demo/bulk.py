"""Seeding a large store fast: plans turned straight into rows, written in large batches.

Replaying a million conversations through the services would take hours. Here
plans become the rows the services would have written (``simulate``), in batches
of ``BATCH`` conversations, one transaction each, through the driver on the Core
connection (executemany on SQLite, COPY on PostgreSQL). On a machine with a spare core the rows are
made in a helper process while the previous batch is written. SQLite's search
triggers are paused per batch and the batch is indexed with one INSERT .. SELECT
per table, in the same transaction (see ``loading``).
"""

from __future__ import annotations

import multiprocessing
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from queue import Full
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import Session

from cartdesk.auth.models import Team, User
from cartdesk.brands.models import Brand
from cartdesk.conversations.models import Conversation, Message, Tag
from cartdesk.customers.models import Customer, CustomerIdentity
from cartdesk.db.engine import Database
from cartdesk.demo import loading
from cartdesk.demo.people import COMPANIES, FIRST_NAMES, LAST_NAMES, USERS, ascii_slug
from cartdesk.demo.plans import OUTCOMES, Outcome, Person, build
from cartdesk.demo.scenarios import SCENARIOS
from cartdesk.demo.simulate import COLUMNS, Batch, Context, Ids, Simulator
from cartdesk.events.models import Event

BATCH = 10_000  # conversations per transaction
RETURNING = 0.4  # share of conversations from a customer who wrote before
_DOMAINS = ("example.com", "example.net", "example.org", "mail.example")
_CHANNELS = ("email",) * 8 + ("chat",) * 5 + ("api",) * 2 + ("sms",) * 2 + ("social",) * 3
_FIRST_SLUGS = [ascii_slug(n) for n in FIRST_NAMES]
_LAST_SLUGS = [ascii_slug(n) for n in LAST_NAMES]


def bulk_customer(k: int) -> tuple[Person, str, str]:
    """Bulk customer number ``k``: always the same person, so no table of them is kept."""
    f = (k * 7) % len(FIRST_NAMES)
    la = (k * 13 + k // len(FIRST_NAMES)) % len(LAST_NAMES)
    email = f"{_FIRST_SLUGS[f]}.{_LAST_SLUGS[la]}{k}@{_DOMAINS[k % len(_DOMAINS)]}"
    company = COMPANIES[k % len(COMPANIES)] if k % 97 == 13 else None
    person = Person(first_name=FIRST_NAMES[f], channel=_CHANNELS[(k * 31) % len(_CHANNELS)], vip=k % 41 == 7,
                    company=company)
    return person, f"{FIRST_NAMES[f]} {LAST_NAMES[la]}", email


# Cumulative weights for new, open, pending, on_hold, solved, closed, reopened by age:
# recent conversations are still being worked, old ones are solved or closed.
_BY_AGE = (
    (48.0, (22, 46, 68, 72, 92, 92, 100)),
    (240.0, (2, 12, 26, 34, 74, 94, 100)),
    (float("inf"), (0, 0, 0, 2, 30, 100, 100)),
)


def outcome_for_age(rng: random.Random, hours: float) -> Outcome:
    cumulative = next(c for limit, c in _BY_AGE if hours < limit)
    return rng.choices(OUTCOMES, cum_weights=cumulative)[0]


# --- reading what is there ----------------------------------------------------------------------

def load_context(session: Session) -> Context:
    brands = session.scalars(select(Brand).order_by(Brand.id)).all()
    emails = {u.email: u.key for u in USERS}
    users = session.execute(select(User.email, User.id).where(User.email.in_(emails))).all()
    teams = session.execute(select(Team.name, Team.id)).all()
    wanted = sorted({t for s in SCENARIOS for t in s.tags} | {"vip"})
    existing = dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted))).all())
    missing = [name for name in wanted if name not in existing]
    if missing:
        session.execute(insert(Tag), [{"name": name} for name in missing])
        existing = dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted))).all())
    return Context(
        brand_ids={b.slug: b.id for b in brands},
        next_numbers={b.slug: b.next_conversation_number for b in brands},
        user_ids={emails[email]: uid for email, uid in users},
        team_ids=dict(teams),
        tag_ids=existing,
    )


def next_ids(session: Session) -> Ids:
    def after(model: Any) -> int:
        return (session.scalar(select(func.max(model.id))) or 0) + 1

    return Ids(customer=after(Customer), identity=after(CustomerIdentity), conversation=after(Conversation),
               message=after(Message), event=after(Event))


# --- making rows --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """Everything that decides the rows (picklable, for the helper process)."""

    seed: int
    count: int
    now: datetime
    period: timedelta
    dialect: str
    ctx: Context
    ids: Ids


def batches(spec: Spec) -> Iterator[Batch]:
    """The rows, batch by batch. Deterministic: the same spec gives the same rows."""
    simulator = Simulator(spec.ctx, spec.ids, dialect=spec.dialect)
    now, period, count = spec.now, spec.period, spec.count
    first_customer_id = spec.ids.customer  # bulk customer k gets id first_customer_id + k
    customers_made = 0
    done = 0
    while done < count:
        size = min(BATCH, count - done)
        rng = random.Random(f"{spec.seed}:bulk:{done // BATCH}")
        batch = Batch()
        for j in range(done, done + size):
            # Conversations come in time order, so numbers rise with time as in a real store.
            end = min(now - period + period * ((j + rng.random()) / count), now - timedelta(minutes=1))
            returning = customers_made and rng.random() < RETURNING
            k = rng.randrange(customers_made) if returning else customers_made
            person, name, email = bulk_customer(k)
            outcome = outcome_for_age(rng, (now - end).total_seconds() / 3600)
            plan = build(rng, person_index=k, person=person, outcome=outcome, end=end, three_messages=True)
            if returning:
                customer_id = first_customer_id + k
            else:
                # Many shoppers have an account for a while before they first write in.
                customer_id = simulator.customer(
                    batch, name=name, email=email, vip=person.vip,
                    custom={"company": person.company} if person.company else {},
                    at=plan.steps[0].at - timedelta(days=1 + 29 * rng.random()),
                )
                customers_made += 1
            simulator.conversation(batch, plan, customer_id=customer_id)
        batch.next_numbers = dict(spec.ctx.next_numbers)
        yield batch
        done += size


def _produce(spec: Spec, queue: Any) -> None:
    """The helper process: make every batch and hand it over (bounded queue: little memory)."""
    parent = multiprocessing.parent_process()

    def hand_over(item: Any) -> bool:
        while True:
            try:
                queue.put(item, timeout=1)
                return True
            except Full:
                if parent is None or not parent.is_alive():
                    return False  # nobody will read it: stop rather than linger as an orphan

    try:
        for batch in batches(spec):
            if not hand_over(batch):
                return
        hand_over(None)
    except BaseException as exc:  # the parent re-raises it; a silent child would hang the seed
        hand_over(exc)


def _made_in_helper(spec: Spec) -> Iterator[Batch]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=2)
    process = context.Process(target=_produce, args=(spec, queue), daemon=True)
    process.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if process.is_alive():  # the parent failed or stopped early: the rows are not wanted
            process.kill()
        process.join()


# --- writing ------------------------------------------------------------------------------------

def write(connection: Connection, batch: Batch, brand_ids: dict[str, int]) -> None:
    """Insert one batch and index it for search as the triggers would have, in one go."""
    with loading.search_triggers_suspended(connection):
        for table, columns in COLUMNS.items():
            rows = batch.rows[table]
            if rows:
                _insert(connection, table, columns, rows)
        for table in ("customers", "conversations", "messages"):
            rows = batch.rows[table]
            if rows:
                loading.index_rows(connection, table=table, first_id=rows[0][0], last_id=rows[-1][0])
    for slug, number in batch.next_numbers.items():
        connection.execute(update(Brand).where(Brand.id == brand_ids[slug]).values(next_conversation_number=number))


def _insert(connection: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if dialect.name == "postgresql":
        # COPY is PostgreSQL's bulk path, several times quicker than any INSERT; it runs on
        # this transaction's own connection, so the batch still commits or fails as one.
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(columns))
    connection.exec_driver_sql(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", rows)  # type: ignore[arg-type]


def sync_sequences(connection: Connection) -> None:
    """PostgreSQL hands out ids from sequences; rows with explicit ids leave those behind."""
    if connection.dialect.name != "postgresql":
        return
    for table in ("customers", "customer_identities", "conversations", "messages", "events"):
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )


def load(
    database: Database,
    *,
    seed: int,
    count: int,
    now: datetime,
    period: timedelta,
    on_progress: Callable[[int], None] = lambda n: None,
    helper_process: bool | None = None,
) -> None:
    """Add ``count`` conversations (three messages each) spread over ``period`` before ``now``.

    The caller puts the secondary indexes back (``loading.ensure_indexes``) when done.
    """
    with database.transaction() as session:
        loading.drop_secondary_indexes(session.connection())
        spec = Spec(seed=seed, count=count, now=now.astimezone(UTC), period=period, dialect=database.dialect,
                    ctx=load_context(session), ids=next_ids(session))
    if helper_process is None:
        helper_process = (os.cpu_count() or 1) > 1 and count > BATCH
    made = _made_in_helper(spec) if helper_process else batches(spec)
    for batch in made:
        with database.transaction() as session:
            write(session.connection(), batch, spec.ctx.brand_ids)
            sync_sequences(session.connection())
        on_progress(batch.conversations)
