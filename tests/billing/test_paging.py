"""The keyset pager (issue 28, portal/billing/paging.py): walked forward and back it
shows every row once, in order, through ties of the sort key; the last page is the
last rows; an unusable key is the first page, never an error."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text

from portal.billing import paging
from portal.billing.accounts import history
from portal.billing.accounts.history import Period
from portal.models import Payment, PaymentPurpose
from tests import factories as f

PER_PAGE = 7   # does not divide the ties, nor the number of payments
PAYMENTS = 60
TIES = 4       # payments recorded in the same second: ordered by id


@pytest.fixture
def tied(b):
    acc = f.account(b)
    card = f.card(b, acc)
    admin = f.user(b, f.Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    start = datetime(2026, 11, 1, 16)  # 16:00 UTC onwards: some on 2 November in Stockholm
    b.session.execute(insert(Payment), [
        {"idempotency_key": f"tied-{n}", "account_id": acc.id, "payment_method_id": card.id,
         "purpose": PaymentPurpose.SETTLE, "amount_minor": 100_00, "currency": "SEK", "gateway_reference": "sbx",
         "created_at": start + timedelta(hours=n // TIES)} for n in range(PAYMENTS)])
    f.commit(b)
    newest_first = list(b.session.scalars(select(Payment.id).where(Payment.account_id == acc.id)
                                          .order_by(Payment.created_at.desc(), Payment.id.desc())))
    return acc, admin, newest_first


def _ids(page) -> list[int]:
    return [row.payment.id for row in page]


def test_i28_next_and_previous_walk_every_payment_once_in_order_through_ties(b, tied):
    acc, admin, newest_first = tied
    page, seen, positions = history.payments_of(b, admin, acc.id, per_page=PER_PAGE), [], []
    while True:
        seen += _ids(page)
        positions.append((page.first, page.last, page.total))
        if not page.has_next:
            break
        page = history.payments_of(b, admin, acc.id, page=page.next_page, per_page=PER_PAGE)
    assert seen == newest_first
    # The places are counted (the list is shorter than the bound): 1–7, 8–14, … of 60.
    assert positions == [(n + 1, min(n + PER_PAGE, PAYMENTS), PAYMENTS) for n in range(0, PAYMENTS, PER_PAGE)]
    assert page.has_previous and len(page) == PAYMENTS % PER_PAGE  # walked to the end: a short page

    page, seen = history.payments_of(b, admin, acc.id, page="last", per_page=PER_PAGE), []
    assert _ids(page) == newest_first[-PER_PAGE:] and page.last == PAYMENTS and not page.has_next
    while True:
        seen = _ids(page) + seen
        if not page.has_previous:
            break
        page = history.payments_of(b, admin, acc.id, page=page.previous_page, per_page=PER_PAGE)
    assert seen == newest_first and page.first == 1  # back to the top: a short first page, no row twice


def test_i28_a_key_past_either_end_gives_the_last_or_the_first_page(b, tied):
    acc, admin, newest_first = tied
    order = history.PAYMENT_ORDER
    after_all = order.token("after", (datetime(2000, 1, 1), 1))       # older than every payment
    before_all = order.token("before", (datetime(2100, 1, 1), 10 ** 9))  # newer than every payment
    assert _ids(history.payments_of(b, admin, acc.id, page=after_all, per_page=PER_PAGE)) == newest_first[-PER_PAGE:]
    assert _ids(history.payments_of(b, admin, acc.id, page=before_all, per_page=PER_PAGE)) == newest_first[:PER_PAGE]


@pytest.mark.parametrize("raw", [
    None, "", "first", "2", "a", "a.", "a.1", "a.1.2.3", "c.1.2", "a.x.2", "a.-1.2", "a.1.-2", "a..2",
    "a.99999999999999999999.1",             # past datetime's range
    "a.1.99999999999999999999",             # past a 64-bit id
    "a.１.2", "a.٣.2", "a.²", "last ", "LAST", "a.1.2\n", 7,
])
def test_i28_an_unusable_key_is_the_first_page(b, tied, raw):
    acc, admin, newest_first = tied
    page = history.payments_of(b, admin, acc.id, page=raw, per_page=PER_PAGE)
    assert _ids(page) == newest_first[:PER_PAGE] and not page.has_previous


def test_i28_keys_are_the_rows_sort_values_and_id_and_read_back_to_the_same_key():
    order = paging.Keyset(Payment.created_at, Payment.id, kinds=(datetime, int), descending=True)
    key = (datetime(2026, 11, 30, 23, 59, 59, 999_999), 123)
    token = order.token("after", key)
    assert token == "a.1796083199999999.123" and order.parse(token) == paging.Cursor("after", key)
    dated = paging.Keyset(Payment.created_at, Payment.id, kinds=(date, int))
    assert dated.parse(dated.token("before", (date(2026, 11, 1), 5))) == paging.Cursor("before", (date(2026, 11, 1), 5))
    assert order.parse("last") == paging.LAST


def test_i28_a_period_filter_holds_on_every_page(b, tied):
    acc, admin, _newest_first = tied
    period = Period(date(2026, 11, 1), date(2026, 11, 1))  # 1 November in Stockholm: until 23:00 UTC
    in_period = list(b.session.scalars(select(Payment.id).where(
        Payment.account_id == acc.id, Payment.created_at < datetime(2026, 11, 1, 23))
        .order_by(Payment.created_at.desc(), Payment.id.desc())))
    page, seen = history.payments_of(b, admin, acc.id, period, "last", per_page=PER_PAGE), []
    assert page.total == len(in_period) == 7 * TIES
    while True:
        seen = _ids(page) + seen
        if not page.has_previous:
            break
        page = history.payments_of(b, admin, acc.id, period, page.previous_page, per_page=PER_PAGE)
    assert seen == in_period


def test_i28_the_receipt_and_the_settle_page_walk_their_subscriptions_by_key(b):
    """The receipt's list (what a settlement paid) and the settle page's (what is owed
    on a card) are in subscription id order, read by key from an index each."""
    from portal.billing.accounts import balances
    from portal.models import Charge, ChargeStatus, Subscription
    acc = f.account(b)
    card = f.card(b, acc)
    paid, owing = [], []
    payment = Payment(idempotency_key="receipt-pages", account_id=acc.id, payment_method_id=card.id,
                      purpose=PaymentPurpose.SETTLE, amount_minor=0, currency="SEK", gateway_reference="sbx",
                      created_at=datetime(2026, 11, 3, 9))
    b.session.add(payment)
    b.session.flush()
    for n in range(30):
        sub = f.past_due(b, acc, card, charges=(100_00, 50_00))
        (paid if n % 2 else owing).append(sub.id)
    b.session.execute(Charge.__table__.update().where(Charge.subscription_id.in_(paid)).values(
        status=ChargeStatus.PAID, payment_id=payment.id))
    balances.link_payments(b.session, Charge.subscription_id.in_(paid))  # as every writer that marks charges paid
    balances.recount_outstanding(b.session, Subscription.id.in_(paid))
    f.commit(b)

    def walk(read) -> list[int]:
        page, seen = read(None), []
        while True:
            seen += [row.subscription_id for row in page]
            assert all(row.charges == 2 and row.amount.minor == 150_00 for row in page)
            if not page.has_next:
                return seen
            page = read(page.next_page)
    assert walk(lambda key: balances.paid_by(b.session, payment, key, PER_PAGE)) == sorted(paid)
    sub = b.session.get(Subscription, owing[0])
    assert walk(lambda key: balances.settlement_preview(b.session, sub, None, key, per_page=PER_PAGE).failed.rows) \
        == sorted(owing)
    last = balances.paid_by(b.session, payment, "last", PER_PAGE)
    assert [row.subscription_id for row in last] == sorted(paid)[-PER_PAGE:] and last.total == 15
    if b.session.get_bind().dialect.name == "sqlite":
        for rows, index in ((balances._PAID_ROWS, "sqlite_autoindex_payment_subscriptions_1"),
                            (balances._OWING_ROWS, "ix_subscriptions_method_outstanding")):
            for mode in ("first", "last", "after", "before"):
                statement = rows.statement(mode).params(payment_id=payment.id, method_id=card.id, limit=8, key_0=5)
                compiled = statement.compile(b.session.get_bind(), compile_kwargs={"literal_binds": True})
                plan = " | ".join(r[-1] for r in b.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
                assert f"USING COVERING INDEX {index}" in plan and "SCAN charges" not in plan, plan


def test_i28_a_key_before_the_first_row_is_the_first_page_with_no_previous(b, tied):
    acc, admin, newest_first = tied
    newest = history.PAYMENT_ORDER.token("after", (datetime(2100, 1, 1), 10 ** 9))  # "after" a row newer than all
    page = history.payments_of(b, admin, acc.id, page=newest, per_page=PER_PAGE)
    assert _ids(page) == newest_first[:PER_PAGE] and page.position == 1 and not page.has_previous
