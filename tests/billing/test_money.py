"""M1: money is integer minor units with a currency; never floats, never mixed."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import BigInteger, func, select

from portal.errors import CurrencyMismatch, InvalidAmount
from portal import models
from portal.money import MAX_MINOR, Money, total
from tests import factories as f


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


def test_m9_every_money_column_is_64_bit():
    money_columns = [column for table in models.db.metadata.tables.values() for column in table.columns
                     if column.name.endswith("_minor")]
    assert len(money_columns) >= 15
    assert [f"{c.table.name}.{c.name}" for c in money_columns
            if not (isinstance(c.type, models.MinorUnits) and isinstance(c.type.impl_instance, BigInteger))] == []


def test_i27_a_sum_of_money_is_an_int_on_both_databases(b):
    """PostgreSQL sums a bigint as numeric: read back, it is still an int that Money takes."""
    acc = f.account(b)
    sub = f.subscription(b, acc, f.card(b, acc))
    f.charge(b, sub, MAX_MINOR, months_ago=1)
    f.charge(b, sub, MAX_MINOR, months_ago=2)
    f.commit(b)
    for query in (func.sum(models.Charge.amount_minor), func.coalesce(func.sum(models.Charge.amount_minor), 0)):
        owed = b.session.scalar(select(query))
        assert type(owed) is int and Money(owed, "SEK").minor == 2 * MAX_MINOR
    nothing = b.session.scalar(select(func.coalesce(func.sum(models.Charge.amount_minor), 0)).where(
        models.Charge.currency == "EUR"))
    assert type(nothing) is int and nothing == 0


def test_m9_the_largest_amount_is_above_32_bits_and_its_sums_fit_64():
    """The reasons money.MAX_MINOR gives for its value: above where a 32-bit column ends, and
    thousands of such amounts still sum within a 64-bit column, each exact as a float."""
    assert MAX_MINOR > 2**31 - 1 and len(str(MAX_MINOR)) == 15
    assert 9_000 * MAX_MINOR < 2**63 - 1
    assert MAX_MINOR < 2**53 and int(float(MAX_MINOR)) == MAX_MINOR
