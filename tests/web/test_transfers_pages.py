"""B11 as the customer sees it: the demo's check/wire customer pays its past-due invoice
by bankgiro; after `flask billing import-bgmax` the invoice is Paid, the payment is in
Payments with a receipt, and Pay now lists each open invoice's OCR reference."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.billing.bank import transfers
from portal.billing.invoicing.remittance import account_reference, ocr_reference
from portal.models import (Invoice, InvoiceStatus, MethodKind, Payment, PaymentMethod, Subscription,
                           SubscriptionStatus)
from tests.bgmax_files import OUR_BANKGIRO, Paid, bgmax_file
from tests.web.conftest import sign_in_as


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ")


def test_b11_the_demo_invoice_turns_paid_after_importing_the_bank_file(app, runner, browser, demo, b, tmp_path):
    sign_in_as(browser, "olivia@example.com", "sv")
    pay_now = text(browser.get(f"/sv/accounts/{demo.agreement}/profiles/{demo.profile}/pay").get_data(as_text=True))
    past_due = b.session.get(Invoice, demo.past_due)
    assert f"Faktura {past_due.number}: OCR {ocr_reference(past_due.number)}" in pay_now

    path = tmp_path / "bgmax.txt"
    assert runner.invoke(args=["demo", "bgmax", str(path)]).exit_code == 0
    result = runner.invoke(args=["billing", "import-bgmax", str(path)])
    assert "1 recorded" in result.output and "1 to review" in result.output, result.output
    again = runner.invoke(args=["billing", "import-bgmax", str(path)])
    assert "0 recorded" in again.output and "2 already imported" in again.output

    b.session.rollback()
    invoice = b.session.get(Invoice, demo.past_due)
    assert invoice.status == InvoiceStatus.PAID
    detail = text(browser.get(f"/sv/accounts/{demo.agreement}/invoices/{demo.past_due}").get_data(as_text=True))
    # issue 35: the status is one sentence, the method in lower case inside it
    assert re.search(r"Status Betald den \d+ \w+ 20\d\d med check/banköverföring", detail), detail
    payments = text(browser.get(f"/sv/accounts/{demo.agreement}/payments").get_data(as_text=True))
    assert "Banköverföring" in payments and "Bankgiroinbetalning" not in payments
    # B22: the demo file pays the seed's payment request: both open invoices with one transfer.
    due = b.session.get(Invoice, demo.due)
    assert f"Fakturor {min(invoice.number, due.number)}, {max(invoice.number, due.number)}" in payments
    assert due.status == InvoiceStatus.PAID and due.payment_id == invoice.payment_id
    receipt = browser.get(f"/sv/accounts/{demo.agreement}/payments/{invoice.payment_id}")
    assert receipt.status_code == 200
    # issue 35: the method's name is not capitalised inside the sentence; the title names the payment (a11y-4)
    assert re.search(r"Tack! [\d ]+,\d\d kr har betalats med check/banköverföring\.", text(receipt.get_data(as_text=True)))
    assert re.search(r"<title>Kvitto \S+ – Contoso Cloud</title>", receipt.get_data(as_text=True))
    assert b.session.scalars(select(Payment.purpose).where(Payment.id == invoice.payment_id)).one() == "transfer"


def test_b11_a_pay_as_you_go_check_wire_payer_sees_the_accounts_ocr_and_is_settled_by_the_file(
        app, browser, demo, b):
    wire = PaymentMethod(account_id=demo.payg, kind=MethodKind.CHECK_WIRE, created_at=b.clock.now())
    b.session.add(wire)
    b.session.flush()
    testing = b.session.get(Subscription, demo.testing)
    testing.payment_method_id = wire.id
    owed = testing.outstanding_minor
    b.session.commit()
    sign_in_as(browser, "anna@example.com", "sv")
    page = text(browser.get(f"/sv/accounts/{demo.payg}/subscriptions/{demo.testing}/settle").get_data(as_text=True))
    assert f"OCR-nummer {account_reference(demo.payg)}" in page
    content = bgmax_file([[Paid(account_reference(demo.payg), owed, name="Nordlund Konsult AB")]])
    with app.app_context():
        summary = transfers.import_bgmax(b, lambda: content.splitlines(keepends=True), OUR_BANKGIRO)
    assert summary.recorded == 1
    b.session.rollback()
    assert b.session.get(Subscription, demo.testing).status == SubscriptionStatus.ACTIVE
    overview = text(browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True))
    assert "Webbshop – test Aktiv" in overview


def test_b12_a_partly_paid_invoice_says_what_is_left_in_both_languages_and_pay_now_asks_for_it(
        app, browser, demo, b):
    invoice = b.session.get(Invoice, demo.past_due)
    whole, part = invoice.left.minor, 1_000_00
    content = bgmax_file([[Paid(ocr_reference(invoice.number), part, name="Fjällström Logistik AB")]])
    with app.app_context():
        assert transfers.import_bgmax(b, lambda: content.splitlines(keepends=True), OUR_BANKGIRO).recorded == 1
    b.session.rollback()
    left = (whole - part) // 100
    left_sv, left_en = f"{left:,}".replace(",", " "), f"{left:,}"
    sign_in_as(browser, "olivia@example.com", "sv")
    listing = text(browser.get(f"/sv/accounts/{demo.agreement}/invoices").get_data(as_text=True))
    assert f"Förfallen Delvis betald – {left_sv},00 kr kvar" in listing
    detail = text(browser.get(f"/sv/accounts/{demo.agreement}/invoices/{demo.past_due}").get_data(as_text=True))
    assert "Mottagna betalningar" in detail and "1 000,00 kr" in detail
    assert f"Kvar att betala: {left_sv},00 kr" in detail
    pay_now = text(browser.get(f"/sv/accounts/{demo.agreement}/profiles/{demo.profile}/pay"
                               f"?invoice={demo.past_due}").get_data(as_text=True))
    assert f"{left_sv},00 kr" in pay_now and f"{whole // 100:,},00 kr".replace(",", " ") not in pay_now
    english = text(browser.get(f"/en/accounts/{demo.agreement}/invoices/{demo.past_due}").get_data(as_text=True))
    assert f"Partly paid – SEK {left_en}.00 left" in english and "Payments received" in english
