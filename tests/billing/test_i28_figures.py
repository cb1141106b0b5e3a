"""Kept figures (issue 28, portal/figures.py): the Overview's status counts, the Payment
methods page's per-card figures and the Settle balance page's per-card sums come from
`subscription_figures`, kept by the database's triggers on subscriptions. Proved here:
they equal a recount after every kind of writer (tests/conftest.py checks it after every
test too, and the money state machine after every step), and each page reads a handful
of their rows, not the account's subscriptions."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, insert, select, text, update

from bench.seed import seed_size
from portal.billing.accounts import balances, overview
from portal.billing.payments import methods
from portal.demo import seed_demo
from portal.models import Subscription, SubscriptionFigure, SubscriptionStatus
from tests import factories as f
from tests.billing.test_money_state_machine import MoneyAcrossFlows
from tests.conftest import TODAY, figures_drift
from tests.query_plans import rows_read


def kept(b) -> set[tuple]:
    b.session.rollback()
    rows = {(r.account_id, r.payment_method_id, str(r.status), bool(r.owing), r.subscriptions, r.outstanding_charges,
             r.outstanding_minor) for r in b.session.scalars(select(SubscriptionFigure))}
    b.session.rollback()
    return rows


def assert_recount(b) -> None:
    b.session.rollback()
    assert figures_drift() == []
    b.session.rollback()


# --- every kind of writer ------------------------------------------------------------

WRITERS = {  # the money state machine's steps, each a writer of subscriptions
    "settle": ("settle", {"sub": 0, "card": 1}),
    "move between cards": ("move", {"subs": [0, 3], "card": 2}),
    "billing month": ("bill_month", {}),
    "cycle: retries and disable warnings": ("run_cycle", {"days": 1}),
    "cycle: lifecycle disables": ("run_cycle", {"days": 40}),
    "cycle: lifecycle deletes": ("run_cycle", {"days": 130}),
    "retry": ("retry", {"sub": 2}),
    "bank transfer": ("bank_import", {"to": "account", "invoice": 0, "mode": "exact"}),
}


@pytest.mark.parametrize("writer", WRITERS, ids=list(WRITERS))
def test_i28_figures_equal_a_recount_after_each_writer(b, writer):
    machine = MoneyAcrossFlows(b)
    assert_recount(b)
    before = kept(b)
    name, params = WRITERS[writer]
    getattr(machine, name)(**params)
    assert kept(b) != before, "the writer changed no subscription: the test proves nothing"
    assert_recount(b)


def test_i28_removing_a_card_nothing_uses_leaves_the_figures_as_they_were(b):
    machine = MoneyAcrossFlows(b)
    before = kept(b)
    machine.remove_card(account="payg", card=4)
    assert kept(b) == before
    assert_recount(b)


def test_i28_set_based_sql_inserts_updates_and_deletes_are_kept_too(b):
    """Whatever writes the rows — here plain set-based SQL, as the bench and the settle
    statements do — keeps the figures: many rows in one statement, a change of card,
    status and amount in one, a NULL card, a delete."""
    acc = f.account(b)
    one, two = f.card(b, acc), f.card(b, acc)
    f.commit(b)
    b.session.execute(insert(Subscription), [dict(
        account_id=acc.id, name=f"S{n}", status=SubscriptionStatus.PAST_DUE if n % 3 else SubscriptionStatus.ACTIVE,
        payment_method_id=one.id if n % 2 else two.id, monthly_fee_minor=100, started_on=TODAY,
        outstanding_charges=n % 3, outstanding_minor=(n % 3) * 100) for n in range(60)])
    f.commit(b)
    assert_recount(b)
    assert sum(r[4] for r in kept(b)) == 60
    b.session.execute(update(Subscription).where(Subscription.name.in_([f"S{n}" for n in range(0, 60, 4)]))
                      .values(payment_method_id=one.id, status=SubscriptionStatus.DISABLED,
                              outstanding_charges=Subscription.outstanding_charges + 1,
                              outstanding_minor=Subscription.outstanding_minor + 50))
    b.session.execute(update(Subscription).where(Subscription.name == "S1").values(payment_method_id=None))
    b.session.execute(update(Subscription).values(retry_count=Subscription.retry_count + 1))  # nothing counted
    f.commit(b)
    assert_recount(b)
    b.session.execute(delete(Subscription).where(Subscription.name.in_([f"S{n}" for n in range(30)])))
    f.commit(b)
    assert_recount(b)
    assert sum(r[4] for r in kept(b)) == 30
    assert all(r[4] > 0 for r in kept(b)), "a figure that fell to zero is deleted"
    recount_with_charges(b, acc)


def recount_with_charges(b, acc) -> None:
    """The figures written above stood for no charges, which none of these
    subscriptions has: set back to zero (an UPDATE of every subscription, which the
    triggers keep too), the after-test checks agree. (`recount_outstanding` leaves a
    subscription without any charge as it is: zero, as it was created.)"""
    b.session.execute(update(Subscription).where(Subscription.account_id == acc.id)
                      .values(outstanding_charges=0, outstanding_minor=0))
    f.commit(b)
    assert_recount(b)


def test_i28_demo_and_bench_seeds_are_kept(b):
    seed_demo(b, password_method="pbkdf2:sha256:1")
    seed_size(b.session, 30, TODAY, b.policy)
    b.session.commit()
    assert kept(b)
    assert_recount(b)


def test_i28_emptying_the_database_between_examples_empties_the_figures(b):
    MoneyAcrossFlows(b)
    assert kept(b)
    f.empty_database(b)
    assert kept(b) == set()
    assert_recount(b)


def test_i28_truncating_subscriptions_empties_the_figures_on_postgresql(b):
    if b.session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    acc = f.account(b)
    f.subscription(b, acc, f.card(b, acc))
    f.commit(b)
    assert kept(b)
    b.session.execute(text("TRUNCATE subscriptions CASCADE"))
    f.commit(b)
    assert kept(b) == set()


def test_i28_figures_that_drift_are_caught(b):
    """The check can fail: a figure written by hand (not by a trigger) is drift."""
    acc = f.account(b)
    f.subscription(b, acc, f.card(b, acc))
    f.commit(b)
    b.session.execute(update(SubscriptionFigure).values(subscriptions=SubscriptionFigure.subscriptions + 1))
    drift = figures_drift()
    b.session.rollback()
    assert len(drift) == 2  # the kept row, and the recount's


# --- what the pages read -------------------------------------------------------------

SUBSCRIPTIONS = 3_000


@pytest.fixture
def large(b):
    """A reseller in small: 3,000 subscriptions on three cards, most past due with
    something owed, some disabled or deleted; and a neighbour account."""
    acc, other = f.account(b), f.account(b)
    cards = [f.card(b, acc) for _ in range(3)]
    f.card(b, other)
    f.subscription(b, other, None)
    f.commit(b)
    statuses = [SubscriptionStatus.PAST_DUE] * 6 + [SubscriptionStatus.ACTIVE, SubscriptionStatus.DISABLED,
                                                  SubscriptionStatus.DELETED]
    b.session.execute(insert(Subscription), [dict(
        account_id=acc.id, name=f"Prenumeration {n:05d}", status=(status := statuses[n % len(statuses)]),
        payment_method_id=cards[n % 3].id, monthly_fee_minor=100_00, started_on=date(2026, 1, 1),
        past_due_since=TODAY - timedelta(days=10 + n % 7) if status != SubscriptionStatus.ACTIVE else None,
        disabled_on=TODAY - timedelta(days=n % 5) if status == SubscriptionStatus.DISABLED else None,
        outstanding_charges=0 if status == SubscriptionStatus.ACTIVE else 1 + n % 2,
        outstanding_minor=0 if status == SubscriptionStatus.ACTIVE else 100_00 * (1 + n % 2))
        for n in range(SUBSCRIPTIONS)])
    f.commit(b)
    yield acc, cards
    recount_with_charges(b, acc)


def _recounted_status_counts(b, acc):
    subs = list(b.session.scalars(select(Subscription).where(Subscription.account_id == acc.id)))
    result = {}
    for status in {s.status for s in subs}:
        mine = [s for s in subs if s.status == status]
        result[status] = overview.StatusCount(
            len(mine),
            min((s.past_due_since for s in mine if s.past_due_since), default=None)
            if status == SubscriptionStatus.PAST_DUE else None,
            min((s.disabled_on for s in mine if s.disabled_on), default=None)
            if status == SubscriptionStatus.DISABLED else None,
            sum(s.outstanding_minor for s in mine))
    return result


def _sqlite_plan(b, statement) -> str:
    compiled = statement.compile(b.session.get_bind(), compile_kwargs={"literal_binds": True})
    return " | ".join(row[-1] for row in b.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


def _reads_a_handful(b, statement, *searches: str) -> None:
    """PostgreSQL: the rows its plan reads; SQLite: every table it touches is searched
    by an index (no SCAN of subscriptions)."""
    if b.session.get_bind().dialect.name == "postgresql":
        # Planned on statistics, as autovacuum keeps them in production (without, a
        # plan made while autovacuum is half-way through the fixture's rows can differ).
        b.session.execute(text("ANALYZE subscriptions, subscription_figures"))
        assert rows_read(b, statement) <= 30
        return
    plan = _sqlite_plan(b, statement)
    assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan
    for search in searches:
        assert search in plan, plan


def test_i28_overview_counts_read_a_handful_of_rows_and_equal_a_recount(b, large):
    acc, _cards = large
    counts = overview.status_counts(b, acc)
    assert counts == _recounted_status_counts(b, acc)
    assert sum(c.count for c in counts.values()) == SUBSCRIPTIONS
    _reads_a_handful(b, overview._STATUS_COUNTS.params(account_id=acc.id),
                     "SEARCH subscription_figures", "past_due_since>?)", "disabled_on>?)")


def test_i28_methods_page_figures_read_a_handful_of_rows_and_equal_a_recount(b, large):
    acc, cards = large
    uses = {u.method.id: (u.subscriptions, u.outstanding.minor) for u in methods.method_uses(b, acc)}
    subs = list(b.session.scalars(select(Subscription).where(
        Subscription.account_id == acc.id, Subscription.status != SubscriptionStatus.DELETED)))
    assert uses == {c.id: (sum(1 for s in subs if s.payment_method_id == c.id),
                           sum(s.outstanding_minor for s in subs if s.payment_method_id == c.id)) for c in cards}
    _reads_a_handful(b, methods._USE_BY_METHOD.params(account_id=acc.id, method_ids=[c.id for c in cards]),
                     "SEARCH subscription_figures")


def test_i28_settle_page_sums_read_a_handful_of_rows_and_equal_a_recount(b, large):
    acc, cards = large
    sub = b.session.scalars(select(Subscription).where(
        Subscription.payment_method_id == cards[0].id, Subscription.status == SubscriptionStatus.PAST_DUE)).first()
    preview = balances.settlement_preview(b.session, sub, cards[1])
    for balance, card in ((preview.failed, cards[0]), (preview.chosen, cards[1])):
        owing = list(b.session.scalars(select(Subscription).where(
            Subscription.payment_method_id == card.id, Subscription.outstanding_charges > 0)))
        assert (balance.subscriptions, balance.charges, balance.total.minor) == (
            len(owing), sum(s.outstanding_charges for s in owing), sum(s.outstanding_minor for s in owing))
    _reads_a_handful(b, balances._METHOD_SUMS.params(account_id=acc.id, method_ids=[cards[0].id, cards[1].id]),
                     "SEARCH subscription_figures")
