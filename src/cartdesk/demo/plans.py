"""From scenarios to dated steps: what happens in each demo conversation, and when.

A :class:`Plan` is pure data (no database): the same plan can be replayed through
the services (``replay``) or turned straight into rows (``bulk``). Every choice
comes from the ``random.Random`` handed in, so a seed gives the same store.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from itertools import accumulate
from typing import Literal

from cartdesk.demo import catalog
from cartdesk.demo.people import BRANDS, SUPERVISOR, USERS, DemoBrand, DemoUser, team_members
from cartdesk.demo.scenarios import Line, Scenario, for_brand

StepKind = Literal["create", "customer", "reply", "note", "assign", "status"]
Outcome = Literal["new", "open", "pending", "on_hold", "solved", "closed", "reopened"]
OUTCOMES: tuple[Outcome, ...] = ("new", "open", "pending", "on_hold", "solved", "closed", "reopened")

USERS_BY_KEY = {u.key: u for u in USERS}
BRANDS_BY_SLUG = {b.slug: b for b in BRANDS}


@dataclass(frozen=True, slots=True)
class Step:
    """One thing that happened. ``user`` is the demo user who wrote or acted."""

    kind: StepKind
    at: datetime
    text: str = ""
    user: str | None = None
    assignee: str | None = None  # assign: who takes it (None: only routed to a team)
    team: str | None = None  # assign: the team it is routed to
    status: str | None = None  # reply: status set with it; status: the new status


@dataclass(frozen=True, slots=True)
class Plan:
    brand: str
    customer: int
    channel: str
    subject: str
    priority: str
    tags: tuple[str, ...]
    outcome: Outcome
    steps: tuple[Step, ...]  # steps[0] is "create": the customer's first message


@dataclass(frozen=True, slots=True)
class Person:
    """The customer as the planner needs them (curated or bulk-made)."""

    first_name: str
    channel: str
    vip: bool = False
    company: str | None = None


# --- choosing ---------------------------------------------------------------------

CURATED_WEIGHTS = {"new": 14, "open": 20, "pending": 18, "on_hold": 7, "solved": 24, "closed": 11, "reopened": 6}

# Ages (hours since the last step) per outcome: open work is recent, closed work is old.
CURATED_AGES = {
    "new": (0.2, 20), "open": (0.3, 72), "pending": (1, 96), "on_hold": (24, 192),
    "solved": (24, 480), "closed": (12, 336), "reopened": (0.2, 48),
}


def pick_brand(rng: random.Random) -> DemoBrand:
    return BRANDS[0] if rng.random() < BRANDS[0].share else BRANDS[1]


@cache
def _scenario_options(brand: str, business: bool, business_only: bool) -> tuple[tuple[Scenario, ...], list[int]]:
    options = for_brand(brand, business=business)
    if business_only:
        options = tuple(s for s in options if s.business_only) or options
    return options, list(accumulate(s.weight for s in options))


def pick_scenario(rng: random.Random, brand: str, person: Person) -> Scenario:
    business = person.company is not None
    options, cumulative = _scenario_options(brand, business, business and rng.random() < 0.6)
    return rng.choices(options, cum_weights=cumulative)[0]


def pick_channel(rng: random.Random, person: Person, scenario: Scenario) -> str:
    if scenario.business_only:
        return "email"
    return person.channel if rng.random() < 0.75 else rng.choice(("email", "email", "chat", "api", "sms", "social"))


def team_for(scenario: Scenario, person: Person) -> str:
    return "VIP" if person.vip or person.company else scenario.team


def priority_for(rng: random.Random, scenario: Scenario, person: Person) -> str:
    if person.vip and scenario.priority in ("normal", "high") and rng.random() < 0.5:
        return "urgent" if scenario.priority == "high" else "high"
    return scenario.priority


# --- filling in the text ------------------------------------------------------------

_TRACKING = {"UPS": ("1Z", 16), "USPS": ("9400", 18), "FedEx": ("", 12), "PostNL": ("3S", 13), "DHL": ("JD", 10)}


class Facts(dict[str, str]):
    """The facts one conversation mentions (order numbers, products, sizes, codes).

    Made when a line first asks for them: a thread uses a handful of the twenty, and
    at a million conversations the rest would be wasted work. Still deterministic:
    the lines ask in the same order every time.
    """

    def __init__(self, rng: random.Random, brand: DemoBrand, person: Person, agent: DemoUser) -> None:
        super().__init__(first=person.first_name, agent=agent.first_name, brand=brand.name,
                         company=person.company or "our team")
        self.rng = rng
        self.shop = brand

    def __missing__(self, key: str) -> str:
        rng, brand = self.rng, self.shop
        if key in ("size", "new_size"):
            sizes = catalog.SIZES[brand.slug]
            i = rng.randrange(len(sizes) - 1)
            self["size"], self["new_size"] = sizes[i], sizes[i + 1]
            return self[key]
        if key in ("carrier", "tracking"):
            carrier = rng.choice(brand.carriers)
            prefix, digits = _TRACKING[carrier]
            self["carrier"], self["tracking"] = carrier, f"{prefix}{rng.randrange(10 ** digits):0{digits}d}"
            return self[key]
        make = _MAKERS.get(key)
        if make is None:
            raise KeyError(key)  # a typo in a script: fail loudly
        self[key] = value = make(rng, brand)
        return value


def _money(brand: DemoBrand, amount: str) -> str:
    return ("$" if brand.currency == "USD" else "€") + amount


_MAKERS: dict[str, Callable[[random.Random, DemoBrand], str]] = {
    "order": lambda rng, b: f"{b.order_prefix}-{rng.randrange(20000, 99999)}",
    "order2": lambda rng, b: f"{b.order_prefix}-{rng.randrange(20000, 99999)}",
    "product": lambda rng, b: rng.choice(catalog.PRODUCTS[b.slug]),
    "product2": lambda rng, b: rng.choice(catalog.PRODUCTS[b.slug]),
    "colour": lambda rng, b: rng.choice(catalog.COLOURS[b.slug]),
    "code": lambda rng, b: rng.choice(b.codes),
    "amount": lambda rng, b: _money(b, f"{rng.randrange(19, 420)}.{rng.choice(('00', '50', '95', '99'))}"),
    "weekday": lambda rng, b: rng.choice(catalog.WEEKDAYS),
    "street": lambda rng, b: rng.choice(catalog.STREETS),
    "city": lambda rng, b: rng.choice(catalog.CITIES),
    "qty": lambda rng, b: str(rng.choice((25, 40, 60, 120, 200))),
    "ref": lambda rng, b: f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randrange(100000, 999999)}",
    "days": lambda rng, b: str(rng.randrange(5, 21)),
    "emb": lambda rng, b: _money(b, "4.50"),
}


_GREETINGS = ("Hi,", "Hello,", "Hi there,", "Hello {brand} team,")
_SIGNOFFS = ("Thanks,", "Best,", "Cheers,", "Kind regards,", "Thank you,")
_AGENT_SIGNOFFS = ("Best,", "Kind regards,", "All the best,", "Warm regards,")


def render(rng: random.Random, line: Line | str, who: str, channel: str, facts: Facts) -> str:
    """A scripted line in the customer's or the agent's voice for this channel."""
    text = (line.text if isinstance(line, Line) else line).format_map(facts)
    if channel == "email" and who == "C":
        greeting = rng.choice(_GREETINGS).format_map(facts)
        return f"{greeting}\n\n{text}\n\n{rng.choice(_SIGNOFFS)}\n{facts['first']}"
    if channel in ("email", "api") and who == "A":
        return (f"Hi {facts['first']},\n\n{text}\n\n{rng.choice(_AGENT_SIGNOFFS)}\n"
                f"{facts['agent']}\n{facts['brand']} Support")
    return text


# --- cutting a script to an outcome -----------------------------------------------------

def _cut(rng: random.Random, scenario: Scenario, outcome: Outcome) -> list[tuple[Line | str, str]]:
    """The script lines this conversation has seen, as (line, who) with who C/A/N/hold/reopen/nudge."""
    lines = scenario.script
    replies = [i for i, line in enumerate(lines) if line.who == "A"]
    final = replies[-1]
    opening = [(lines[0], "C")]
    if rng.random() < 0.3:
        opening.append((scenario.nudge, "C"))
    if outcome == "new":
        return opening
    if outcome == "open":
        after = [i for i in range(replies[0] + 1, final) if lines[i].who == "C"]
        if not after or rng.random() < 0.25:
            return opening  # routed and taken, not yet answered
        return opening + [(ln, ln.who) for ln in lines[1:after[0] + 1]]
    if outcome == "pending":
        stop = rng.choice(replies[:-1]) if len(replies) > 1 else final
        return opening + [(ln, ln.who) for ln in lines[1:stop + 1]]
    if outcome == "on_hold":
        return opening + [(ln, ln.who) for ln in lines[1:replies[0] + 1]] + [(scenario.hold_note, "hold")]
    solved = opening + [(ln, ln.who) for ln in lines[1:final + 1]]
    if outcome == "reopened":
        return solved + [(scenario.reopen, "reopen")]
    return solved  # solved and closed


def _three(rng: random.Random, scenario: Scenario, outcome: Outcome) -> list[tuple[Line | str, str]]:
    """The same case told in exactly three messages (the bulk store's shape)."""
    lines = scenario.script
    replies = [i for i, line in enumerate(lines) if line.who == "A"]
    notes = [line for line in lines if line.who == "N"]
    note = (notes[0], "N") if notes else (rng.choice(catalog.TRIAGE_NOTES), "N")
    first_reply, final_reply = lines[replies[0]], lines[replies[-1]]
    later = [ln for ln in lines[replies[0] + 1:] if ln.who == "C"]
    if outcome == "new":
        return [(lines[0], "C"), (scenario.nudge, "C"), (rng.choice(catalog.CHASERS), "C")]
    if outcome == "open":
        return [(lines[0], "C"), (first_reply, "A"), (later[0] if later else rng.choice(catalog.CHASERS), "C")]
    if outcome == "pending":
        return [(lines[0], "C"), note, (first_reply, "A")]
    if outcome == "on_hold":
        return [(lines[0], "C"), (first_reply, "A"), (scenario.hold_note, "hold")]
    if outcome == "reopened":
        return [(lines[0], "C"), (final_reply, "A"), (scenario.reopen, "reopen")]
    return [(lines[0], "C"), note, (final_reply, "A")]  # solved, closed


# --- timing -----------------------------------------------------------------------------

def _gap(rng: random.Random, prev: str, kind: str) -> timedelta:
    """Minutes between two steps, shaped like a support desk's day."""
    if kind == "assign":
        low, high = 2, 45
    elif kind in ("note", "hold"):
        low, high = 5, 90
    elif kind == "status_hold":
        low, high = 1, 5
    elif kind == "close":
        low, high = 2 * 1440, 4 * 1440
    elif kind == "reopen":
        low, high = 360, 3 * 1440
    elif kind == "A":
        low, high = (10, 120) if prev == "N" else (15, 420)
    elif prev == "A":  # the customer answering an agent
        low, high = 40, 30 * 60
    else:  # the customer adding to their own message
        low, high = 3, 40
    # Skewed towards quick: most answers come early, a few take long.
    return timedelta(minutes=low + (high - low) * rng.random() ** 2)


def build(
    rng: random.Random,
    *,
    person_index: int,
    person: Person,
    outcome: Outcome,
    end: datetime,
    three_messages: bool = False,
    brand: DemoBrand | None = None,
) -> Plan:
    """Plan one conversation whose last step happens at ``end``."""
    brand = brand or pick_brand(rng)
    scenario = pick_scenario(rng, brand.slug, person)
    team = team_for(scenario, person)
    agent = rng.choice(team_members(team))
    facts = Facts(rng, brand, person, agent)
    channel = pick_channel(rng, person, scenario)
    script = _three(rng, scenario, outcome) if three_messages else _cut(rng, scenario, outcome)
    routed = outcome != "new" and rng.random() < 0.5 or outcome == "open" and len(script) <= 2
    final_status = {"solved": "solved", "closed": "solved", "reopened": "solved"}.get(outcome)

    # Lay the steps out relative to the first message, then slide them to end at ``end``.
    raw: list[tuple[timedelta, dict[str, object]]] = []
    offset = timedelta(0)
    prev = "C"
    last_reply = max((i for i, (_, who) in enumerate(script) if who == "A"), default=-1)
    for i, (line, who) in enumerate(script):
        if i == 0:
            raw.append((offset, {"kind": "create", "text": render(rng, line, "C", channel, facts)}))
            if routed:
                offset += _gap(rng, "C", "assign")
                raw.append((offset, {"kind": "assign", "user": SUPERVISOR.key, "assignee": agent.key, "team": team}))
            elif outcome == "new" and rng.random() < 0.4:
                offset += _gap(rng, "C", "assign")
                raw.append((offset, {"kind": "assign", "user": SUPERVISOR.key, "team": team}))
            continue
        offset += _gap(rng, prev, who)
        if who in ("C", "reopen"):
            raw.append((offset, {"kind": "customer", "text": render(rng, line, "C", channel, facts)}))
        elif who == "A":
            status = final_status if i == last_reply else None
            raw.append((offset, {"kind": "reply", "user": agent.key, "status": status,
                                 "text": render(rng, line, "A", channel, facts)}))
        else:  # N or hold
            raw.append((offset, {"kind": "note", "user": agent.key, "text": render(rng, line, "N", channel, facts)}))
            if who == "hold":
                offset += _gap(rng, "N", "status_hold")
                raw.append((offset, {"kind": "status", "user": agent.key, "status": "on_hold"}))
        prev = "A" if who == "A" else ("N" if who in ("N", "hold") else "C")
    if outcome == "closed":
        offset += _gap(rng, "A", "close")
        raw.append((offset, {"kind": "status", "user": SUPERVISOR.key, "status": "closed"}))
    start = end - offset
    steps = tuple(Step(at=start + delta, **fields) for delta, fields in raw)  # type: ignore[arg-type]
    tags = scenario.tags + (("vip",) if person.vip else ())
    return Plan(
        brand=brand.slug,
        customer=person_index,
        channel=channel,
        subject=rng.choice(scenario.subjects).format_map(facts),
        priority=priority_for(rng, scenario, person),
        tags=tags,
        outcome=outcome,
        steps=steps,
    )
