"""Issue 30, Deliver 6: the account statement's arithmetic (portal/billing/accounts/
statement.py). Opening + movements = closing; closing = open items − credit balance,
at the start and at the end; ageing of what is open at the end at the edges of its
buckets (30/31, 60/61, 90/91 days past due), by the injected clock's days."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from portal.billing.accounts import statement as statements
from portal.billing.accounts.balances import recount_outstanding
from portal.billing.accounts.history import Period
from portal.errors import InvalidInput, NotFound
from portal.models import (AccountKind, Charge, ChargeStatus, CreditEntry, CreditKind, Invoice, InvoicePayment,
                           InvoiceStatus, Payment, PaymentPurpose, Role, Subscription)
from tests import factories as f

LAST = date(2026, 11, 25)  # the test clock's today (tests/conftest.py)
FIRST = date(2026, 11, 1)


def _invoice(b, profile, number, issued, due, amount, paid=0, credits=0):
    invoice = Invoice(billing_profile_id=profile.id, number=number, currency="SEK", period_start=issued - timedelta(days=30),
                      period_end=issued - timedelta(days=1), issued_on=issued, due_on=due,
                      status=InvoiceStatus.PAID if paid == amount - credits else InvoiceStatus.DUE,
                      subtotal_minor=amount, credits_applied_minor=credits, paid_minor=paid)
    b.session.add(invoice)
    b.session.flush()
    return invoice


def _payment(b, account, method, key, day, amount, profile=None, hour=10):
    payment = Payment(idempotency_key=key, account_id=account.id, billing_profile_id=profile.id if profile else None,
                      payment_method_id=method.id, purpose=PaymentPurpose.INVOICE if profile else PaymentPurpose.SETTLE,
                      amount_minor=amount, currency="SEK", gateway_reference="sbx",
                      created_at=datetime.combine(day, time(hour)))
    b.session.add(payment)
    b.session.flush()
    return payment


def _credit(b, account, payment, kind, amount, day, profile=None, **target):
    b.session.add(CreditEntry(account_id=account.id, billing_profile_id=profile.id if profile else None,
                              payment_id=payment.id, kind=kind, reason=str(kind), amount_minor=amount,
                              currency="SEK", created_at=datetime.combine(day, time(12)), **target))
    b.session.flush()


@pytest.fixture
def agreement(b):
    """A profile with invoices before and in November, paid in full, in part, late,
    with money over that became credit, some applied to a later invoice, some refunded."""
    account = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, account)
    card = f.card(b, account)
    owner = f.user(b, Role.OWNER, account, profile)
    old = _invoice(b, profile, "20001", date(2026, 9, 1), date(2026, 10, 1), 1_000_00, paid=1_000_00)
    paid_old = _payment(b, account, card, "st-1", date(2026, 9, 20), 1_200_00, profile)  # 200 over: credit
    b.session.add(InvoicePayment(invoice_id=old.id, payment_id=paid_old.id, amount_minor=1_000_00))
    _credit(b, account, paid_old, CreditKind.SURPLUS, 200_00, date(2026, 9, 20), profile)
    october = _invoice(b, profile, "20002", date(2026, 10, 1), date(2026, 10, 31), 800_00, paid=800_00, credits=100_00)
    # 100 of the credit applied to it at issue, the rest paid in November.
    b.session.add(InvoicePayment(invoice_id=october.id, payment_id=paid_old.id, amount_minor=100_00))
    _credit(b, account, paid_old, CreditKind.APPLIED, -100_00, date(2026, 10, 1), profile, invoice_id=october.id)
    late = _payment(b, account, card, "st-2", date(2026, 11, 10), 600_00, profile)
    b.session.add(InvoicePayment(invoice_id=october.id, payment_id=late.id, amount_minor=600_00))
    november = _invoice(b, profile, "20003", date(2026, 11, 1), date(2026, 12, 1), 900_00, paid=300_00)
    part = _payment(b, account, card, "st-3", date(2026, 11, 20), 300_00, profile)
    b.session.add(InvoicePayment(invoice_id=november.id, payment_id=part.id, amount_minor=300_00))
    _credit(b, account, paid_old, CreditKind.REFUNDED, -50_00, date(2026, 11, 15), profile)
    # Paid after the period's end: open at its end.
    after = _payment(b, account, card, "st-4", date(2026, 11, 25), 600_00, profile, hour=20)
    b.session.add(InvoicePayment(invoice_id=november.id, payment_id=after.id, amount_minor=600_00))
    # Another profile of the account: not on this statement.
    other = f.profile(b, account)
    _invoice(b, other, "20004", date(2026, 11, 2), date(2026, 12, 2), 5_000_00)
    b.session.commit()
    return account, profile, owner


def test_b18_opening_plus_movements_is_closing_and_closing_is_open_items_less_credit(b, agreement):
    account, profile, owner = agreement
    s = statements.statement(b, owner, account.id, profile.id, Period(FIRST, date(2026, 11, 24)))
    # Before November: invoiced 1,000 + 700 (after R16's 100), paid 1,200 → owes 500.
    assert s.opening.minor == 500_00
    assert (s.invoiced.minor, s.received.minor, s.refunded.minor) == (900_00, 900_00, 50_00)
    assert s.closing.minor == s.opening.minor + s.invoiced.minor - s.received.minor + s.refunded.minor == 550_00
    # Open at the end: November's 600 (the payment of the 25th had not come); credit 50.
    assert [(i.reference, i.left_minor) for i in s.open_items] == [("20003", 600_00)]
    assert (s.open_total.minor, s.credit_closing.minor) == (600_00, 50_00)
    assert s.closing.minor == s.open_total.minor - s.credit_closing.minor
    # And at the start: October's 600 open, credit 100 (200 in, 100 applied).
    assert s.opening.minor == 600_00 - s.credit_opening.minor
    assert (s.credit_added.minor, s.credit_used.minor) == (0, 0)
    # Movements, oldest first, each with the balance after it.
    assert [(m.day, m.kind, m.amount_minor) for m in s.movements] == [
        (date(2026, 11, 1), "invoice", 900_00), (date(2026, 11, 10), "payment", -600_00),
        (date(2026, 11, 15), "refund", 50_00), (date(2026, 11, 20), "payment", -300_00)]
    assert [m.minor for m in s.balances] == [1_400_00, 800_00, 850_00, 550_00]
    assert s.movement_count == 4 and s.balances[-1] == s.closing


def test_i30_the_next_day_the_late_payment_closes_it(b, agreement):
    account, profile, owner = agreement
    s = statements.statement(b, owner, account.id, profile.id, Period(FIRST, LAST))
    assert (s.open_total.minor, s.closing.minor) == (0, -50_00)  # 50 of credit left
    assert s.closing.minor == s.open_total.minor - s.credit_closing.minor


def test_b18_the_statement_pages_its_rows_and_the_export_has_them_all(b, agreement):
    account, profile, owner = agreement
    s = statements.statement(b, owner, account.id, profile.id, Period(FIRST, LAST), rows=2)
    assert len(s.movements) == 2 and s.movement_count == 5 and s.more_movements == 3
    found, rows = statements.rows_for_export(b, owner, account.id, profile.id, Period(FIRST, LAST))
    every = list(rows)
    assert len(every) == 5 and every[-1][1] == found.closing.minor


def test_i30_only_whose_statement_the_user_may_see(b, agreement):
    account, profile, owner = agreement
    other = next(p for p in account.profiles if p.id != profile.id)
    with pytest.raises(NotFound):
        statements.statement(b, owner, account.id, other.id, Period(FIRST, LAST))
    stranger = f.user(b)
    with pytest.raises(NotFound):
        statements.statement(b, stranger, account.id, profile.id, Period(FIRST, LAST))
    with pytest.raises(InvalidInput):  # the end is today at the latest
        statements.statement(b, owner, account.id, profile.id, Period(FIRST, LAST + timedelta(days=1)))


@pytest.mark.parametrize("days, bucket", [(-1, "not_due"), (0, "0_30"), (30, "0_30"), (31, "31_60"), (60, "31_60"),
                                          (61, "61_90"), (90, "61_90"), (91, "over_90")])
def test_b18_ageing_buckets_at_their_edges(b, days, bucket):
    account = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, account)
    owner = f.user(b, Role.OWNER, account, profile)
    due = LAST - timedelta(days=days)
    _invoice(b, profile, f"3{days + 100:04d}", min(due, LAST) - timedelta(days=30), due, 123_00)
    b.session.commit()
    s = statements.statement(b, owner, account.id, profile.id, Period(FIRST, LAST))
    assert statements.bucket_of(days) == bucket
    assert {k: v.minor for k, v in s.ageing.items() if v.minor} == {bucket: 123_00}
    assert [(i.days_past_due, i.bucket) for i in s.open_items] == [(days, bucket)]


def test_i30_pay_as_you_go_charges_payments_and_credit(b):
    account = f.account(b)
    card = f.card(b, account)
    admin = f.user(b, Role.ACCOUNT_ADMIN, account)
    sub = f.subscription(b, account, card)
    # October's charge paid on 5 November; November's open (its period ends the 24th);
    # September's paid by credit from an overpayment in August.
    def charge(start, end, status=ChargeStatus.OUTSTANDING, payment=None):
        c = Charge(subscription_id=sub.id, amount_minor=100_00, currency="SEK", period_start=start,
                   period_end=end, status=status, payment_id=payment.id if payment else None)
        b.session.add(c)
        b.session.flush()
        return c
    august = _payment(b, account, card, "pg-1", date(2026, 8, 20), 250_00)
    _credit(b, account, august, CreditKind.SURPLUS, 150_00, date(2026, 8, 20))
    charge(date(2026, 8, 1), date(2026, 8, 31), ChargeStatus.PAID, august)
    september = charge(date(2026, 9, 1), date(2026, 9, 30), ChargeStatus.PAID, august)
    _credit(b, account, august, CreditKind.APPLIED, -100_00, date(2026, 10, 1), charge_id=september.id)
    paid = _payment(b, account, card, "pg-2", date(2026, 11, 5), 100_00)
    charge(date(2026, 10, 1), date(2026, 10, 31), ChargeStatus.PAID, paid)
    charge(date(2026, 11, 1), date(2026, 11, 24))
    recount_outstanding(b.session, Subscription.id == sub.id)
    b.session.commit()
    for first, last in ((date(2026, 9, 1), date(2026, 9, 30)), (FIRST, LAST), (date(2026, 10, 1), date(2026, 10, 31))):
        s = statements.statement(b, admin, account.id, None, Period(first, last))
        assert s.closing.minor == s.opening.minor + s.invoiced.minor - s.received.minor + s.refunded.minor
        assert s.closing.minor == s.open_total.minor - s.credit_closing.minor, (first, s)
        assert s.opening.minor == statements.balance_before(b, statements.scope_of(
            b, admin, account.id, None, Period(first, last)), statements._instant(first, b.clock.tz), first)
    # On 30 September the September charge was open (its credit was applied on 1 October).
    september_end = statements.statement(b, admin, account.id, None, Period(date(2026, 9, 1), date(2026, 9, 30)))
    assert [i.day for i in september_end.open_items] == [date(2026, 9, 30)]
    assert september_end.credit_closing.minor == 150_00
    november = statements.statement(b, admin, account.id, None, Period(FIRST, LAST))
    assert [(m.kind, m.amount_minor) for m in november.movements] == [("payment", -100_00), ("charge", 100_00)]
    assert [(i.reference, i.days_past_due) for i in november.open_items] == [(sub.name, 1)]
    assert november.ageing["0_30"].minor == 100_00


def test_i30_a_period_reads_its_own_payments_not_the_accounts_history(b):
    """3,000 payments in January, three in November: November's sum and rows read the
    three (one range of payments(account_id, created_at, id)), not the account."""
    from sqlalchemy import text
    from tests.query_plans import rows_read
    account = f.account(b)
    card = f.card(b, account)
    admin = f.user(b, Role.ACCOUNT_ADMIN, account)
    f.commit(b)
    f.payments(b, account, card, 3_000, "history", per_second=4)
    for n in range(3):
        _payment(b, account, card, f"nov-{n}", date(2026, 11, 10 + n), 100_00)
    f.commit(b)
    s = statements.statement(b, admin, account.id, None, Period(FIRST, LAST))
    assert (s.received.minor, s.movement_count, s.opening.minor) == (300_00, 3, -3_000 * 100_00)
    scope = statements.scope_of(b, admin, account.id, None, Period(FIRST, LAST))
    if b.session.get_bind().dialect.name != "postgresql":
        pytest.skip("rows read are counted by PostgreSQL's EXPLAIN ANALYZE")
    b.session.execute(text("ANALYZE payments"))
    assert rows_read(b, statements.received_query(scope, scope.start, scope.end)) <= 3
    assert rows_read(b, statements.payment_rows(scope)) <= 3
