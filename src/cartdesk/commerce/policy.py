"""The return policy: may this item go back, and on what terms? Every answer has a reason a
customer can read.

Rules, in order: final-sale items never; categories the store does not take back
never; the window runs from delivery (an order still on its way cannot be returned
yet); used items only when they arrived faulty; opened items carry a restocking fee
unless faulty or swapped for store credit or an exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from cartdesk.commerce.models import OrderLine, Resolution
from cartdesk.kit.money import ZERO, format_money, quantize

FAULTY_REASONS = frozenset({"defective", "arrived_damaged", "wrong_item"})
REASONS = {
    "changed_mind": "Changed my mind",
    "too_small": "Too small",
    "too_large": "Too large",
    "not_as_described": "Not as described",
    "defective": "Defective or broken",
    "arrived_damaged": "Arrived damaged",
    "wrong_item": "Wrong item sent",
}


@dataclass(frozen=True, slots=True)
class Policy:
    window_days: int = 30
    non_returnable_categories: frozenset[str] = field(
        default_factory=lambda: frozenset({"gift cards", "personal care", "perishables"})
    )
    restocking_fee_percent: Decimal = Decimal("10")


DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class Decision:
    eligible: bool
    reason: str
    fee: Decimal = ZERO


def decide(
    *, line: OrderLine, currency: str, quantity: int, returnable_units: int, delivered_at: datetime | None,
    now: datetime, condition: str, reason: str, resolution: Resolution, policy: Policy = DEFAULT_POLICY,
) -> Decision:
    faulty = reason in FAULTY_REASONS
    if line.final_sale:
        return Decision(False, f"{line.title} was a final-sale item; final-sale items cannot be returned.")
    if line.category.lower() in policy.non_returnable_categories:
        return Decision(False, f"{line.title} is in {line.category}, which cannot be returned for hygiene or safety reasons.")
    if quantity > returnable_units:
        if returnable_units <= 0:
            return Decision(False, f"{line.title} has already been returned or refunded.")
        return Decision(False, f"Only {returnable_units} of {line.title} can still be returned.")
    if delivered_at is None:
        return Decision(False, "This order has not been delivered yet; a return can start once it arrives.")
    deadline = delivered_at + timedelta(days=policy.window_days)
    if now > deadline and not faulty:
        days = (now - delivered_at).days
        return Decision(
            False,
            f"{line.title} was delivered {days} days ago, outside the {policy.window_days}-day return window "
            f"(it closed on {deadline:%d %B %Y}).",
        )
    if condition in ("used", "damaged") and not faulty:
        return Decision(False, f"{line.title} is {condition}; only unused items can be returned unless they were faulty.")
    if condition == "opened" and not faulty and resolution == Resolution.refund:
        share = quantize(line.total * quantity / line.quantity, currency)
        fee = quantize(share * policy.restocking_fee_percent / 100, currency)
        return Decision(
            True,
            f"{line.title} can be returned; opened items carry a {policy.restocking_fee_percent.normalize()}% "
            f"restocking fee ({format_money(fee, currency)}), waived for an exchange or store credit.",
            fee,
        )
    if now > deadline and faulty:
        return Decision(True, f"{line.title} can be returned: faulty items are taken back after the window too.")
    return Decision(True, f"{line.title} can be returned until {deadline:%d %B %Y}.")
