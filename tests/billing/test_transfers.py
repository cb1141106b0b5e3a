"""Money that arrives by bank (B11): BgMax files the tests build — valid, imported twice,
bad totals, unknown and invalid OCR, under- and over-payment, one transfer for several
invoices, two imports of one file at once — on SQLite and PostgreSQL alike."""
from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import payments
from portal.billing.accounts import credit
from portal.billing.bank import bgmax, transfers
from portal.billing.context import Billing
from portal.billing.cycle.invoices import mark_past_due_invoices
from portal.billing.payments import UseSavedCard
from portal.billing.invoicing.remittance import account_reference, ocr_reference
from portal.models import (AccountKind, AuditEvent, Charge, ChargeStatus, DisabledSpan, Invoice, InvoiceStatus,
                           OutboxMessage, Payment, PaymentPurpose, Role, Subscription, SubscriptionStatus,
                           TransferToReview)
from portal.money import MAX_MINOR
from tests import factories as f
from tests.bgmax_files import OUR_BANKGIRO, Paid, bgmax_file

_numbers = iter(range(1, 10_000))


def invoice(b, profile, due_minor=8_640_00, month=10, status=InvoiceStatus.DUE) -> Invoice:
    inv = Invoice(billing_profile_id=profile.id, number=f"2026{next(_numbers):08d}", currency="SEK",
                  period_start=date(2026, month, 1), period_end=date(2026, month, 28),
                  issued_on=date(2026, month + 1, 1), due_on=date(2026, 12, 1), status=status,
                  subtotal_minor=due_minor, credits_applied_minor=0)
    b.session.add(inv)
    b.session.flush()
    return inv


@pytest.fixture
def wire(b):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc, default=f.wire(b, acc), check_wire_approved=True)
    owner = f.user(b, Role.OWNER, acc, profile)
    first, second = invoice(b, profile, month=9), invoice(b, profile, 1_000_00, month=10)
    f.commit(b)
    return type("Wire", (), dict(acc=acc, profile=profile, owner=owner, first=first, second=second))


def importing(b, content: bytes) -> transfers.ImportSummary:
    return transfers.import_bgmax(b, lambda: content.splitlines(keepends=True), OUR_BANKGIRO)


def count(b, model) -> int:
    b.session.rollback()
    return b.session.scalar(select(func.count()).select_from(model))


def test_b11_a_transfer_that_pays_an_invoice_exactly_makes_it_paid_like_a_card_payment(b, wire):
    summary = importing(b, bgmax_file([[Paid(ocr_reference(wire.first.number), 8_640_00)]]))
    assert (summary.payments, summary.recorded, summary.to_review) == (1, 1, 0)
    b.session.rollback()
    paid = b.session.get(Invoice, wire.first.id)
    assert paid.status == InvoiceStatus.PAID and paid.paid_on == b.clock.today()
    payment = paid.payment
    assert payment.purpose == PaymentPurpose.TRANSFER and payment.amount_minor == 8_640_00
    assert payment.payment_method.kind == "check_wire" and payment.billing_profile_id == wire.profile.id
    assert b.session.get(Invoice, wire.second.id).status == InvoiceStatus.DUE
    receipt = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")).one()
    assert receipt.to_address == wire.acc.notification_email and receipt.payload["invoices"] == [wire.first.number]
    event = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment.succeeded")).one()
    assert event.details["purpose"] == "transfer" and event.details["paid_on"] == "2026-12-03"


def test_b11_importing_the_same_file_again_records_nothing_new(b, wire):
    content = bgmax_file([[Paid(ocr_reference(wire.first.number), 8_640_00), Paid("12345", 5_00)]])
    importing(b, content)
    before = (count(b, Payment), count(b, TransferToReview), count(b, OutboxMessage))
    again = importing(b, content)
    assert (again.recorded, again.to_review, again.duplicates) == (0, 0, 2)
    assert (count(b, Payment), count(b, TransferToReview), count(b, OutboxMessage)) == before


@pytest.mark.parametrize("broken", ["deposit_amount", "closing_count", "cut_short", "not_bgmax", "bad_amount",
                                    "another_bankgiro"])
def test_b11_a_file_that_fails_its_own_totals_is_refused_whole(b, wire, broken):
    good = [[Paid(ocr_reference(wire.first.number), 8_640_00)], [Paid(ocr_reference(wire.second.number), 1_000_00)]]
    content = {
        "deposit_amount": bgmax_file(good, deposit_amounts=[8_640_00, 999_00]),
        "closing_count": bgmax_file(good, closing_counts=(3, 0, 0, 2)),
        "cut_short": b"".join(bgmax_file(good).splitlines(keepends=True)[:-1]),
        "not_bgmax": bgmax_file(good).replace(b"BGMAX", b"BGMIN", 1),
        "bad_amount": bgmax_file(good).replace(b"000000000000100000", b"0000000000001000x0", 1),
        "another_bankgiro": bgmax_file(good).replace(b"050050501055", b"050009912346"),
    }[broken]
    with pytest.raises(bgmax.BgMaxRejected) as refused:
        importing(b, content)
    assert refused.value.reason
    assert count(b, Payment) == 0 and count(b, TransferToReview) == 0  # not even the first deposit
    assert b.session.get(Invoice, wire.first.id).status == InvoiceStatus.DUE


def test_b11_unknown_or_invalid_ocr_waits_for_a_person(b, wire):
    unknown = ocr_reference("99999999")
    summary = importing(b, bgmax_file([[Paid("12345", 100_00), Paid(unknown, 200_00), Paid("", 300_00)]]))
    assert summary.to_review == 3 and summary.recorded == 0
    rows = {r.reference: r.reason for r in transfers.waiting_for_review(b)}
    assert rows == {"12345": "invalid_reference", unknown: "unknown_reference", "": "no_reference"}


def credit_of(b, acc) -> int:
    b.session.rollback()
    return credit.balance(b.session, acc.id, acc.currency).minor


def test_b15_more_than_owed_pays_the_invoice_and_the_rest_becomes_credit(b, wire):
    summary = importing(b, bgmax_file([[Paid(ocr_reference(wire.first.number), 9_000_00)]]))
    assert (summary.recorded, summary.to_review) == (1, 0) and transfers.waiting_for_review(b) == []
    assert b.session.get(Invoice, wire.first.id).status == InvoiceStatus.PAID
    [payment] = b.session.scalars(select(Payment)).all()
    assert payment.amount_minor == 9_000_00 and credit_of(b, wire.acc) == 360_00
    receipt = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")).one()
    assert receipt.payload["credited_minor"] == 360_00
    told = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "credit_added")).one()
    assert told.payload["amount_minor"] == 360_00 and told.payload["reason"] == "overpaid"


def test_b12_less_than_owed_pays_the_invoice_in_part_and_the_rest_by_card_pays_it(b, wire):
    summary = importing(b, bgmax_file([[Paid(ocr_reference(wire.first.number), 8_000_00)]]))
    assert (summary.recorded, summary.to_review) == (1, 0)
    b.session.rollback()
    partly = b.session.get(Invoice, wire.first.id)
    assert partly.status == InvoiceStatus.DUE and partly.is_partly_paid
    assert partly.left.minor == 640_00 and partly.payment_id is None
    event = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment.succeeded")).one()
    assert event.details["left_minor"] == 640_00 and event.details["invoices"] == [wire.first.number]
    # The rest, by card, through the same Pay now: the quote asks for what is left.
    card = f.card(b, wire.acc)
    f.commit(b)
    quote = payments.quote_invoices(b, wire.owner, wire.profile.id, [wire.first.id])
    assert quote.total.minor == 640_00
    rest = payments.pay_invoices(b, wire.owner, wire.profile.id, [wire.first.id], UseSavedCard(card.id),
                                 640_00, "pay-the-rest-0001")
    b.session.rollback()
    paid = b.session.get(Invoice, wire.first.id)
    assert paid.status == InvoiceStatus.PAID and paid.payment_id == rest.id and paid.left.minor == 0
    assert [(p.payment.purpose, p.amount_minor) for p in paid.payments_received] == [
        (PaymentPurpose.TRANSFER, 8_000_00), (PaymentPurpose.INVOICE, 640_00)]
    assert [i.id for i in b.session.get(Payment, rest.id).invoices] == [wire.first.id]


def test_b12_a_second_transfer_pays_what_is_left_and_no_more(b, wire):
    ref = ocr_reference(wire.first.number)
    importing(b, bgmax_file([[Paid(ref, 8_000_00)]]))
    importing(b, bgmax_file([[Paid(ref, 641_00)]], first_serial=7))  # 1 kr too much: credit (B15)
    importing(b, bgmax_file([[Paid(ref, 640_00)]], first_serial=9))  # paid already: all of it credit
    b.session.rollback()
    invoice = b.session.get(Invoice, wire.first.id)
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_minor == 8_640_00
    assert sum(p.amount_minor for p in invoice.payments_received) == 8_640_00
    assert transfers.waiting_for_review(b) == [] and credit_of(b, wire.acc) == 641_00


def test_b12_one_transfer_for_two_invoices_pays_the_oldest_due_first(b, wire):
    wire.second.due_on = date(2026, 11, 20)  # due before the first: paid first
    f.commit(b)
    refs = [ocr_reference(wire.first.number), ocr_reference(wire.second.number)]
    importing(b, bgmax_file([[Paid(refs[0], 1_500_00, extra=refs)]]))
    b.session.rollback()
    older, newer = b.session.get(Invoice, wire.second.id), b.session.get(Invoice, wire.first.id)
    assert older.status == InvoiceStatus.PAID
    assert newer.status == InvoiceStatus.DUE and newer.paid_minor == 500_00 and newer.left.minor == 8_140_00
    payment = b.session.scalars(select(Payment)).one()
    assert {i.id for i in payment.invoices} == {older.id, newer.id} and payment.amount_minor == 1_500_00


def test_b11_one_transfer_for_several_invoices_pays_each_of_them(b, wire):
    refs = [ocr_reference(wire.first.number), ocr_reference(wire.second.number)]
    summary = importing(b, bgmax_file([[Paid(refs[0], 9_640_00, extra=refs)]]))
    assert summary.recorded == 1
    b.session.rollback()
    assert {b.session.get(Invoice, i.id).status for i in (wire.first, wire.second)} == {InvoiceStatus.PAID}


def test_b15_a_paid_invoice_is_not_paid_again_by_a_transfer_the_money_becomes_credit(b, wire):
    wire.first.status = InvoiceStatus.PAID
    f.commit(b)
    importing(b, bgmax_file([[Paid(ocr_reference(wire.first.number), 8_640_00)]]))
    assert transfers.waiting_for_review(b) == []
    [payment] = b.session.scalars(select(Payment)).all()
    assert payment.invoices == [] and credit_of(b, wire.acc) == 8_640_00


def test_b11_a_person_settles_a_transfer_with_a_note(b, wire):
    importing(b, bgmax_file([[Paid("12345", 100_00)]]))
    [row] = transfers.waiting_for_review(b)
    with pytest.raises(ValueError):
        transfers.settle_review(b, row.id, "  ")
    transfers.settle_review(b, row.id, "Refunded to the sender's bankgiro")
    assert transfers.waiting_for_review(b) == []
    with pytest.raises(LookupError):
        transfers.settle_review(b, row.id, "again")


def test_b11_two_imports_of_one_file_at_once_record_each_payment_once(b, wire):
    content = bgmax_file([[Paid(ocr_reference(wire.first.number), 8_640_00)],
                          [Paid(ocr_reference(wire.second.number), 1_000_00), Paid("12345", 7_00)]])
    engine, results, errors = b.session.get_bind(), [], []
    start = threading.Barrier(2)

    def run():
        with Session(engine) as session:
            other = Billing(session, b.gateway, b.clock, b.policy)
            try:
                start.wait(10)
                results.append(importing(other, content))
            except Exception as failed:  # noqa: BLE001 - reported below
                errors.append(failed)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(r.recorded for r in results) == 2 and sum(r.to_review for r in results) == 1
    assert sum(r.duplicates for r in results) == 3
    assert count(b, Payment) == 2 and count(b, TransferToReview) == 1
    assert count(b, OutboxMessage) == 2  # one receipt per payment


def test_b11_the_cli_imports_a_file_and_lists_what_waits(app, runner, b, wire, tmp_path):
    path = tmp_path / "bgmax.txt"
    path.write_bytes(bgmax_file([[Paid(ocr_reference(wire.first.number), 8_640_00), Paid("12345", 5_00)]]))
    result = runner.invoke(args=["billing", "import-bgmax", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 payments; 1 recorded (8640.00 SEK), 0 already imported, 1 to review" in result.output
    listing = runner.invoke(args=["billing", "transfers"])
    assert "12345" in listing.output and "not a valid OCR number" in listing.output
    bad = tmp_path / "bad.txt"
    bad.write_bytes(bgmax_file([[Paid("12345", 5_00)]], deposit_amounts=[6_00]))
    refused = runner.invoke(args=["billing", "import-bgmax", str(bad)])
    assert refused.exit_code != 0 and "refused, nothing recorded" in refused.output


@pytest.fixture
def payg_wire(b):
    acc = f.account(b)
    wire_method, card = f.wire(b, acc), f.card(b, acc)
    late = f.past_due(b, acc, wire_method, charges=(100_00, 50_00))
    off = f.past_due(b, acc, wire_method, charges=(30_00,))
    off.status = SubscriptionStatus.DISABLED
    on_card = f.past_due(b, acc, card, charges=(999_00,))
    f.commit(b)
    return type("PaygWire", (), dict(acc=acc, late=late, off=off, on_card=on_card))


def test_b11_r13_a_transfer_with_the_accounts_ocr_pays_its_check_wire_charges(b, payg_wire):
    summary = importing(b, bgmax_file([[Paid(account_reference(payg_wire.acc.id), 180_00)]]))
    assert summary.recorded == 1
    b.session.rollback()
    for sub in (payg_wire.late, payg_wire.off):
        assert b.session.get(Subscription, sub.id).status == SubscriptionStatus.ACTIVE  # R13: re-enabled
        assert b.session.get(Subscription, sub.id).outstanding_minor == 0
    assert b.session.get(Subscription, payg_wire.on_card.id).outstanding_minor == 999_00  # the card's own stay
    payment = b.session.scalars(select(Payment)).one()
    assert payment.purpose == PaymentPurpose.TRANSFER and payment.billing_profile_id is None
    assert b.session.scalar(select(func.count()).select_from(Charge).where(
        Charge.payment_id == payment.id, Charge.status == ChargeStatus.PAID)) == 3
    receipt = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")).one()
    assert sorted(receipt.payload["subscriptions"]) == sorted([payg_wire.late.name, payg_wire.off.name])


def test_b16_a_transfer_that_re_enables_a_subscription_keeps_the_days_it_was_disabled(b, payg_wire, clock):
    b.session.get(Subscription, payg_wire.off.id).disabled_on = date(2026, 11, 10)
    f.commit(b)
    importing(b, bgmax_file([[Paid(account_reference(payg_wire.acc.id), 180_00)]]))
    b.session.rollback()
    assert [(s.subscription_id, s.disabled_on, s.enabled_on) for s in b.session.scalars(select(DisabledSpan))] == [
        (payg_wire.off.id, date(2026, 11, 10), clock.today())]


def test_b11_an_account_transfer_that_pays_no_whole_charge_waits_for_a_person(b, payg_wire):
    importing(b, bgmax_file([[Paid(account_reference(payg_wire.acc.id), 49_00)]]))
    assert [(r.reason, r.amount_minor) for r in transfers.waiting_for_review(b)] == [("underpaid", 49_00)]
    assert b.session.get(Subscription, payg_wire.late.id).status == SubscriptionStatus.PAST_DUE
    assert count(b, Payment) == 0


def test_b15_an_account_transfer_of_more_than_owed_pays_all_and_the_rest_becomes_credit(b, payg_wire):
    importing(b, bgmax_file([[Paid(account_reference(payg_wire.acc.id), 181_00)]]))
    assert transfers.waiting_for_review(b) == []
    assert b.session.get(Subscription, payg_wire.late.id).status == SubscriptionStatus.ACTIVE
    assert credit_of(b, payg_wire.acc) == 1_00
    importing(b, bgmax_file([[Paid(account_reference(payg_wire.acc.id), 50_00)]], first_serial=5))
    assert credit_of(b, payg_wire.acc) == 51_00  # owes nothing by transfer: all of it credit


def test_b12_less_than_an_account_owes_pays_its_oldest_charges_whole_and_the_rest_waits(b, payg_wire):
    # Oldest first: late's 50 kr (two months ago), then late's 100 kr; 179 kr cannot pay
    # off's 30 kr as well, and a charge is never half paid: 29 kr wait for a person.
    importing(b, bgmax_file([[Paid(account_reference(payg_wire.acc.id), 179_00)]]))
    b.session.rollback()
    payment = b.session.scalars(select(Payment)).one()
    assert payment.amount_minor == 150_00 and payment.purpose == PaymentPurpose.TRANSFER
    late, off = b.session.get(Subscription, payg_wire.late.id), b.session.get(Subscription, payg_wire.off.id)
    assert late.status == SubscriptionStatus.ACTIVE and late.outstanding_minor == 0  # R13: owes nothing more
    assert off.status == SubscriptionStatus.DISABLED and off.outstanding_minor == 30_00
    assert [(r.reason, r.amount_minor) for r in transfers.waiting_for_review(b)] == [("remainder", 29_00)]
    again = importing(b, bgmax_file([[Paid(account_reference(payg_wire.acc.id), 179_00)]]))
    assert again.duplicates == 1 and count(b, TransferToReview) == 1


def test_b12_a_subscription_still_owing_after_a_partial_payment_stays_past_due(b, payg_wire):
    importing(b, bgmax_file([[Paid(account_reference(payg_wire.acc.id), 50_00)]]))  # the oldest charge only
    b.session.rollback()
    late = b.session.get(Subscription, payg_wire.late.id)
    assert late.status == SubscriptionStatus.PAST_DUE and late.outstanding_minor == 100_00
    assert transfers.waiting_for_review(b) == []


def test_b11_an_account_reference_of_no_pay_as_you_go_account_is_unknown(b, wire):
    importing(b, bgmax_file([[Paid(account_reference(wire.acc.id), 100_00), Paid(account_reference(9_999_999), 1_00)]]))
    assert [r.reason for r in transfers.waiting_for_review(b)] == ["unknown_reference", "unknown_reference"]


def test_b11_a_person_assigns_a_waiting_transfer_to_an_invoice_and_it_is_recorded_like_a_match(b, wire):
    importing(b, bgmax_file([[Paid("12345", 500_00, name="Contoso AB")]]))  # an invalid OCR: waits
    [row] = transfers.waiting_for_review(b)
    payment = transfers.assign_review(b, row.id, invoice_number=wire.second.number)
    b.session.rollback()
    assert payment.purpose == PaymentPurpose.TRANSFER and payment.idempotency_key == row.key
    second = b.session.get(Invoice, wire.second.id)
    assert second.status == InvoiceStatus.DUE and second.left.minor == 500_00  # in part (B12)
    assert transfers.waiting_for_review(b) == []
    assert b.session.get(TransferToReview, row.id).settled_note == f"Assigned to invoice {wire.second.number}: " \
                                                                   f"payment {payment.id}"
    with pytest.raises(LookupError):  # placed once
        transfers.assign_review(b, row.id, invoice_number=wire.second.number)


def test_b11_a_transfer_that_cannot_go_where_a_person_says_stays_on_the_list(b, wire, payg_wire):
    importing(b, bgmax_file([[Paid("12345", 9_000_00)]]))
    [row] = transfers.waiting_for_review(b)
    with pytest.raises(ValueError):
        transfers.assign_review(b, row.id, invoice_number="99999999")
    with pytest.raises(ValueError):
        transfers.assign_review(b, row.id)
    assert [r.id for r in transfers.waiting_for_review(b)] == [row.id] and count(b, Payment) == 0
    # A pay-as-you-go account's charges: the oldest whole, the rest waits again.
    importing(b, bgmax_file([[Paid("12345", 60_00)]], first_serial=5))
    small = transfers.waiting_for_review(b)[-1]
    transfers.assign_review(b, small.id, account_id=payg_wire.acc.id)
    assert [(r.reason, r.amount_minor) for r in transfers.waiting_for_review(b)] == [
        ("invalid_reference", 9_000_00), ("remainder", 10_00)]


def test_b11_the_cli_assigns_a_waiting_transfer(app, runner, b, wire):
    importing(b, bgmax_file([[Paid("12345", 1_000_00)]]))
    [row] = transfers.waiting_for_review(b)
    refused = runner.invoke(args=["billing", "transfers", "--assign", str(row.id), "--invoice", "00000000"])
    assert refused.exit_code != 0 and "not assigned" in refused.output
    result = runner.invoke(args=["billing", "transfers", "--assign", str(row.id), "--invoice", wire.second.number])
    assert result.exit_code == 0 and "recorded as payment" in result.output, result.output
    b.session.rollback()
    assert b.session.get(Invoice, wire.second.id).status == InvoiceStatus.PAID


def test_b12_a_partly_paid_invoice_going_past_due_is_reminded_of_what_is_left(b, wire):
    importing(b, bgmax_file([[Paid(ocr_reference(wire.first.number), 8_000_00)]]))
    mark_past_due_invoices(b, date(2026, 12, 2))
    b.session.rollback()
    assert b.session.get(Invoice, wire.first.id).status == InvoiceStatus.PAST_DUE
    reminder = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "invoice_past_due",
                                                             OutboxMessage.payload["number"].as_string()
                                                             == wire.first.number)).one()
    assert reminder.payload["amount_minor"] == 640_00


def test_i27_a_payment_repeated_in_one_file_waits_for_a_person_and_a_new_import_adds_nothing(b, wire):
    """The same payment line twice (same deposit, same serial): the first pays the
    invoice, the second is not "already imported" but waits for a person, who decides
    whether the bank sent one payment or two."""
    content = bgmax_file([[Paid(ocr_reference(wire.first.number), 8_640_00),
                           Paid(ocr_reference(wire.first.number), 8_640_00)]])
    content = content.replace(b"210000000000020", b"210000000000010", 1)  # the second line's serial = the first's
    summary = importing(b, content)
    assert (summary.recorded, summary.to_review, summary.duplicates) == (1, 1, 0)
    assert summary.reasons == {"repeated": 1}
    [waiting] = transfers.waiting_for_review(b)
    assert waiting.reason == "repeated" and waiting.amount_minor == 8_640_00
    assert b.session.get(Invoice, wire.first.id).status == InvoiceStatus.PAID
    again = importing(b, content)
    assert (again.recorded, again.to_review, again.duplicates) == (0, 0, 2)
    assert count(b, TransferToReview) == 1 and count(b, Payment) == 1


def test_i27_a_payment_of_0_kr_is_neither_recorded_nor_receipted(b, wire):
    summary = importing(b, bgmax_file([[Paid(ocr_reference(wire.first.number), 0)]]))
    assert (summary.recorded, summary.to_review, summary.reasons) == (0, 1, {"no_amount": 1})
    assert count(b, Payment) == 0 and count(b, OutboxMessage) == 0
    assert b.session.get(Invoice, wire.first.id).status == InvoiceStatus.DUE


# Issue 27 item 4: a 32-bit money column ends at 21 474 836,47 kr; 25 000 000,00 kr is past it.
ABOVE_32_BITS = 25_000_000_00


@pytest.mark.parametrize("amount", [ABOVE_32_BITS, MAX_MINOR], ids=["25 000 000,00 kr", "MAX_MINOR"])
def test_i27_a_bgmax_amount_above_32_bits_is_recorded_on_both_databases(b, wire, amount):
    large = invoice(b, wire.profile, amount, month=11)
    f.commit(b)
    summary = importing(b, bgmax_file([[Paid(ocr_reference(large.number), amount)]]))
    assert (summary.recorded, summary.to_review, summary.recorded_minor) == (1, 0, amount)
    b.session.rollback()
    paid = b.session.get(Invoice, large.id)
    assert paid.status == InvoiceStatus.PAID and paid.paid_minor == amount == paid.payment.amount_minor
    assert [p.amount_minor for p in paid.payments_received] == [amount]


def test_i27_an_amount_above_32_bits_more_than_owed_becomes_credit_or_waits_for_a_person(b, wire):
    importing(b, bgmax_file([[Paid(ocr_reference(wire.first.number), ABOVE_32_BITS), Paid("12345", MAX_MINOR)]]))
    waiting = {r.reason: r.amount_minor for r in transfers.waiting_for_review(b)}
    assert waiting == {"invalid_reference": MAX_MINOR}
    assert b.session.get(Invoice, wire.first.id).status == InvoiceStatus.PAID
    assert credit_of(b, wire.acc) == ABOVE_32_BITS - 8_640_00  # B15


def test_i27_an_invoice_above_32_bits_is_paid_part_by_bank_and_the_rest_by_card(b, wire):
    large = invoice(b, wire.profile, 2 * ABOVE_32_BITS, month=11)
    card = f.card(b, wire.acc)
    f.commit(b)
    importing(b, bgmax_file([[Paid(ocr_reference(large.number), ABOVE_32_BITS)]]))
    quote = payments.quote_invoices(b, wire.owner, wire.profile.id, [large.id])
    assert quote.total.minor == ABOVE_32_BITS
    rest = payments.pay_invoices(b, wire.owner, wire.profile.id, [large.id], UseSavedCard(card.id),
                                 ABOVE_32_BITS, "pay-the-large-rest-0001")
    b.session.rollback()
    paid = b.session.get(Invoice, large.id)
    assert paid.status == InvoiceStatus.PAID and paid.paid_minor == 2 * ABOVE_32_BITS
    assert b.session.get(Payment, rest.id).amount_minor == ABOVE_32_BITS
    assert [(p.payment.purpose, p.amount_minor) for p in paid.payments_received] == [
        (PaymentPurpose.TRANSFER, ABOVE_32_BITS), (PaymentPurpose.INVOICE, ABOVE_32_BITS)]


@pytest.mark.parametrize("amount", [MAX_MINOR + 1, 10**18 - 1], ids=["MAX_MINOR + 1", "18 digits of 9"])
def test_i27_an_amount_above_the_largest_the_portal_takes_is_read_and_refuses_the_file_whole(b, wire, amount):
    """An amount field is 18 digits (up to 9 999 999 999 999 999,99 kr): the parser reads
    the largest one whole, and the file that says it is refused, with its line, before
    anything of it — not even the deposit before — is applied."""
    content = bgmax_file([[Paid(ocr_reference(wire.first.number), 8_640_00)],
                          [Paid(ocr_reference(wire.second.number), amount)]])
    with pytest.raises(bgmax.BgMaxRejected) as refused:
        importing(b, content)
    payment_lines = [n for n, line in enumerate(content.splitlines(), start=1) if line.startswith(b"20")]
    assert refused.value.line == payment_lines[1] and f"{amount} öre" in refused.value.reason
    assert count(b, Payment) == 0 and count(b, TransferToReview) == 0
    assert b.session.get(Invoice, wire.first.id).status == InvoiceStatus.DUE
