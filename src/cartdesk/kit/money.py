"""Money: a Decimal amount with its currency, never a float.

Amounts are kept to the currency's minor unit (two places for most currencies,
none for JPY and a few others). ``allocate`` splits an amount into parts that add
up exactly, which is what partial refunds and discount spreading rely on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

# ISO 4217 currencies without a minor unit; the rest are treated as two-place.
# Three-place currencies (KWD, BHD…) are not supported: the amount columns hold cents.
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX", "XAF", "XOF"})
ZERO = Decimal("0")


def exponent(currency: str) -> Decimal:
    return Decimal("1") if currency.upper() in ZERO_DECIMAL else Decimal("0.01")


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round to the currency's minor unit (banker's rounding, as payment processors do)."""
    return Decimal(amount).quantize(exponent(currency), rounding=ROUND_HALF_EVEN)


def parse_amount(value: Any, currency: str) -> Decimal:
    """A user-supplied amount as Decimal; refuses floats, junk and extra precision."""
    if isinstance(value, float):
        raise ValueError("amounts are strings or Decimals, never floats")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{value!r} is not an amount") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    if amount != quantize(amount, currency):
        raise ValueError(f"{amount} has more decimals than {currency.upper()} allows")
    return quantize(amount, currency)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "currency", self.currency.upper())
        object.__setattr__(self, "amount", quantize(self.amount, self.currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)


SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "CHF": "CHF "}


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "—"
    amount = quantize(amount, currency)
    symbol = SYMBOLS.get(currency.upper())
    places = 0 if currency.upper() in ZERO_DECIMAL else 2
    text = f"{abs(amount):,.{places}f}"
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


def cumulative_share(total: Decimal, units: int, upto: int, currency: str) -> Decimal:
    """The part of ``total`` that the first ``upto`` of ``units`` equal units carry.

    Shares are taken from the cumulative sum rather than per unit, so any split of
    the units into batches (partial refunds) adds up to ``total`` exactly, and the
    whole of ``units`` is always exactly ``total``.
    """
    if units <= 0 or upto <= 0:
        return ZERO
    if upto >= units:
        return quantize(total, currency)
    return quantize(total * upto / units, currency)


def allocate(total: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` over ``weights`` proportionally; the parts add up to ``total`` exactly."""
    whole = sum(weights, ZERO)
    if whole == 0:
        return [ZERO for _ in weights]
    parts: list[Decimal] = []
    running, done = ZERO, ZERO
    for weight in weights:
        running += weight
        upto = quantize(total * running / whole, currency)
        parts.append(upto - done)
        done = upto
    return parts
