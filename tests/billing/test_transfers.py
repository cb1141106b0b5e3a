"""Money that arrives by bank (B11): BgMax files the tests build — valid, imported twice,
bad totals, unknown and invalid OCR, under- and over-payment, one transfer for several
invoices, two imports of one file at once — on SQLite and PostgreSQL alike."""
from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import bgmax, transfers
from portal.billing.context import Billing
from portal.billing.remittance import account_reference, ocr_reference
from portal.models import (AccountKind, AuditEvent, Charge, ChargeStatus, Invoice, InvoiceStatus, OutboxMessage,
                           Payment, PaymentPurpose, Role, Subscription, SubscriptionStatus, TransferToReview)
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


@pytest.mark.parametrize("amount, reason", [(8_000_00, "underpaid"), (9_000_00, "overpaid")])
def test_b11_more_or_less_than_owed_waits_for_a_person_and_the_invoice_stays_open(b, wire, amount, reason):
    importing(b, bgmax_file([[Paid(ocr_reference(wire.first.number), amount)]]))
    [row] = transfers.waiting_for_review(b)
    assert (row.reason, row.invoice_id, row.amount_minor) == (reason, wire.first.id, amount)
    assert b.session.get(Invoice, wire.first.id).status == InvoiceStatus.DUE


def test_b11_one_transfer_for_several_invoices_pays_each_of_them(b, wire):
    refs = [ocr_reference(wire.first.number), ocr_reference(wire.second.number)]
    summary = importing(b, bgmax_file([[Paid(refs[0], 9_640_00, extra=refs)]]))
    assert summary.recorded == 1
    b.session.rollback()
    assert {b.session.get(Invoice, i.id).status for i in (wire.first, wire.second)} == {InvoiceStatus.PAID}


def test_b11_a_paid_invoice_is_not_paid_again_by_a_transfer(b, wire):
    wire.first.status = InvoiceStatus.PAID
    f.commit(b)
    importing(b, bgmax_file([[Paid(ocr_reference(wire.first.number), 8_640_00)]]))
    assert [r.reason for r in transfers.waiting_for_review(b)] == ["already_paid"]
    assert count(b, Payment) == 0


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


@pytest.mark.parametrize("amount, reason", [(179_00, "underpaid"), (181_00, "overpaid")])
def test_b11_an_account_transfer_of_another_amount_waits_for_a_person(b, payg_wire, amount, reason):
    importing(b, bgmax_file([[Paid(account_reference(payg_wire.acc.id), amount)]]))
    assert [r.reason for r in transfers.waiting_for_review(b)] == [reason]
    assert b.session.get(Subscription, payg_wire.late.id).status == SubscriptionStatus.PAST_DUE


def test_b11_an_account_reference_of_no_pay_as_you_go_account_is_unknown(b, wire):
    importing(b, bgmax_file([[Paid(account_reference(wire.acc.id), 100_00), Paid(account_reference(9_999_999), 1_00)]]))
    assert [r.reason for r in transfers.waiting_for_review(b)] == ["unknown_reference", "unknown_reference"]
