"""Issue 34, B23: Autogiro — the layouts round-trip, bank accounts and payers checked by
the banks' and the tax agency's rules, and the whole loop (mandate → answer → order →
drawn → paid; not drawn → past due → retried once → paid) on SQLite and PostgreSQL
(the same test with DATABASE_URL set)."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from portal.billing.bank import autogiro, autogiro_files as files, autogiro_status
from portal.billing.cycle.invoices import mark_past_due_invoices
from portal.billing.invoicing.remittance import ocr_reference
from portal.errors import InvalidDetails
from portal.models import (AccountKind, AutogiroOrder, BillingProfile, CreditEntry, DrawStatus, Invoice, InvoicePayment, InvoiceStatus,
                           MandateStatus, OutboxMessage, Payment, PaymentPurpose, Role)
from tests import factories as f

PAYEE = autogiro.Payee("5050-1055", "123456")
WHEN = datetime(2026, 11, 26, 6, 0)

LAYOUTS = {
    "request": (files.Request(date(2026, 11, 25), "123456", "50501055",
                              (files.Addition("10000001", "9029", "5735211", "165560360793"),), ("10000002",),
                              (files.Order("10000001", date(2026, 11, 26), 8_640_00, "2026000000179"),)),
                files.write_request, files.read_request),
    "mandates": (files.MandateAnswers(date(2026, 11, 26), "123456", "50501055", (
        files.Answer("10000001", "9029", "5735211", "165560360793", "04", "32", date(2026, 11, 26)),
        files.Answer("10000002", "6000", "806967498", "198112289874", "04", "09", date(2026, 11, 26)))),
        files.write_mandate_answers, files.read_mandate_answers),
    "payments": (files.PaymentResults(WHEN, "123456", "50501055", (
        files.Order("10000001", date(2026, 11, 26), 8_640_00, "2026000000179", "0"),
        files.Order("10000003", date(2026, 11, 26), 1_000_00, "2026000000252", "1"),
        files.Order("10000001", date(2026, 11, 27), 5_00, "2026000000336", "2"))),
        files.write_payment_results, files.read_payment_results),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_i34_every_layout_round_trips_in_80_character_records(layout):
    value, write, read = LAYOUTS[layout]
    content = write(value)
    assert {len(line) for line in content.decode("latin-1").splitlines()} == {80}
    assert read(content.splitlines()) == value
    assert files.kind_of(content.splitlines()) == layout


@pytest.mark.parametrize("clearing, number, bank", [
    ("9029", "5735211", "Länsförsäkringar Bank"),     # type 1, check digit over clearing and account
    ("5000", "1000004", "SEB"),                         # type 1 (SEB 5000–5999)
    ("6000", "806967498", "Handelsbanken"),             # type 2, mod 11 over the account
    ("3300", "8112289874", "Nordea"),                   # personkonto: the personnummer
    ("8327-9", "123 456 789-7", "Swedbank"),           # Swedbank, five-digit clearing, mod 10
    ("8327-9", "123 456 789-2", None),                 # … with a wrong check digit
    ("9029", "5735214", None),                          # a wrong check digit
    ("0999", "1234567", None),                          # no bank has this clearing number
])
def test_i34_a_bank_account_is_checked_by_the_banks_rules_with_the_bank_named(clearing, number, bank):
    if bank is None:
        with pytest.raises(InvalidDetails):
            autogiro.bank_account(clearing, number)
    else:
        assert autogiro.bank_account(clearing, number).bank_name == bank


def test_i34_the_payer_is_an_organisationsnummer_or_a_personnummer_in_twelve_digits():
    assert autogiro.payer_identity("556036-0793") == "165560360793"
    assert autogiro.payer_identity("811228-9874") == "198112289874"
    with pytest.raises(InvalidDetails):
        autogiro.payer_identity("556036-0794")


def lines_of(content: bytes):
    return lambda: content.splitlines(keepends=True)


def results(*orders: files.Order, when=WHEN) -> bytes:
    return files.write_payment_results(files.PaymentResults(when, PAYEE.customer_number, PAYEE.bankgiro_digits, orders))


def test_i34_the_whole_loop_mandate_answer_orders_drawn_paid_and_not_drawn_past_due_retried(b, tmp_path):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc)
    f.user(b, Role.OWNER, acc, profile)
    first, second = (Invoice(billing_profile_id=profile.id, number=f"2026000{n:05d}", currency="SEK",
                             period_start=date(2026, m, 1), period_end=date(2026, m, 28), issued_on=date(2026, 11, 1),
                             due_on=date(2026, 11, 26), subtotal_minor=amount, credits_applied_minor=0)
                     for n, m, amount in ((1, 9, 8_640_00), (2, 10, 1_000_00)))
    b.session.add_all([first, second])
    f.commit(b)

    # The customer gives a mandate: pending, the profile's default; the first file carries it.
    mandate = autogiro.give_mandate(b, None, acc.id, "9029", "5735211", "556036-0793", profile_id=profile.id)
    assert mandate.status == MandateStatus.PENDING and profile.default_payment_method_id == mandate.payment_method_id
    sent = autogiro.export(b, PAYEE, tmp_path)
    request = files.read_request(sent.path.read_bytes().splitlines())
    assert [a.payer_number for a in request.additions] == [mandate.payer_number] and request.orders == ()

    # Bankgirot approves it; then the invoices due by the next banking day are ordered, once.
    answers = files.write_mandate_answers(files.MandateAnswers(date(2026, 11, 25), "123456", PAYEE.bankgiro_digits, (
        files.Answer(mandate.payer_number, "9029", "5735211", "165560360793", "04", "32", date(2026, 11, 25)),)))
    assert autogiro.import_file(b, PAYEE, lines_of(answers)).outcomes == {"mandate_active": 1}
    assert autogiro.import_file(b, PAYEE, lines_of(answers)).duplicates == 1
    assert autogiro_status.draw_date(b, b.session.get(Invoice, first.id)) == date(2026, 11, 26)  # shown on the invoice
    assert autogiro_status.next_draws(b, acc.id) == {mandate.payment_method_id: date(2026, 11, 26)}
    orders = files.read_request(autogiro.export(b, PAYEE, tmp_path).path.read_bytes().splitlines()).orders
    assert [(o.reference, o.amount_minor, o.draw_on) for o in orders] == [
        (ocr_reference(first.number), 8_640_00, date(2026, 11, 26)),
        (ocr_reference(second.number), 1_000_00, date(2026, 11, 26))]
    assert autogiro.export(b, PAYEE, tmp_path).path is None   # run again: nothing ordered twice

    # A file naming an order we never sent is refused whole: nothing of it applied.
    b.clock.advance(1)
    mark_past_due_invoices(b, date(2026, 11, 27))  # the cycle, before the answer comes: it waits for it
    assert b.session.get(Invoice, first.id).status == InvoiceStatus.DUE
    drawn, short = (files.Order(mandate.payer_number, date(2026, 11, 26), o.amount_minor, o.reference, code)
                    for o, code in zip(orders, ("0", "1")))
    stranger = files.Order(mandate.payer_number, date(2026, 11, 26), 5_00, "999", "0")
    with pytest.raises(files.AutogiroRejected, match="line 4: no order of ours"):
        autogiro.import_file(b, PAYEE, lines_of(results(drawn, stranger)))
    assert b.session.get(Invoice, first.id).status == InvoiceStatus.DUE

    # Drawn → paid through the ledger; not drawn → past due, told why, retried the next banking day.
    done = autogiro.import_file(b, PAYEE, lines_of(results(drawn, short)))
    assert done.outcomes == {"drawn": 1, "not_drawn": 1}
    assert autogiro.import_file(b, PAYEE, lines_of(results(drawn, short))).duplicates == 2
    b.session.rollback()
    paid = b.session.get(Invoice, first.id)
    assert paid.status == InvoiceStatus.PAID and paid.payment.purpose == PaymentPurpose.AUTOGIRO
    assert paid.payment.payment_method.kind == "autogiro"
    assert b.session.get(Invoice, second.id).status == InvoiceStatus.PAST_DUE
    told = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "autogiro_not_drawn")).one()
    assert told.payload["reason"] == "insufficient_funds" and told.payload["next_draw_on"] == "2026-11-27"
    assert b.session.scalar(select(func.count()).where(OutboxMessage.template == "receipt")) == 1

    retry = files.read_request(autogiro.export(b, PAYEE, tmp_path).path.read_bytes().splitlines()).orders
    assert [(o.reference, o.draw_on) for o in retry] == [(short.reference, date(2026, 11, 27))]
    b.clock.advance(1)
    again = files.Order(mandate.payer_number, date(2026, 11, 27), short.amount_minor, short.reference, "0")
    assert autogiro.import_file(b, PAYEE, lines_of(results(again))).outcomes == {"drawn": 1}
    b.session.rollback()
    assert b.session.get(Invoice, second.id).status == InvoiceStatus.PAID
    assert [o.status for o in b.session.scalars(select(AutogiroOrder).order_by(AutogiroOrder.id))] == [
        DrawStatus.DRAWN, DrawStatus.NOT_DRAWN, DrawStatus.DRAWN]

    # The bank closes the account: the mandate ends, the profile has no default, the customer is told.
    closed = files.write_mandate_answers(files.MandateAnswers(date(2026, 11, 27), "123456", PAYEE.bankgiro_digits, (
        files.Answer(mandate.payer_number, "9029", "5735211", "165560360793", "03", "03", date(2026, 11, 27)),)))
    assert autogiro.import_file(b, PAYEE, lines_of(closed)).outcomes == {"mandate_cancelled": 1}
    b.session.rollback()
    assert b.session.get(BillingProfile, profile.id).default_payment_method_id is None
    ended = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "autogiro_mandate_ended")).one()
    assert ended.payload["reason"] == "account_closed"

    # The ledger agrees: each payment's money is on its invoices or in the credit balance.
    for payment in b.session.scalars(select(Payment)):
        placed = b.session.scalar(select(func.coalesce(func.sum(InvoicePayment.amount_minor), 0))
                                  .where(InvoicePayment.payment_id == payment.id))
        credited = b.session.scalar(select(func.coalesce(func.sum(CreditEntry.amount_minor), 0))
                                    .where(CreditEntry.payment_id == payment.id))
        assert placed + credited == payment.amount_minor


def test_i34_the_demo_loop_pays_an_invoice_through_the_commands(b, runner, tmp_path):
    """`flask autogiro export` → `flask demo autogiro` (Bankgirot's answers) → `flask
    autogiro import`, twice round: the mandate approved, then the invoice drawn and paid."""
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc)
    invoice = Invoice(billing_profile_id=profile.id, number="202600099999", currency="SEK",
                      period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), issued_on=date(2026, 11, 1),
                      due_on=date(2026, 11, 26), subtotal_minor=2_500_00, credits_applied_minor=0)
    b.session.add(invoice)
    f.commit(b)
    autogiro.give_mandate(b, None, acc.id, "6000", "806967498", "811228-9874", profile_id=profile.id)

    def round_trip(expected: str) -> None:
        exported = runner.invoke(args=["autogiro", "export", str(tmp_path)])
        assert exported.exit_code == 0, exported.output
        request = exported.output.split("Wrote ")[1].split(":")[0]
        answered = runner.invoke(args=["demo", "autogiro", request])
        assert answered.exit_code == 0, answered.output
        imported = runner.invoke(args=["autogiro", "import", answered.output.split("Wrote ")[1].split(":")[0]])
        assert imported.exit_code == 0 and expected in imported.output, imported.output

    round_trip("1 mandate_active")
    round_trip("1 drawn")
    b.session.rollback()
    assert b.session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
    refused = runner.invoke(args=["autogiro", "import", str(next(tmp_path.glob("*-001.txt")))])
    assert refused.exit_code != 0 and "refused, nothing applied" in refused.output


def test_i34_two_imports_of_one_results_file_at_once_record_the_payment_once(b, tmp_path):
    """The money race (M2, M3): the same payment results imported by two processes at
    the same moment — each order is decided again under its account's lock, so one
    records the payment and the other finds it answered."""
    import threading
    from sqlalchemy.orm import Session
    from portal.billing.context import Billing
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc)
    invoice = Invoice(billing_profile_id=profile.id, number="202600088888", currency="SEK",
                      period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), issued_on=date(2026, 11, 1),
                      due_on=date(2026, 11, 26), subtotal_minor=990_00, credits_applied_minor=0)
    b.session.add(invoice)
    f.commit(b)
    mandate = autogiro.give_mandate(b, None, acc.id, "9029", "5735211", "556036-0793", profile_id=profile.id)
    request = files.read_request(autogiro.export(b, PAYEE, tmp_path).path.read_bytes().splitlines())
    answers, _none = files.answers_for(request, WHEN)
    autogiro.import_file(b, PAYEE, lines_of(files.write_mandate_answers(answers)))
    request = files.read_request(autogiro.export(b, PAYEE, tmp_path).path.read_bytes().splitlines())
    content = files.write_payment_results(files.answers_for(request, WHEN)[1])
    engine, results, errors = b.session.get_bind(), [], []
    start = threading.Barrier(2)

    def run():
        with Session(engine) as session:
            try:
                start.wait(10)
                results.append(autogiro.import_file(Billing(session, b.gateway, b.clock, b.policy), PAYEE,
                                                    lines_of(content)))
            except Exception as failed:  # noqa: BLE001 - reported below
                errors.append(failed)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sorted(r.applied for r in results) == [0, 1]
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert b.session.scalar(select(func.count()).where(OutboxMessage.template == "receipt")) == 1
    assert b.session.get(Invoice, invoice.id).status == InvoiceStatus.PAID and mandate.id
