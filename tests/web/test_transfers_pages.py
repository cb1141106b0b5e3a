"""B11 as the customer sees it: the demo's check/wire customer pays its past-due invoice
by bankgiro; after `flask billing import-bgmax` the invoice is Paid, the payment is in
Payments with a receipt, and Pay now lists each open invoice's OCR reference."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.billing.remittance import ocr_reference
from portal.models import Invoice, InvoiceStatus, Payment
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
    assert "Betald" in detail and "Check/banköverföring" in detail
    payments = text(browser.get(f"/sv/accounts/{demo.agreement}/payments").get_data(as_text=True))
    assert "Bankgiroinbetalning" in payments and f"Faktura {invoice.number}" in payments
    receipt = browser.get(f"/sv/accounts/{demo.agreement}/payments/{invoice.payment_id}")
    assert receipt.status_code == 200
    assert b.session.scalars(select(Payment.purpose).where(Payment.id == invoice.payment_id)).one() == "transfer"
