"""Issue 30, "Done when": each law item read back from the Swedish and English PDFs
(pypdf text) and their tags (pikepdf, tests/pdfua.py) — the items the other tests
did not yet read from a PDF:

- law 1: the receipt for a payment of a **reverse-charge invoice** states no Swedish VAT
  (a payment confirmation; the invoice carries the reverse charge);
- law 4: the receipt of a **part payment** is a payment confirmation without a VAT
  breakdown, with what this payment paid of the invoice (no empty cells);
- content: an issued invoice's PDF carries no live status ("Att betala", "Förfallen",
  "Betald"); the page shows it.

(Law 2, frozen receipts, and law 3, pay-as-you-go reverse charge: test_i30_receipts_and_vat.py.)"""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.billing import payments
from portal.billing.accounts import details as billing_details
from portal.billing.accounts.details import DetailsInput
from portal.billing.cycle.invoices import generate_invoice
from portal.billing.payments import UseSavedCard
from portal.models import BillingProfile, Invoice, PaymentMethod
from tests.pdfua import elements, open_pdf, problems
from tests.web.conftest import sign_in_as
from tests.web.test_i30_receipts_and_vat import LANGS, flat, shown, user
from tests.web.test_i35_source_problems import pay_in_two_parts

# A payment confirmation, never a VAT document: none of these on it, in either language.
VAT_WORDS = {"sv": ["Moms 25 %", "Moms 0 %", "Underlag för moms", "inkl. moms", "Beskattningsunderlag", "Kvitto"],
             "en": ["VAT 25 %", "VAT 0 %", "Taxable amount", "incl. VAT", "Receipt"]}
CONFIRMS = {"sv": ["Betalningsbekräftelse", "inget momsunderlag", "Momsen anges på faktura"],
            "en": ["Payment confirmation", "not a VAT document", "The VAT is stated on invoice"]}


def receipt(browser, account_id: int, payment_id: int, lang: str) -> bytes:
    response = browser.get(f"/{lang}/accounts/{account_id}/payments/{payment_id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return response.data


def test_i30_law1_a_reverse_charge_invoices_payment_confirmation_states_no_swedish_vat(app, browser, demo, b):
    olivia = user(b, "olivia@example.com")
    billing_details.change_billing_details(b, olivia, demo.agreement, demo.profile, DetailsInput(
        company_name="Fjällström Logistik GmbH", vat_number="DE136695976", street="Friedrichstraße 68",
        postcode="10117", city="Berlin", country="DE", invoice_language="en"))
    invoice = generate_invoice(b, b.session.get(BillingProfile, demo.profile), date(2026, 12, 1), date(2026, 12, 31))
    b.session.commit()
    card = b.session.scalars(select(PaymentMethod.id).where(PaymentMethod.account_id == demo.agreement,
                                                             PaymentMethod.kind == "card")).first()
    quote = payments.quote_invoices(b, olivia, demo.profile, [invoice.id])
    paid = payments.pay_invoices(b, olivia, demo.profile, [invoice.id], UseSavedCard(card), quote.total.minor,
                                 "i30-law1-0001")
    sign_in_as(browser, "olivia@example.com", "en")
    for lang in LANGS:
        data = receipt(browser, demo.agreement, paid.id, lang)
        text = flat(data)
        assert [w for w in CONFIRMS[lang] if w not in text] == [], text
        assert [w for w in VAT_WORDS[lang] if w in text] == [], text
        for party in ("Fjällström Logistik GmbH", "Friedrichstraße 68", "10117 Berlin", "DE136695976"):
            assert party in text, (lang, party, text)
        assert invoice.number in text and shown(app, lang, paid.amount) in text
        assert problems(data) == []


@pytest.mark.parametrize("lang", LANGS)
def test_i30_law4_a_part_payments_confirmation_has_no_vat_and_says_what_it_paid(app, browser, demo, b, lang):
    first, _ = pay_in_two_parts(b, demo)
    invoice = b.session.get(Invoice, demo.due)
    sign_in_as(browser, "olivia@example.com", lang)
    data = receipt(browser, demo.agreement, first.id, lang)
    text = flat(data)
    assert [w for w in CONFIRMS[lang] if w not in text] == [], text
    assert [w for w in VAT_WORDS[lang] if w in text] == [], text
    row = {"sv": "Faktura", "en": "Invoice"}[lang]
    share, whole = shown(app, lang, first.amount), shown(app, lang, invoice.amount_due)
    assert f"{row} {invoice.number} {share}" in text, text  # the row is never empty
    assert share != whole and f"{row} {invoice.number} {whole}" not in text
    assert problems(data) == []


@pytest.mark.parametrize("lang, live", [("sv", ["Att betala", "Förfallen", "Betald"]),
                                        ("en", ["Due", "Past due", "Paid"])])
def test_i30_an_issued_invoices_pdf_carries_no_live_status(browser, demo, b, lang, live):
    """The PDF is the document as issued and filed for seven years: no status that goes
    out of date ("Amount due" / "Belopp att betala" is a figure's label, not a status)."""
    sign_in_as(browser, "olivia@example.com", lang)
    for invoice_id in (demo.due, demo.paid):
        page = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/{invoice_id}").get_data(as_text=True)
        text = flat(browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/{invoice_id}/pdf").data)
        status = {"sv": "Betald" if invoice_id == demo.paid else "Att betala",
                  "en": "Paid" if invoice_id == demo.paid else "Due"}[lang]
        assert status in page  # the page shows it …
        text = text.replace("Belopp att betala", "").replace("Amount due", "").replace("Due date", "")
        assert [w for w in live if w in text] == [], text  # … the PDF never does


def test_i30_the_statements_pdf_passes_the_pdfua_checks(browser, demo, b):
    """Deliver 6's "tagged PDF" read back like the invoice's and the receipt's: TH with
    /Scope, ids registered, label/value pairs as Lbl + LBody, one attachment at most —
    for a billing profile (sv) and a pay-as-you-go account (en)."""
    for lang, who, account, query in (
            ("sv", "ines@example.com", demo.agreement, f"first=2026-01-01&last=2026-11-25&profile={demo.profile}"),
            ("en", "anna@example.com", demo.payg, "first=2026-01-01&last=2026-11-25")):
        sign_in_as(browser, who, lang)
        pdf = browser.get(f"/{lang}/accounts/{account}/statement.pdf?{query}")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert problems(pdf.data) == [], lang
        with open_pdf(pdf.data) as opened:  # the checks had something to check
            assert elements(opened.Root.StructTreeRoot, "/Table") and elements(opened.Root.StructTreeRoot, "/TH")
