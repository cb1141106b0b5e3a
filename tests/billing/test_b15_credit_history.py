"""B15 (issue 33 item 4): the credit balance's history. Its entries sum to the balance
after any mix of surplus payments, credit applied to charges and refunds; each page,
read by key, carries the balance after each entry; a customer agreement's person sees
the credit of the profiles they have a role on; the statement lists the period's credit
movements (portal/billing/accounts/credit_history.py)."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import text

from portal.billing.accounts import credit, credit_history
from portal.billing.accounts import statement as statements
from portal.billing.accounts.history import Period
from portal.errors import NotFound
from portal.models import (AccountKind, CreditEntry, CreditKind, Invoice, InvoiceStatus, Payment, PaymentPurpose,
                           Role)
from tests import factories as f
from tests.conftest import examples

operation = st.one_of(st.tuples(st.just("in"), st.integers(1, 10**6)),
                      st.tuples(st.just("charge"), st.integers(1, 10**6)),
                      st.tuples(st.just("refund"), st.integers(1, 10**6)))


def _transfer(b, account, method, amount, key, profile=None, when=None):
    payment = Payment(idempotency_key=key, account_id=account.id, billing_profile_id=profile.id if profile else None,
                      payment_method_id=method.id, purpose=PaymentPurpose.TRANSFER, amount_minor=amount,
                      currency=account.currency, gateway_reference=f"bank-{key}", created_at=when or b.clock.now())
    b.session.add(payment)
    b.session.flush()
    return payment


def _all_rows(b, user, account, per_page):
    """Every entry, page by page by the Next links, and the balance shown."""
    rows, token, seen = [], None, 0
    while True:
        found = credit_history.history(b, user, account.id, token, per_page=per_page)
        rows += found.rows.items
        seen += 1
        if not found.rows.has_next:
            return found.balance, rows
        token = found.rows.next_page
        assert seen < 100


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=10), per_page=st.integers(1, 4))
def test_b15_history_entries_sum_to_the_balance(b, ops, per_page):
    f.empty_database(b)
    account = f.account(b)
    wire = f.wire(b, account)
    sub = f.subscription(b, account, wire)
    admin = f.user(b, Role.ACCOUNT_ADMIN, account)
    for n, (op, amount) in enumerate(ops):
        if op == "in":
            payment = _transfer(b, account, wire, amount, f"b15-{n}")
            credit.add_surplus(b, account, payment, amount, "overpaid")
        elif op == "charge":
            charge = f.charge(b, sub, amount, months_ago=n + 1)
            credit.apply_to_charge(b, charge, account.id)  # recounts the subscription's figures itself
        f.commit(b)
        if op == "refund":
            credit.refund(b, account.id, amount, by_bank=True)
    balance, rows = _all_rows(b, admin, account, per_page)
    assert balance == credit.balance(b.session, account.id, "SEK")
    assert sum(r.amount.minor for r in rows) == balance.minor
    assert len({r.id for r in rows}) == len(rows) == b.session.query(CreditEntry).count()
    # Newest first, each with the balance after it: the next (older) row's balance is this one's less it.
    assert [(r.created_at, r.id) for r in rows] == sorted(((r.created_at, r.id) for r in rows), reverse=True)
    if rows:
        assert rows[0].balance_after == balance
        assert rows[-1].balance_after == rows[-1].amount
    for newer, older in zip(rows, rows[1:]):
        assert older.balance_after.minor == newer.balance_after.minor - newer.amount.minor
    assert all(r.balance_after.minor >= 0 for r in rows)
    # Each entry names where it came from, and an applied one what it paid.
    assert all(r.payment_id for r in rows)
    assert all(r.charge_period and r.subscription_name == sub.name for r in rows if r.kind == "applied")
    assert credit_history.had_credit(b, admin, account) == bool(rows)


def _agreement(b):
    account = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    mine, other = f.profile(b, account), f.profile(b, account)
    wire = f.wire(b, account)
    owner = f.user(b, Role.OWNER, account, mine)
    invoice = Invoice(billing_profile_id=mine.id, number="33001", currency="SEK", period_start=date(2026, 10, 1),
                      period_end=date(2026, 10, 31), issued_on=date(2026, 11, 1), due_on=date(2026, 12, 1),
                      status=InvoiceStatus.DUE, subtotal_minor=300_00, credits_applied_minor=0, paid_minor=0)
    b.session.add(invoice)
    b.session.flush()
    for n, (profile, day) in enumerate([(mine, date(2026, 10, 20)), (other, date(2026, 10, 21))]):
        payment = _transfer(b, account, wire, 500_00, f"b15-a{n}", profile, datetime.combine(day, time(9)))
        b.session.add(CreditEntry(account_id=account.id, billing_profile_id=profile.id, payment_id=payment.id,
                                  kind=CreditKind.SURPLUS, reason="overpaid", amount_minor=500_00, currency="SEK",
                                  created_at=datetime.combine(day, time(9))))
    f.commit(b)
    credit.apply_to_invoice(b, invoice, account.id)  # 300 of mine's 500, at the clock's now (25 November)
    f.commit(b)
    return account, mine, owner, invoice


def test_b15_an_agreements_person_sees_the_credit_of_their_profiles(b):
    account, mine, owner, invoice = _agreement(b)
    found = credit_history.history(b, owner, account.id)
    assert found.balance.minor == 200_00  # not the other profile's 500
    assert [(r.kind, r.amount.minor, r.invoice_number) for r in found.rows] == [
        ("applied", -300_00, "33001"), ("surplus", 500_00, None)]
    stranger = f.user(b, Role.OWNER, f.account(b, AccountKind.CUSTOMER_AGREEMENT))
    f.commit(b)
    with pytest.raises(NotFound):
        credit_history.history(b, stranger, account.id)
    assert not credit_history.had_credit(b, f.user(b, Role.ACCOUNT_ADMIN, f.account(b)), f.account(b))


def test_b15_the_statement_lists_the_periods_credit_movements(b):
    account, mine, owner, invoice = _agreement(b)
    november = statements.statement(b, owner, account.id, mine.id, Period(date(2026, 11, 1), date(2026, 11, 25)))
    assert [(r.kind, r.amount.minor, r.invoice_number) for r in november.credit_movements] == [
        ("applied", -300_00, "33001")]
    assert (november.credit_closing.minor, november.credit_movement_count) == (200_00, 1)
    october = statements.statement(b, owner, account.id, mine.id, Period(date(2026, 10, 1), date(2026, 10, 31)))
    assert [(r.kind, r.amount.minor) for r in october.credit_movements] == [("surplus", 500_00)]
    assert october.credit_closing.minor == 500_00


def test_b15_a_page_of_the_history_reads_a_page_of_rows(b):
    """2,000 entries: the first page reads about a page of index entries, not the ledger."""
    account = f.account(b)
    wire = f.wire(b, account)
    admin = f.user(b, Role.ACCOUNT_ADMIN, account)
    payment = _transfer(b, account, wire, 2_000, "b15-many")
    b.session.add_all([CreditEntry(account_id=account.id, payment_id=payment.id, kind=CreditKind.SURPLUS,
                                   reason="overpaid", amount_minor=1, currency="SEK",
                                   created_at=datetime(2026, 1, 1, 0, 0, n % 60, n)) for n in range(2_000)])
    f.commit(b)
    found = credit_history.history(b, admin, account.id, per_page=25)
    assert (len(found.rows), found.balance.minor, found.rows.items[0].balance_after.minor) == (25, 2_000, 2_000)
    if b.session.get_bind().dialect.name != "postgresql":
        pytest.skip("rows read are counted by PostgreSQL's EXPLAIN ANALYZE")
    from tests.query_plans import rows_read
    b.session.execute(text("ANALYZE credit_entries"))
    where = credit_history.visible(b, admin, account)
    assert rows_read(b, credit_history.page_query(where, "first").params(limit=26)) <= 26 + 2
