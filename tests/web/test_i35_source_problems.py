"""Issue 35, the December review's "problems in the source seen through Swedish":

1. a payment method's name is not put mid-sentence with its capital ("Betald den …
   med Check/banköverföring" on a transfer's receipt PDF);
3. an invoice paid by two cards does not name one of them as the one it was paid with;
4. a part payment's receipt says what that payment paid of the invoice, not the
   invoice's state today ("Faktura 10003 – Betald" after a later payment).

(2, "Amount" as the subtotal, and 5, invoice-payment receipts without the buyer's
details, were fixed before: tests/web/test_invoice_documents.py, test_i30_receipts_and_vat.py.)"""
from __future__ import annotations

import re

from flask_babel import force_locale
from sqlalchemy import select

from portal import document_store
from portal.billing import payments
from portal.billing.payments import UseSavedCard
from portal.document_files import receipt_pdf
from portal.i18n import money
from portal.models import BillingAccount, Invoice, Payment, PaymentMethod, User
from tests import factories as f
from tests.web.conftest import sign_in_as
from tests.web.test_invoice_documents import text_of

PART = 1_000_00


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ")


def pay_in_two_parts(b, demo) -> tuple[Payment, Payment]:
    """The demo's due invoice: 1 000 kr with the Visa 4242, the rest with a Mastercard."""
    s = b.session
    olivia = s.scalars(select(User).where(User.email == "olivia@example.com")).one()
    visa = s.scalars(select(PaymentMethod).where(PaymentMethod.account_id == demo.agreement,
                                                 PaymentMethod.last4 == "4242")).one()
    mastercard = f.card(b, s.get(BillingAccount, demo.agreement), "5555555555554444")
    f.commit(b)
    quote = payments.quote_invoices(b, olivia, demo.profile, [demo.due])
    first = payments.pay_invoices(b, olivia, demo.profile, [demo.due], UseSavedCard(visa.id), quote.total.minor,
                                  "i35-part-0001", part_minor=PART)
    rest = payments.quote_invoices(b, olivia, demo.profile, [demo.due])
    second = payments.pay_invoices(b, olivia, demo.profile, [demo.due], UseSavedCard(mastercard.id),
                                   rest.total.minor, "i35-rest-0001")
    s.expire_all()
    return first, second


def test_i35_an_invoice_paid_by_two_cards_names_neither_as_the_one_it_was_paid_with(browser, b, demo):
    pay_in_two_parts(b, demo)
    sign_in_as(browser, "olivia@example.com", "sv")
    page = plain(browser.get(f"/sv/accounts/{demo.agreement}/invoices/{demo.due}").get_data(as_text=True))
    status = re.search(r"Status (.*?) Ladda ner faktura", page).group(1)
    assert re.fullmatch(r"Betald den 25 november 2026 med 2 betalningar", status.strip()), status
    assert "Betald med" not in page
    received = page[page.index("Mottagna betalningar"):]
    assert "Visa som slutar på 4242" in received and "Mastercard som slutar på 4444" in received


def test_i35_an_invoice_paid_at_once_says_when_and_with_what_in_one_sentence(browser, b, demo):
    sign_in_as(browser, "olivia@example.com", "en")
    page = plain(browser.get(f"/en/accounts/{demo.agreement}/invoices/{demo.paid}").get_data(as_text=True))
    status = re.search(r"Status (.*?) Download invoice", page).group(1).strip()
    assert re.fullmatch(r"Paid on \w+ \d+, 20\d\d (with .+ ending in \d{4}|by check/wire transfer)", status), status


def test_i35_a_part_payments_receipt_shows_what_it_paid_not_the_invoices_state_now(app, browser, b, demo):
    first, _ = pay_in_two_parts(b, demo)
    invoice = b.session.get(Invoice, demo.due)
    assert invoice.status == "paid"  # today; the first payment's receipt must not say so
    sign_in_as(browser, "olivia@example.com", "sv")
    page = plain(browser.get(f"/sv/accounts/{demo.agreement}/payments/{first.id}").get_data(as_text=True))
    paid = page[page.index("Vad som betalades"):]
    with app.test_request_context("/sv/"), force_locale("sv"):
        share, whole = (re.sub(r"\s", " ", money(m)) for m in (first.amount, invoice.amount_due))
    assert share != whole and f"Faktura {invoice.number} {share} {whole}" in paid, paid[:300]
    assert not re.search(r"\bBetald\b", paid.split("Om något inte")[0])  # the state badge


def test_i35_a_transfers_receipt_pdf_says_check_wire_transfer_mid_sentence_in_lower_case(app, b):
    account = f.account(b)
    f.payments(b, account, f.wire(b, account), 1, "i35-wire")
    f.commit(b)
    payment = b.session.scalars(select(Payment).where(Payment.account_id == account.id)).one()
    texts = {}
    for lang in ("sv", "en"):
        with app.test_request_context(f"/{lang}/"), force_locale(lang):
            doc = document_store.receipt_document_of(b, payment)
            texts[lang] = re.sub(r"\s+", " ", text_of(receipt_pdf(doc)))
    assert doc.method is None
    assert re.search(r"Betald den \d+ januari 2026 med check/banköverföring", texts["sv"]), texts["sv"][:300]
    assert re.search(r"Paid on \w+ \d+, 2026 by check/wire transfer", texts["en"]), texts["en"][:300]
    assert "Check/" not in texts["sv"] + texts["en"]


def test_i35_1_a_transfer_is_named_in_lower_case_inside_the_receipt_email_and_the_audit_log(app, demo):
    """Source problem 1 beyond the PDF: "… was paid with check/wire transfer" in the
    receipt email and the audit log's sentence; on its own (a fact's value) it keeps
    its capital."""
    from datetime import datetime
    from types import SimpleNamespace

    from portal.mail.render import render_email
    from portal.models import OutboxMessage
    from portal.wording import audit_text
    from tests.mail.test_accessibility import PAYLOADS

    transfer = {"kind": "check_wire", "brand": None, "last4": None}
    for locale, in_sentence, alone in (("sv", "med check/banköverföring", "Check/banköverföring"),
                                       ("en", "with check/wire transfer", "Check/wire transfer")):
        message = OutboxMessage(template="receipt", to_address="anna@example.com", locale=locale,
                                payload={**PAYLOADS["receipt"], "method": transfer, "account_id": demo.payg},
                                message_key=f"i35-1-{locale}", created_at=datetime(2026, 12, 6, 9, 0))
        text = render_email(app, message).get_body(("plain",)).get_content().replace("\xa0", " ")
        assert in_sentence in text and f"{in_sentence[:4]} {alone}" not in text
        with app.test_request_context(f"/{locale}/"), force_locale(locale):
            event = SimpleNamespace(action="payment.succeeded", actor=None, details={
                "amount_minor": 500_00, "currency": "SEK", "method": transfer, "invoices": ["10003"]})
            assert in_sentence in audit_text(event)
