"""The large account's pages (issue 28): every paged list is read by key from an index
in its order, so the first and the last page read about a page of rows, not the
account — counted in rows (PostgreSQL: EXPLAIN ANALYZE; SQLite: the plan's shape),
never timed."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select, text

from portal.billing import paging
from portal.billing.accounts import history, overview
from portal.models import Invoice, InvoiceStatus, Payment, Subscription, SubscriptionStatus
from tests import factories as f
from tests.query_plans import rows_read

PAYMENTS = 3_000
SUBSCRIPTIONS = 3_000
TIES = 4  # payments recorded in the same second, ordered by id
PER_PAGE = paging.PAGE_SIZE
# A page read by key reads its rows and one more (is there a next page?); an index
# scan may look at a row past its range to see that it ended.
ABOUT_A_PAGE = PER_PAGE + 1 + 2


@pytest.fixture
def large(b):
    """An account with PAYMENTS payments (in seconds of TIES) and SUBSCRIPTIONS
    subscriptions of every status, built with bulk inserts."""
    acc = f.account(b)
    card = f.card(b, acc)
    admin = f.user(b, f.Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    f.payments(b, acc, card, PAYMENTS, "pages", per_second=TIES)
    statuses = [SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.DELETED,
                SubscriptionStatus.DISABLED, SubscriptionStatus.ACTIVE]
    b.session.execute(insert(Subscription), [
        {"account_id": acc.id, "name": f"Sub {n:05}", "status": statuses[n % len(statuses)],
         "payment_method_id": card.id, "monthly_fee_minor": 100_00, "started_on": date(2025, 1, 1)}
        for n in range(SUBSCRIPTIONS)])
    f.commit(b)
    if b.session.get_bind().dialect.name == "postgresql":  # as autovacuum would, after a bulk load
        b.session.execute(text("ANALYZE payments, subscriptions"))
        f.commit(b)
    return acc, admin


def _plan(b, statement) -> str:
    compiled = statement.compile(b.session.get_bind(), compile_kwargs={"literal_binds": True})
    return " | ".join(row[-1] for row in b.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


def _reads_about_a_page(b, statement, index: str) -> None:
    table = index.split("_")[1]
    if b.session.get_bind().dialect.name == "postgresql":
        assert rows_read(b, statement) <= ABOUT_A_PAGE
    else:  # one range of the index, in its order: no sort of the account's rows
        plan = _plan(b, statement)
        assert f"SEARCH {table} USING INDEX {index}" in plan, plan
        assert "TEMP B-TREE" not in plan and "SCAN " not in plan, plan


def _binds(keyset: paging.Keyset, cursor: paging.Cursor) -> dict:
    return {**keyset.binds(cursor), "limit": PER_PAGE + 1}


def test_i28_the_first_and_the_last_page_of_payments_read_a_page_not_the_account(b, large):
    acc, admin = large
    where = [Payment.account_id == acc.id]
    newest_first = list(b.session.execute(select(Payment.created_at, Payment.id).where(*where)
                                          .order_by(Payment.created_at.desc(), Payment.id.desc())))
    first = history.payments_of(b, admin, acc.id)
    last = history.payments_of(b, admin, acc.id, page="last")
    assert [(r.payment.created_at, r.payment.id) for r in first] == [tuple(r) for r in newest_first[:PER_PAGE]]
    assert [(r.payment.created_at, r.payment.id) for r in last] == [tuple(r) for r in newest_first[-PER_PAGE:]]
    assert (first.position, first.total, first.has_next) == (1, None, True)  # more than 1,000: not counted
    assert (last.position, last.has_previous, last.has_next) == (None, True, False)  # nor its place
    middle = history.payments_of(b, admin, acc.id, page=history.PAYMENT_ORDER.token("after", newest_first[1500]))
    assert middle.position is None and [r.payment.id for r in middle][0] == newest_first[1501].id
    for mode, key in (("first", ()), ("last", ()), ("after", tuple(newest_first[1500])),
                      ("before", tuple(newest_first[1500]))):
        statement = history.page_of_payments(where, mode).params(
            _binds(history.PAYMENT_ORDER, paging.Cursor(mode, key)))
        _reads_about_a_page(b, statement, "ix_payments_account_created")
    if b.session.get_bind().dialect.name == "postgresql":  # the count stops at the bound
        count = history.PAYMENT_ORDER.bounded_count(select(Payment.id).where(*where))
        assert rows_read(b, count) == paging.COUNT_BOUND + 1


def test_i28_the_first_and_the_last_page_of_the_overview_read_a_page_not_the_account(b, large):
    acc, _admin = large
    in_order = list(b.session.execute(select(Subscription.status, Subscription.id).where(
        Subscription.account_id == acc.id)))
    rank = {SubscriptionStatus.PAST_DUE: 0, SubscriptionStatus.DISABLED: 0, SubscriptionStatus.ACTIVE: 1,
            SubscriptionStatus.DELETED: 2}
    in_order = sorted(((rank[status], sub_id) for status, sub_id in in_order))  # B1: settleable first
    first = overview.subscription_page(b, acc)
    last = overview.subscription_page(b, acc, "last")
    assert [v.subscription.id for v in first] == [sub_id for _rank, sub_id in in_order[:PER_PAGE]]
    assert all(v.can_settle for v in first)
    assert [v.subscription.id for v in last] == [sub_id for _rank, sub_id in in_order[-PER_PAGE:]]
    assert {v.subscription.status for v in last} == {SubscriptionStatus.DELETED}
    assert (first.total, last.position) == (SUBSCRIPTIONS, SUBSCRIPTIONS - PER_PAGE + 1)  # the kept counts
    for mode, key in (("first", ()), ("last", ()), ("after", in_order[1500]), ("before", in_order[1500])):
        statement = overview.page_of_subscriptions(mode).params(
            _binds(overview.SUBSCRIPTION_ORDER, paging.Cursor(mode, key)), account_id=acc.id)
        _reads_about_a_page(b, statement, "ix_subscriptions_account_rank")


def test_i28_the_stored_rank_follows_every_change_of_status(b, large):
    """status_rank is the database's: a status written by the ORM or by a set-based
    UPDATE moves the subscription in the Overview's order."""
    acc, _admin = large
    sub = b.session.scalars(select(Subscription).where(Subscription.account_id == acc.id,
                                                       Subscription.status == SubscriptionStatus.ACTIVE)).first()
    assert sub.status_rank == 1
    sub.status = SubscriptionStatus.DELETED
    f.commit(b)
    assert b.session.scalar(select(Subscription.status_rank).where(Subscription.id == sub.id)) == 2
    b.session.execute(text("UPDATE subscriptions SET status = 'past_due' WHERE id = :id"), {"id": sub.id})
    f.commit(b)
    b.session.expire_all()
    assert b.session.get(Subscription, sub.id).status_rank == 0
    assert sub.id in [v.subscription.id for v in overview.subscription_page(b, acc, per_page=SUBSCRIPTIONS)][:SUBSCRIPTIONS * 2 // 5 + 1]


@pytest.mark.parametrize("status", [None, InvoiceStatus.PAID])
def test_i28_the_first_and_the_last_page_of_invoices_read_a_page_not_the_profile(b, status):
    acc = f.account(b, kind=f.AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc)
    f.commit(b)
    b.session.execute(insert(Invoice), [
        {"billing_profile_id": profile.id, "number": f"L-{n:05}", "currency": "SEK",
         "period_start": date(1800, 1, 1) + timedelta(days=n), "period_end": date(1800, 1, 1) + timedelta(days=n),
         "issued_on": date(2026, 1, 1), "due_on": date(2026, 2, 1),
         "status": InvoiceStatus.PAID if n % 2 else InvoiceStatus.DUE,
         "subtotal_minor": 100_00, "credits_applied_minor": 0, "paid_minor": 0} for n in range(PAYMENTS)])
    f.commit(b)
    if b.session.get_bind().dialect.name == "postgresql":
        b.session.execute(text("ANALYZE invoices"))
        f.commit(b)
    where = [Invoice.billing_profile_id.in_([profile.id])] + ([Invoice.status == status] if status else [])
    index = "ix_invoices_profile_status_period_id" if status else "ix_invoices_profile_period_id"
    key = (date(1800, 1, 1) + timedelta(days=1501), 1)
    for mode in ("first", "last", "after", "before"):
        statement = overview.page_of_invoices(where, mode).params(
            _binds(overview.INVOICE_ORDER, paging.Cursor(mode, key if mode in ("after", "before") else ())))
        _reads_about_a_page(b, statement, index)
