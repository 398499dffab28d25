from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartdesk.kit.money import Money, allocate, cumulative_share, format_money, parse_amount, quantize

cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c) / 100)


@given(total=cents, units=st.integers(1, 50), data=st.data())
def test_any_split_of_units_adds_up_to_the_total_exactly(total: Decimal, units: int, data: st.DataObject) -> None:
    batches = data.draw(st.lists(st.integers(1, units), max_size=units))
    done, parts = 0, []
    for batch in batches:
        batch = min(batch, units - done)
        if batch == 0:
            break
        parts.append(cumulative_share(total, units, done + batch, "USD") - cumulative_share(total, units, done, "USD"))
        done += batch
    if done < units:
        parts.append(cumulative_share(total, units, units, "USD") - cumulative_share(total, units, done, "USD"))
    assert sum(parts, Decimal(0)) == total
    assert all(p >= 0 for p in parts)


@given(total=cents, weights=st.lists(cents, min_size=1, max_size=20))
def test_allocate_adds_up_and_never_goes_negative(total: Decimal, weights: list[Decimal]) -> None:
    parts = allocate(total, weights, "EUR")
    if sum(weights) == 0:
        assert parts == [0] * len(weights)
    else:
        assert sum(parts, Decimal(0)) == total
        assert all(p >= 0 for p in parts)


def test_money_refuses_mixed_currencies_and_floats() -> None:
    assert Money(Decimal("1.005"), "usd").amount == Decimal("1.00")  # banker's rounding
    assert str(Money(Decimal("12"), "EUR") + Money(Decimal("0.5"), "EUR")) == "€12.50"
    with pytest.raises(ValueError, match="cannot combine"):
        Money(Decimal(1), "USD") + Money(Decimal(1), "EUR")
    with pytest.raises(ValueError, match="never floats"):
        parse_amount(1.5, "USD")
    with pytest.raises(ValueError, match="more decimals"):
        parse_amount("1.234", "USD")
    assert parse_amount(" 19.90 ", "USD") == Decimal("19.90")
    assert quantize(Decimal("1234.5"), "JPY") == Decimal("1234")
    assert format_money(Decimal("1234"), "JPY") == "¥1,234"
    assert format_money(Decimal("-3.5"), "SEK") == "-3.50 SEK"
