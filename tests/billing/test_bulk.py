"""Exports and imports linear and fast (issue 28 item 3): the BgMax import in batches
records exactly what it recorded a payment at a time, loses nothing when a batch fails
and adds nothing on a second import, in statements that do not grow with the batch;
the exports read each batch by an index range, and their cells say what they said."""
from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert, select, text

from portal import exports
from portal.billing.accounts import history
from portal.billing.bank import bgmax, transfers
from portal.billing.invoicing.remittance import account_reference, ocr_reference, request_reference
from portal.billing.bank.transfer_batch import TransferBatch
from portal.extensions import db
from portal.models import (WebhookDelivery, WebhookEndpoint, WebhookEvent, AccountKind, AuditEvent, Charge, ChargeStatus, CreditEntry, DisabledSpan, Invoice,
                           InvoicePayment, InvoiceStatus, Notice, OutboxMessage, Payment, PaymentRequest,
                           PaymentRequestInvoice, Role, Subscription, TransferToReview)
from tests import factories as f
from tests.bgmax_files import OUR_BANKGIRO, Paid, bgmax_file
from tests.databases import restart_identities
from tests.query_plans import rows_read

RECORDED = (Payment, InvoicePayment, Invoice, CreditEntry, OutboxMessage, AuditEvent, TransferToReview, Charge,
            Subscription, Notice, DisabledSpan, PaymentRequest)


def _world(b) -> bytes:
    """An agreement with ten invoices and a pay-as-you-go account that owes by wire;
    a file that pays them every way there is, a review reason of each kind among them —
    and (B22) two payment requests, the first replaced by the second, which the file pays
    (the second's two invoices, the oldest due first) and then names again."""
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc, default=f.wire(b, acc), check_wire_approved=True)
    owner = f.user(b, Role.OWNER, acc, profile)
    invoices = []
    for n in range(10):
        inv = Invoice(billing_profile_id=profile.id, number=f"20269{n:04d}", currency="SEK",
                      period_start=date(2026, 1 + n, 1), period_end=date(2026, 1 + n, 28),
                      issued_on=date(2026, 2 + n, 1), due_on=date(2026, 3 + n, 1),
                      status=InvoiceStatus.PAID if n == 3 else InvoiceStatus.DUE, subtotal_minor=1_000_00,
                      credits_applied_minor=0, paid_minor=1_000_00 if n == 3 else 0,
                      paid_on=date(2026, 6, 1) if n == 3 else None)
        b.session.add(inv)
        invoices.append(inv)
    b.session.flush()
    for n, (numbers, closed) in enumerate((((7, 8), "replaced"), ((8, 9), None))):
        b.session.add(PaymentRequest(
            account_id=acc.id, billing_profile_id=profile.id, created_at=b.clock.now(), currency="SEK",
            amount_minor=2_000_00, closed_reason=closed, closed_at=b.clock.now() if closed else None,
            items=[PaymentRequestInvoice(invoice_id=invoices[i].id, amount_minor=1_000_00) for i in numbers]))
        b.session.flush()
    payg = f.account(b)
    f.past_due(b, payg, f.wire(b, payg), charges=(100_00, 150_00))  # owes 250 kr by wire; pays 300
    b.session.add(Notice(user_id=owner.id, account_id=acc.id, kind="invoice_past_due",  # goes away when paid
                         payload={"invoice_id": invoices[0].id}, created_at=b.clock.now()))
    # The provider listens (issue 32): every event has a delivery to it, on either path.
    b.session.add(WebhookEndpoint(url="https://erp.example/hooks", secret="whsec_x", created_at=b.clock.now()))
    f.commit(b)
    ref = [ocr_reference(i.number) for i in invoices]
    content = bgmax_file([[Paid(ref[0], 1_000_00), Paid(ref[1], 400_00), Paid(ref[2], 1_250_00),
                           Paid(ref[3], 1_000_00), Paid(account_reference(payg.id), 300_00),
                           Paid(ref[4], 2_000_00, extra=[ref[5]]), Paid("12345", 5_00),
                           Paid("7777777777", 9_00), Paid(ref[6], 0), Paid(ref[1], 600_00), Paid(ref[6], 1_000_00),
                           Paid(ref[6], 1_000_00), Paid(request_reference(2), 1_500_00),
                           Paid(request_reference(1), 2_000_00), Paid(request_reference(2), 700_00)]])
    # The last line repeats the one before it (the same serial number): to review.
    return content.replace(b"210000000000120", b"210000000000110", 1)


def _one_by_one(b, content: bytes) -> transfers.ImportSummary:
    """The import as it was before issue 28: a transaction per payment."""
    summary = transfers.ImportSummary(payments=bgmax.check(content.splitlines(keepends=True), OUR_BANKGIRO))
    times: dict[str, int] = {}
    for payment in bgmax.payments(content.splitlines(keepends=True)):
        n = times[payment.key] = times.get(payment.key, 0) + 1
        transfers._count(summary, [(payment, n)],
                         [transfers._apply(b, payment) if n == 1 else transfers._repeated(b, payment, n)])
    return summary


def _fresh(b, monkeypatch) -> bytes:
    """An empty database, ids and the factories' names from 1 again, and the world."""
    monkeypatch.setattr(f, "_ids", itertools.count(1))
    f.empty_database(b)
    restart_identities(b.session.connection(), db.metadata.sorted_tables)
    b.session.commit()
    return _world(b)


def _recorded(b) -> dict:
    state = f.snapshot(b, *RECORDED)
    for row in state["outbox"]:
        row.pop("message_key")  # random by design
    # The provider's events: the same facts with the same data, each delivered once to
    # the endpoint — in the order each path writes them (one by one: per payment; the
    # batch: per kind), so compared without their ids.
    events = {event.id: (event.type, repr(sorted(event.data.items()))) for event in b.session.scalars(
        select(WebhookEvent))}
    state["provider_events"] = sorted(events.values())
    state["deliveries"] = sorted((events[d.event_id], d.endpoint_id, str(d.status))
                                 for d in b.session.scalars(select(WebhookDelivery)))
    return state


def _content(b) -> dict:
    """What was recorded, by key and number (PostgreSQL does not give back the ids a
    rolled-back batch drew): each payment and where its money went, emails, events."""
    b.session.rollback()
    key = dict(b.session.execute(select(Payment.id, Payment.idempotency_key)).all())
    key[None] = None

    def rows(*columns, where=()):
        return sorted(b.session.execute(select(*columns).where(*where)).all(), key=repr)
    return {
        "payments": rows(Payment.idempotency_key, Payment.amount_minor, Payment.purpose, Payment.billing_profile_id,
                         Payment.gateway_reference),
        "invoices": [(n, s, m, d, key[p]) for n, s, m, d, p in rows(
            Invoice.number, Invoice.status, Invoice.paid_minor, Invoice.paid_on, Invoice.payment_id)],
        "shares": sorted((n, key[p], a) for n, p, a in rows(Invoice.number, InvoicePayment.payment_id,
                                                            InvoicePayment.amount_minor,
                                                            where=[Invoice.id == InvoicePayment.invoice_id])),
        "credit": sorted((key[p], r, a) for p, r, a in rows(CreditEntry.payment_id, CreditEntry.reason,
                                                            CreditEntry.amount_minor)),
        "charges": sorted((s, st, key[p]) for s, st, p in rows(Charge.subscription_id, Charge.status,
                                                               Charge.payment_id)),
        "mail": rows(OutboxMessage.template, OutboxMessage.to_address),
        "events": rows(AuditEvent.action, AuditEvent.account_id),
        "reviews": rows(TransferToReview.key, TransferToReview.reason, TransferToReview.amount_minor),
    }


def _importing(b, content: bytes) -> transfers.ImportSummary:
    return transfers.import_bgmax(b, lambda: content.splitlines(keepends=True), OUR_BANKGIRO)


@pytest.mark.parametrize("batch", [500, 4])
def test_i28_a_batch_of_matched_review_and_credit_payments_records_exactly_what_one_by_one_did(b, monkeypatch, batch):
    before = _one_by_one(b, _fresh(b, monkeypatch))
    expected = _recorded(b)
    assert before.recorded == 9 and before.to_review == 6
    assert {"no_amount", "repeated", "request_replaced", "request_paid"} <= before.reasons.keys()
    assert [(r["closed_reason"], r["payment_id"]) for r in expected["payment_requests"]] == [
        ("replaced", None), ("paid", expected["payments"][-1]["id"])]
    assert {e["reason"] for e in expected["credit_entries"]} == {"overpaid", "already_paid"}
    assert [n["dismissed_at"] is not None for n in expected["notices"]] == [True]
    monkeypatch.setattr(transfers, "IMPORT_BATCH", batch)
    content = _fresh(b, monkeypatch)
    summary = _importing(b, content)
    assert summary == before
    assert {type_ for type_, _data in expected["provider_events"]} == {
        "payment.succeeded", "credit.created", "invoice.paid", "invoice.partly_paid", "transfer.needs_review"}
    assert len(expected["deliveries"]) == len(expected["provider_events"])
    assert _recorded(b) == expected  # every row, every column, the same ids: the same order
    again = _importing(b, content)
    assert (again.recorded, again.to_review, again.duplicates) == (0, 0, 15)
    assert _recorded(b) == expected


def test_i28_a_failure_in_the_middle_of_a_batch_loses_nothing_and_a_second_import_records_nothing_twice(
        b, monkeypatch):
    _one_by_one(b, _fresh(b, monkeypatch))
    expected = _content(b)
    content = _fresh(b, monkeypatch)
    monkeypatch.setattr(transfers, "IMPORT_BATCH", 4)
    added = TransferBatch.add
    calls = {"n": 0}

    def failing(self, *args):
        calls["n"] += 1
        if calls["n"] == 5:  # the second batch's second invoice payment
            raise RuntimeError("the database went away")
        return added(self, *args)

    monkeypatch.setattr(TransferBatch, "add", failing)
    with pytest.raises(RuntimeError):
        _importing(b, content)
    b.session.rollback()
    # The first batch (four payments, one of them all credit) is kept whole; nothing of the second.
    keys = b.session.scalars(select(Payment.gateway_reference).order_by(Payment.id)).all()
    assert keys == [f"bgmax:00001-{n:012d}" for n in (1, 2, 3, 4)]
    assert b.session.scalar(select(text("count(*)")).select_from(AuditEvent)) == 4 + 2  # + two credits
    monkeypatch.setattr(TransferBatch, "add", added)
    summary = _importing(b, content)
    assert summary.duplicates == 4 and summary.recorded == 5
    assert _content(b) == expected


def test_i28_a_batch_takes_the_same_statements_whatever_the_number_of_payments_in_it(b, monkeypatch):
    """Set-based: ten or forty payments of invoices, the batch runs as many statements."""
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc, default=f.wire(b, acc), check_wire_approved=True)
    f.user(b, Role.OWNER, acc, profile)
    invoices = [Invoice(billing_profile_id=profile.id, number=f"3026{n:05d}", currency="SEK",
                        period_start=date(2020, 1, 1) + timedelta(days=31 * n), period_end=date(2020, 1, 28),
                        issued_on=date(2026, 1, 1), due_on=date(2026, 2, 1), status=InvoiceStatus.DUE,
                        subtotal_minor=100_00, credits_applied_minor=0) for n in range(80)]
    b.session.add_all(invoices)
    numbers = [i.number for i in invoices]
    f.commit(b)
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = b.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        made = []
        for first, size, paid_on in ((0, 10, date(2026, 12, 3)), (10, 40, date(2026, 12, 4))):
            content = bgmax_file([[Paid(ocr_reference(number), 150_00 if n % 2 else 100_00)
                                   for n, number in enumerate(numbers[first:first + size])]], paid_on=paid_on)
            statements.clear()
            assert _importing(b, content).recorded == size
            made.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert made[0] == made[1], made
    assert b.session.scalar(select(text("count(*)")).select_from(Payment)) == 50


def test_b17_a_batch_reads_its_payers_parties_at_once_whatever_their_number(b):
    """B17 keeps each payment's parties for its receipt; a batch paying the invoices of
    four or twelve different billing profiles reads them in the same statements."""
    numbers = []
    for n in range(16):
        acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
        profile = f.profile(b, acc, default=f.wire(b, acc), check_wire_approved=True)
        f.user(b, Role.OWNER, acc, profile)
        invoice = Invoice(billing_profile_id=profile.id, number=f"3027{n:05d}", currency="SEK",
                          period_start=date(2020, 1, 1), period_end=date(2020, 1, 28), issued_on=date(2026, 1, 1),
                          due_on=date(2026, 2, 1), status=InvoiceStatus.DUE, subtotal_minor=100_00,
                          credits_applied_minor=0)
        b.session.add(invoice)
        numbers.append(invoice.number)
    f.commit(b)
    statements = []
    engine = b.session.get_bind()
    event.listen(engine, "before_cursor_execute", counted := lambda *args: statements.append(args[2]))
    try:
        made = []
        for first, size, paid_on in ((0, 4, date(2026, 12, 3)), (4, 12, date(2026, 12, 4))):
            content = bgmax_file([[Paid(ocr_reference(number), 100_00) for number in numbers[first:first + size]]],
                                 paid_on=paid_on)
            statements.clear()
            assert _importing(b, content).recorded == size
            made.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert made[0] == made[1], made
    kept = b.session.scalars(select(Payment.parties).order_by(Payment.id)).all()
    assert len(kept) == 16 and all(p["buyer"]["profile"] and p["seller"] for p in kept)


# --- exports ---------------------------------------------------------------------------

def test_i28_what_each_export_batch_paid_is_read_by_index_not_by_scanning(b):
    acc = f.account(b)
    card = f.card(b, acc)
    subs = [f.subscription(b, acc, card) for _ in range(3)]
    profile = f.profile(b, acc)
    f.commit(b)
    f.payments(b, acc, card, 2_000, "bulk")
    ids = b.session.scalars(select(Payment.id).order_by(Payment.id)).all()
    b.session.execute(insert(Charge), [
        {"subscription_id": subs[n % 3].id, "amount_minor": 100_00, "currency": "SEK", "status": ChargeStatus.PAID,
         "period_start": date(2000, 1, 1) + timedelta(days=n), "period_end": date(2000, 1, 1) + timedelta(days=n),
         "payment_id": ids[n // 2]} for n in range(2_000)])
    b.session.execute(insert(Invoice), [
        {"billing_profile_id": profile.id, "number": f"4026{n:05d}", "currency": "SEK",
         "period_start": date(2000, 1, 1) + timedelta(days=n), "period_end": date(2000, 1, 2),
         "issued_on": date(2000, 1, 1) + timedelta(days=n), "due_on": date(2000, 2, 1),
         "status": InvoiceStatus.PAID, "subtotal_minor": 100_00, "credits_applied_minor": 0} for n in range(1_000)])
    invoice_ids = b.session.scalars(select(Invoice.id).order_by(Invoice.id)).all()
    b.session.execute(insert(InvoicePayment), [{"invoice_id": i, "payment_id": ids[1_000 + n], "amount_minor": 100_00}
                                               for n, i in enumerate(invoice_ids)])
    f.commit(b)
    if b.session.get_bind().dialect.name == "postgresql":  # statistics as a large account's would be, not stale
        b.session.execute(text("ANALYZE payments, charges, invoices, invoice_payments"))
        f.commit(b)
    batch = ids[500:550]  # 50 payments that paid two charges each and no invoice
    among = history.among_ids(b, batch)
    assert b.session.execute(history.subscriptions_paid(among)).all() == [(p, 2) for p in batch]
    assert b.session.execute(history.paid_invoices(among)).all() == []
    first = ids[1_000:1_050]  # an invoice each
    assert [(p, n) for p, _i, n in b.session.execute(history.paid_invoices(history.among_ids(b, first)))] == [
        (p, f"4026{n:05d}") for n, p in enumerate(first)]
    if b.session.get_bind().dialect.name == "postgresql":
        assert rows_read(b, history.subscriptions_paid(among)) <= 2 * len(batch)
        assert rows_read(b, history.paid_invoices(history.among_ids(b, first))) <= 2 * len(first) + len(first)
    after = date(2000, 1, 1) + timedelta(days=949)
    rows = b.session.execute(history.invoice_export_batch(profile.id, [], after)).all()
    assert [r.number for r in rows] == [f"4026{n:05d}" for n in range(950, 1_000)]
    if b.session.get_bind().dialect.name == "postgresql":
        assert rows_read(b, history.invoice_export_batch(profile.id, [], after)) <= len(rows) + 1
    else:
        plan = " ".join(row[-1] for row in b.session.execute(text(
            "EXPLAIN QUERY PLAN " + str(history.invoice_export_batch(profile.id, [], after).compile(
                b.session.get_bind(), compile_kwargs={"literal_binds": True})))))
        assert "USING INDEX" in plan and "(billing_profile_id=? AND period_start>?)" in plan, plan


def test_i28_export_cells_are_the_numbers_and_days_they_were(app):
    sv, en = exports.DIALECTS["sv"], exports.DIALECTS["en"]
    assert exports.amount_cell(-5, "SEK", sv) == "-0,05" and exports.amount_cell(100_00, "SEK", en) == "100.00"
    assert exports.amount_cell(123_456_789_01, "SEK", sv) == "123456789,01"
    assert exports.amount_cell(1234, "JPY", en) == "1234" and exports.amount_cell(1234, "BHD", en) == "1.234"
    day = exports.Days(ZoneInfo("Europe/Stockholm"))  # summer time began 2026-03-29 at 01:00 UTC
    instants = [datetime(2026, 3, 28, 22, 59), datetime(2026, 3, 28, 23, 0), datetime(2026, 3, 29, 21, 59),
                datetime(2026, 3, 29, 22, 0), datetime(2026, 3, 29, 22, 0), datetime(2026, 10, 24, 22, 0)]
    assert [day(i) for i in instants] == ["2026-03-28", "2026-03-29", "2026-03-29", "2026-03-30", "2026-03-30",
                                          "2026-10-25"]
    assert day(datetime(2026, 3, 28, 12)) == "2026-03-28"  # back in time: worked out again


def _accounts_world(b) -> bytes:
    """Pay-as-you-go accounts that owe by wire, paid in one file every way there is:
    whole (two subscriptions, a notice that goes away), a disabled one (its stretch,
    B16) with more than owed (credit, B15), less than owed (the oldest charge; the rest
    to review), an account that owes nothing, and the first account a second time."""
    whole, disabled, short, nothing = (f.account(b) for _ in range(4))
    owner = f.user(b, Role.OWNER, whole)
    wire = f.wire(b, whole)
    first = f.past_due(b, whole, wire, charges=(100_00,))
    f.past_due(b, whole, wire, charges=(50_00, 70_00))
    f.past_due(b, disabled, f.wire(b, disabled), charges=(100_00, 150_00), disabled_on=date(2026, 11, 20))
    f.past_due(b, short, f.wire(b, short), charges=(100_00, 150_00))
    f.wire(b, nothing)
    b.session.add(Notice(user_id=owner.id, account_id=whole.id, kind="payment_failed",
                         payload={"subscription_id": first.id}, created_at=b.clock.now()))
    f.commit(b)
    return bgmax_file([[Paid(account_reference(whole.id), 220_00), Paid(account_reference(disabled.id), 400_00),
                        Paid(account_reference(short.id), 200_00), Paid(account_reference(nothing.id), 50_00),
                        Paid(account_reference(whole.id), 10_00)]])


def test_i28_pay_as_you_go_payments_of_one_batch_paid_together_record_exactly_what_one_by_one_did(b, monkeypatch):
    monkeypatch.setattr(f, "_ids", itertools.count(1))
    f.empty_database(b)
    restart_identities(b.session.connection(), db.metadata.sorted_tables)
    b.session.commit()
    content = _accounts_world(b)
    before = _one_by_one(b, content)
    expected = _recorded(b)
    assert (before.recorded, before.to_review) == (5, 0)
    assert {(e["reason"], e["amount_minor"]) for e in expected["credit_entries"]} == {
        ("overpaid", 150_00), ("already_paid", 50_00), ("already_paid", 10_00)}
    assert [r["reason"] for r in expected["transfers_to_review"]] == ["remainder"]
    assert len(expected["disabled_spans"]) == 1
    assert [n["dismissed_at"] is not None for n in expected["notices"]] == [True]
    receipts = [m["payload"] for m in expected["outbox"] if m["template"] == "receipt"]
    assert [r.get("subscription_count") for r in receipts] == [2, 1, 1, 0, 0]
    monkeypatch.setattr(f, "_ids", itertools.count(1))
    f.empty_database(b)
    restart_identities(b.session.connection(), db.metadata.sorted_tables)
    b.session.commit()
    assert _accounts_world(b) == content
    assert _importing(b, content) == before
    assert _recorded(b) == expected  # every row, every column, the same ids: the same order


def test_i28_a_key_another_import_wrote_meanwhile_undoes_the_batch_and_reads_as_already_imported(b, monkeypatch):
    """The same file imported by two processes at once: what the other wrote after this
    batch looked (here: it looks and finds nothing) collides on its key — on
    PostgreSQL inside COPY — and the batch is applied again one payment at a time."""
    content = _fresh(b, monkeypatch)
    first = _importing(b, content)
    expected = _recorded(b)
    monkeypatch.setattr(transfers, "_seen_keys", lambda b, keys: set())
    again = _importing(b, content)
    assert (again.recorded, again.to_review, again.duplicates) == (0, 0, first.payments)
    assert _recorded(b) == expected
