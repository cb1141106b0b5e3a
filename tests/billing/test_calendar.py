"""The billing calendar at its boundaries (M7, R12): due and past-due days, disable and
deletion days, warnings, billing periods at month ends and in leap years, days counted
in Europe/Stockholm, the cycle run late or twice — and the demo right on any day.

Formulas are proven for every date hypothesis draws; each edge has a table."""
from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from portal.billing.cycle import lifecycle
from portal.billing.accounts.balances import recount_outstanding
from portal.billing.clock import FixedClock, PinnedDayClock, SystemClock, clock_from_config
from portal.billing.context import BillingPolicy
from portal.billing.cycle.invoices import mark_past_due_invoices
from portal.billing.periods import (billed_part, is_past_due, months_back, previous_month,
                                    prorated)
from portal.models import (AccountKind, Charge, ChargeStatus, DisableWarning, Invoice,
                           InvoiceStatus, Subscription, SubscriptionStatus)
from portal.demo import seed_demo
from tests import factories as f
from tests.conftest import FAST_HASH, examples

STOCKHOLM = ZoneInfo("Europe/Stockholm")
days = st.dates(date(2000, 1, 1), date(2099, 12, 31))


def at(text: str) -> SystemClock:
    """The real clock, standing still at one instant given in UTC."""
    instant = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    return SystemClock(STOCKHOLM, lambda: instant)


# --- M7: due through the due day, past due from the next ------------------------------

@given(due=days, offset=st.integers(-400, 400))
def test_m7_due_through_the_due_day_and_past_due_from_the_next(due, offset):
    today = due + timedelta(days=offset)
    assert is_past_due(due, today) == (offset >= 1)


@pytest.mark.parametrize("due_on", [date(2026, 12, 1), date(2027, 2, 28), date(2028, 2, 29),
                                    date(2026, 12, 31), date(2027, 3, 28), date(2027, 10, 31)])
def test_m7_the_cycle_marks_an_invoice_past_due_the_day_after_its_due_day(b, clock, due_on):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc, default=f.wire(b, acc))
    invoice = Invoice(billing_profile_id=profile.id, number="1", currency="SEK", period_start=date(2026, 1, 1),
                      period_end=date(2026, 1, 31), issued_on=due_on - timedelta(days=30), due_on=due_on,
                      status=InvoiceStatus.DUE, subtotal_minor=100_00, credits_applied_minor=0)
    b.session.add(invoice)
    f.commit(b)
    assert mark_past_due_invoices(b, due_on) == 0  # the due day itself: still due
    assert invoice.status == InvoiceStatus.DUE
    assert mark_past_due_invoices(b, due_on + timedelta(days=1)) == 1
    assert invoice.status == InvoiceStatus.PAST_DUE


@pytest.mark.parametrize("period_end, due_on", [
    (date(2026, 11, 30), date(2026, 12, 31)),  # billed 1 Dec, due 30 days later
    (date(2027, 1, 31), date(2027, 3, 3)),    # billed 1 Feb (28 days)
    (date(2028, 1, 31), date(2028, 3, 2)),    # billed 1 Feb of a leap year
])
def test_r01_a_transfer_is_not_received_from_the_day_after_its_due_day(b, clock, period_end, due_on):
    acc = f.account(b)
    sub = f.subscription(b, acc, f.wire(b, acc), started_on=date(2020, 1, 1))
    start = period_end.replace(day=1)
    b.session.add(Charge(subscription_id=sub.id, amount_minor=100_00, currency="SEK", period_start=start,
                         period_end=period_end, status=ChargeStatus.OUTSTANDING))
    b.session.flush()
    recount_outstanding(b.session, Subscription.id == sub.id)
    f.commit(b)
    assert b.policy.due_date(period_end + timedelta(days=1)) == due_on
    clock.current = due_on
    assert lifecycle.mark_unreceived_transfers(b, due_on) == 0
    assert sub.status == SubscriptionStatus.ACTIVE
    clock.current = due_on + timedelta(days=1)
    assert lifecycle.mark_unreceived_transfers(b, clock.current) == 1
    b.session.refresh(sub)
    assert (sub.status, sub.past_due_since) == (SubscriptionStatus.PAST_DUE, due_on + timedelta(days=1))


# --- R12: disable day, deletion day, warnings -----------------------------------------

@given(past_due_since=days, grace=st.integers(1, 120), deletion=st.integers(1, 400))
def test_r12_disable_day_is_past_due_day_plus_grace_and_deletion_day_plus_deletion_days(
        past_due_since, grace, deletion):
    policy = BillingPolicy(grace_period_days=grace, deletion_after_days=deletion)
    disable_on = policy.disable_date(past_due_since)
    assert (disable_on - past_due_since).days == grace
    assert (policy.deletion_date(disable_on) - disable_on).days == deletion
    assert policy.warning_dates(disable_on) == [(7, disable_on - timedelta(days=7)),
                                               (1, disable_on - timedelta(days=1))]


R12_EDGES = [  # past due since, disabled on, deleted on (30 and 90 days)
    (date(2027, 1, 31), date(2027, 3, 2), date(2027, 5, 31)),    # over a short February
    (date(2028, 1, 31), date(2028, 3, 1), date(2028, 5, 30)),    # over a leap day
    (date(2026, 12, 31), date(2027, 1, 30), date(2027, 4, 30)),  # over New Year
    (date(2027, 2, 28), date(2027, 3, 30), date(2027, 6, 28)),   # over the spring DST change
    (date(2027, 10, 1), date(2027, 10, 31), date(2028, 1, 29)),  # on the autumn DST change
]


@pytest.mark.parametrize("past_due_since, disable_on, delete_on", R12_EDGES)
def test_r12_disabled_and_deleted_exactly_on_their_days(b, clock, past_due_since, disable_on, delete_on):
    acc = f.account(b)
    sub = f.subscription(b, acc, f.card(b, acc), SubscriptionStatus.PAST_DUE, past_due_since=past_due_since)
    f.commit(b)
    assert (b.policy.disable_date(past_due_since), b.policy.deletion_date(disable_on)) == (disable_on, delete_on)
    steps = [(disable_on - timedelta(days=1), SubscriptionStatus.PAST_DUE),
             (disable_on, SubscriptionStatus.DISABLED),
             (delete_on - timedelta(days=1), SubscriptionStatus.DISABLED),
             (delete_on, SubscriptionStatus.DELETED)]
    for day, status in steps:
        lifecycle.advance_lifecycle(b, day)
        b.session.refresh(sub)
        assert sub.status == status, day
    assert (sub.disabled_on, sub.deleted_on) == (disable_on, delete_on)


WARNING_EDGES = [  # past due since → the days the 7- and 1-day warnings go out
    (date(2027, 1, 31), [date(2027, 2, 23), date(2027, 3, 1)]),    # disabled 2 March
    (date(2028, 1, 31), [date(2028, 2, 23), date(2028, 2, 29)]),   # disabled 1 March, leap year
    (date(2027, 2, 26), [date(2027, 3, 21), date(2027, 3, 27)]),   # disabled 28 March, the DST night
    (date(2027, 10, 2), [date(2027, 10, 25), date(2027, 10, 31)]),  # autumn DST day
    (date(2026, 12, 8), [date(2026, 12, 31), date(2027, 1, 6)]),   # New Year's Eve
]


@pytest.mark.parametrize("past_due_since, expected", WARNING_EDGES)
def test_r12_disable_warnings_7_and_1_days_before_across_month_ends_and_dst(b, clock, past_due_since, expected):
    acc = f.account(b)
    sub = f.subscription(b, acc, f.card(b, acc), SubscriptionStatus.PAST_DUE, past_due_since=past_due_since)
    f.commit(b)
    disable_on = b.policy.disable_date(past_due_since)
    day = past_due_since
    while day < disable_on:  # the cycle runs every day, twice on some
        clock.current = day
        lifecycle.warn_before_disabling(b, day)
        lifecycle.warn_before_disabling(b, day)
        day += timedelta(days=1)
    given_ = b.session.scalars(select(DisableWarning).where(DisableWarning.subscription_id == sub.id)
                               .order_by(DisableWarning.warned_on)).all()
    assert [(w.warned_on, w.days_before, w.disable_on) for w in given_] == \
        [(expected[0], 7, disable_on), (expected[1], 1, disable_on)]


# --- Billing periods: calendar months ---------------------------------------------------

@given(today=days)
def test_m7_the_period_billed_is_the_whole_calendar_month_before(today):
    start, end = previous_month(today)
    assert start.day == 1 and (start.year, start.month) == (end.year, end.month)
    assert end + timedelta(days=1) == today.replace(day=1)
    assert months_back(today, 1) == (start, end)
    assert months_back(today, 2) == previous_month(start)


@pytest.mark.parametrize("today, period", [
    (date(2027, 3, 1), (date(2027, 2, 1), date(2027, 2, 28))),
    (date(2028, 3, 1), (date(2028, 2, 1), date(2028, 2, 29))),
    (date(2027, 3, 31), (date(2027, 2, 1), date(2027, 2, 28))),
    (date(2027, 1, 1), (date(2026, 12, 1), date(2026, 12, 31))),
    (date(2026, 12, 31), (date(2026, 11, 1), date(2026, 11, 30))),
    (date(2027, 2, 28), (date(2027, 1, 1), date(2027, 1, 31))),
])
def test_m7_billing_periods_at_month_ends_and_leap_years(today, period):
    assert previous_month(today) == period


@given(fee=st.integers(0, 10**9), day=days)
def test_m7_a_whole_month_costs_the_monthly_fee_and_parts_add_up(fee, day):
    start = day.replace(day=1)
    end = previous_month(start + timedelta(days=32))[1]
    assert prorated(fee, start, end) == fee
    assert 0 <= prorated(fee, day, end) <= fee
    assert billed_part(date(1999, 1, 1), start, end) == (start, end)
    assert billed_part(day, start, end) == (day, end)


@pytest.mark.parametrize("started_on, billed", [
    (date(2027, 1, 16), (date(2027, 1, 16), date(2027, 1, 31), 160_00)),  # 16 of 31 days
    (date(2028, 2, 15), (date(2028, 2, 15), date(2028, 2, 29), 155_17)),  # 15 of 29 days
    (date(2027, 1, 1), (date(2027, 1, 1), date(2027, 1, 31), 310_00)),
    (date(2027, 1, 31), (date(2027, 1, 31), date(2027, 1, 31), 10_00)),   # the last day alone
])
def test_m7_a_period_that_starts_mid_month_is_billed_from_its_first_day(b, clock, started_on, billed):
    acc = f.account(b)
    sub = f.subscription(b, acc, f.card(b, acc), fee=310_00 if started_on.month == 1 else 300_00,
                         started_on=started_on)
    f.commit(b)
    clock.current = date(started_on.year, started_on.month, monthrange(started_on.year, started_on.month)[1]) \
        + timedelta(days=1)  # the billing day of its first month
    lifecycle.run_billing_cycle(b)
    [charge] = b.session.scalars(select(Charge).where(Charge.subscription_id == sub.id)).all()
    assert (charge.period_start, charge.period_end, charge.amount_minor) == billed
    assert charge.status == ChargeStatus.PAID


def test_m7_a_subscription_that_starts_after_the_period_is_not_billed_for_it(b, clock):
    acc = f.account(b)
    sub = f.subscription(b, acc, f.card(b, acc), started_on=date(2026, 12, 1))
    f.commit(b)
    clock.current = date(2026, 12, 1)
    assert lifecycle.run_billing_cycle(b).charges_created == 0
    clock.current = date(2027, 1, 1)
    lifecycle.run_billing_cycle(b)
    assert [(c.period_start, c.period_end) for c in sub.charges] == [(date(2026, 12, 1), date(2026, 12, 31))]


def test_m7_the_cycle_run_late_or_twice_bills_every_period_once(b, clock):
    """Nobody ran the cycle from 2 December to 9 February: December and January are
    both billed on 10 February (none skipped); reruns bill nothing (none twice)."""
    payg = f.account(b)
    sub = f.subscription(b, payg, f.card(b, payg))
    agreement = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, agreement, default=f.wire(b, agreement))
    f.subscription(b, agreement, None, profile=profile)
    f.commit(b)
    for day in (date(2026, 12, 1), date(2026, 12, 1), date(2027, 2, 10), date(2027, 2, 10), date(2027, 2, 28),
                date(2027, 3, 1), date(2027, 3, 1)):
        clock.current = day
        lifecycle.run_billing_cycle(b)
    months = [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]
    assert sorted(c.period_start for c in sub.charges) == months
    invoices = b.session.scalars(select(Invoice).where(Invoice.billing_profile_id == profile.id)
                                 .order_by(Invoice.period_start)).all()
    assert [i.period_start for i in invoices] == months
    # Issued the day the cycle made them, due from then (the late ones on 10 February).
    assert [i.issued_on for i in invoices] == [date(2026, 12, 1), date(2027, 2, 10), date(2027, 2, 10),
                                               date(2027, 3, 1)]
    assert all(i.due_on == b.policy.due_date(i.issued_on) for i in invoices)


def test_m7_a_portal_that_never_billed_starts_with_the_month_before(b, clock):
    assert lifecycle.periods_to_bill(b, date(2027, 3, 15)) == [(date(2027, 2, 1), date(2027, 2, 28))]


# --- Days in Europe/Stockholm, never UTC --------------------------------------------------

@pytest.mark.parametrize("utc, stockholm_day", [
    ("2027-01-31T22:30:00", date(2027, 1, 31)),   # 23:30 in Stockholm: still January
    ("2027-01-31T23:30:00", date(2027, 2, 1)),    # 00:30 in Stockholm, 31 Jan in UTC
    ("2026-12-31T22:59:59", date(2026, 12, 31)),  # New Year's Eve, a second before midnight
    ("2026-12-31T23:00:00", date(2027, 1, 1)),    # New Year in Stockholm, not yet in UTC
    ("2027-03-27T22:59:59", date(2027, 3, 27)),   # the night clocks go forward (CET)
    ("2027-03-27T23:00:00", date(2027, 3, 28)),
    ("2027-03-28T21:59:59", date(2027, 3, 28)),   # the same day ends at 22:00 UTC (CEST)
    ("2027-03-28T22:00:00", date(2027, 3, 29)),
    ("2027-10-30T21:59:59", date(2027, 10, 30)),  # the night clocks go back (CEST)
    ("2027-10-30T22:00:00", date(2027, 10, 31)),
    ("2027-10-31T22:59:59", date(2027, 10, 31)),  # a 25-hour day
    ("2027-10-31T23:00:00", date(2027, 11, 1)),
    ("2028-02-28T23:00:00", date(2028, 2, 29)),   # the leap day begins
])
def test_m7_days_are_counted_in_stockholm_never_in_utc(utc, stockholm_day):
    clock = at(utc)
    assert clock.today() == stockholm_day
    assert clock.now() == datetime.fromisoformat(utc)  # instants stay UTC


def test_m7_a_charge_at_2330_on_the_31st_in_stockholm_belongs_to_that_month(b, clock):
    """At 23:30 on 31 December in Stockholm the cycle bills November (December is not
    over); an hour later, still 31 December in UTC, it is 1 January: December is billed."""
    acc = f.account(b)
    sub = f.subscription(b, acc, f.card(b, acc, f.INSUFFICIENT_FUNDS))
    f.commit(b)
    b.clock = at("2026-12-31T22:30:00")
    lifecycle.run_billing_cycle(b)
    b.session.refresh(sub)
    assert [c.period_start for c in sub.charges] == [date(2026, 11, 1)]
    assert sub.past_due_since == date(2026, 12, 31)
    b.clock = at("2026-12-31T23:30:00")
    lifecycle.run_billing_cycle(b)
    b.session.refresh(sub)
    assert sorted(c.period_start for c in sub.charges) == [date(2026, 11, 1), date(2026, 12, 1)]
    assert {c.failed_on for c in sub.charges} == {date(2026, 12, 31), date(2027, 1, 1)}


@given(day=days, minutes=st.integers(0, 24 * 60 - 1))
def test_m7_the_fixed_clock_stands_on_its_day_and_the_pinned_one_on_its_day_in_real_time(day, minutes):
    assert FixedClock(day).now().replace(tzinfo=timezone.utc).astimezone(STOCKHOLM).date() == day
    real = datetime(2030, 6, 15, tzinfo=timezone.utc) + timedelta(minutes=minutes)
    pinned = PinnedDayClock(day, STOCKHOLM, lambda: real)
    assert pinned.today() == day
    assert pinned.now() == real.replace(tzinfo=None)  # instants stay real: they only move forward


def test_m7_portal_today_pins_a_development_or_test_server_and_never_production():
    from portal.config import ConfigError, from_environment
    pinned = from_environment({"PORTAL_TODAY": "2028-02-29"})
    assert clock_from_config(pinned).today() == date(2028, 2, 29)
    assert from_environment({"PORTAL_ENV": "test", "SECRET_KEY": "s", "PORTAL_TODAY": "2027-01-01"})[
        "PINNED_TODAY"] == date(2027, 1, 1)
    assert isinstance(clock_from_config(from_environment({})), SystemClock)
    for bad in ({"PORTAL_TODAY": "2027-02-30"}, {"PORTAL_TODAY": "tomorrow"},
                {"PORTAL_ENV": "production", "SECRET_KEY": "s", "PORTAL_TODAY": "2027-01-01"},
                {"PORTAL_TIMEZONE": "Mars/Olympus"}):
        with pytest.raises(ConfigError):
            from_environment(bad)
    helsinki = clock_from_config(from_environment({"PORTAL_TIMEZONE": "Europe/Helsinki"}))
    assert helsinki.tz == ZoneInfo("Europe/Helsinki")


# --- The demo is right on any day ----------------------------------------------------------

def _statuses(b):
    b.session.expire_all()
    return ({s.name: s.status for s in b.session.scalars(select(Subscription))},
            {i.number: i.status for i in b.session.scalars(select(Invoice))})


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(today=st.dates(date(2024, 1, 1), date(2040, 12, 31)))
def test_m7_the_demo_seeded_on_any_day_is_where_the_rules_put_it(b, clock, today):
    f.empty_database(b)
    clock.current = today
    assert seed_demo(b, FAST_HASH)
    invoices = b.session.scalars(select(Invoice)).all()
    for invoice in invoices:  # M7: statuses as the calendar makes them today
        if invoice.status != InvoiceStatus.PAID:
            assert invoice.status == (InvoiceStatus.PAST_DUE if is_past_due(invoice.due_on, today)
                                      else InvoiceStatus.DUE), invoice.number
        assert invoice.issued_on == invoice.period_end + timedelta(days=1) <= today
    assert {i.status for i in invoices} == set(InvoiceStatus)  # due, past due and paid, every day
    for sub in b.session.scalars(select(Subscription)):
        if sub.status == SubscriptionStatus.PAST_DUE:
            assert sub.past_due_since <= today < b.policy.disable_date(sub.past_due_since)
        if sub.status == SubscriptionStatus.DISABLED:
            assert sub.disabled_on == b.policy.disable_date(sub.past_due_since) <= today
            assert today < b.policy.deletion_date(sub.disabled_on)
        for charge in sub.charges:  # a charge fails on its billing day or later
            assert charge.period_end < (charge.failed_on or today)
    before = _statuses(b)
    lifecycle.run_billing_cycle(b)  # the cycle on the seed day moves no status
    assert _statuses(b) == before


def test_m7_demo_seed_command_takes_the_day_to_seed_as(runner, app, b):
    result = runner.invoke(args=["demo", "seed", "--today", "2028-03-01"])
    assert result.exit_code == 0, result.output
    newest = b.session.scalars(select(Invoice).order_by(Invoice.period_start.desc())).first()
    assert (newest.period_start, newest.issued_on) == (date(2028, 2, 1), date(2028, 3, 1))
    bad = runner.invoke(args=["demo", "seed", "--today", "2028-02-30"])
    assert bad.exit_code != 0 and "not a date" in bad.output
