"""M1: money is integer minor units with a currency; never floats, never mixed."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from portal.errors import CurrencyMismatch, InvalidAmount
from portal.money import Money, total


def test_m1_money_is_integer_minor_units_with_a_currency():
    assert Money(123_450, "SEK") + Money(50, "SEK") == Money(123_500, "SEK")
    with pytest.raises(InvalidAmount):
        Money(12.5, "SEK")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(True, "SEK")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(1, "kr")


def test_m1_currencies_never_mix():
    with pytest.raises(CurrencyMismatch):
        Money(1, "SEK") + Money(1, "EUR")
    with pytest.raises(CurrencyMismatch):
        total([Money(1, "EUR")], "SEK")


@given(st.lists(st.integers(min_value=0, max_value=10**12), max_size=50))
def test_m1_totals_are_exact(amounts):
    assert total((Money(a, "SEK") for a in amounts), "SEK").minor == sum(amounts)
