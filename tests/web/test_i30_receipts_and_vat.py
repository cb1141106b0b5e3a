"""Issue 30, Deliver 1, 2 (content) and 7: receipts legally right and frozen, read back
from the PDFs a customer downloads (pypdf text, and their tags checked with pikepdf), in
Swedish and English.

- A receipt shows the parties of the day it was paid (B17), also when it is made later
  (first download, `flask documents render-missing`).
- Pay-as-you-go, Swedish buyer: Swedish VAT inside the amount. Pay-as-you-go, a
  VAT-registered business in another EU country: charged the price without Swedish VAT
  (docs/vat.md), the receipt under reverse charge with the buyer's VAT number, the
  wording and its legal reference.
- A payment of invoices: a payment confirmation naming the invoiced buyer with address
  and ids, without VAT ("the VAT is on invoice N").
- The invoice: unit price excluding VAT on each line; under reverse charge net headings,
  a taxable-amount line and the legal reference; "Godkänd för F-skatt" in English too;
  no "−0,00 kr" without credits; a label never running into its value."""
from __future__ import annotations

import re
from datetime import date

import pytest
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from stdnum.eu import vat as eu_vat
from weasyprint import CSS, HTML

from portal import document_store
from portal.billing import payments
from portal.billing.accounts import details as billing_details
from portal.billing.accounts.details import DetailsInput, reverse_charge
from portal.billing.invoicing.documents import VAT_RATE_PERCENT, vat_included
from portal.billing.cycle.invoices import generate_invoice
from portal.billing.cycle.lifecycle import bill_subscription
from portal.billing.payments import UseSavedCard
from portal.document_files import STYLESHEET
from portal.document_store import DocumentKey, RECEIPT_PDF
from portal.i18n import money
from portal.models import (BillingDetails, BillingProfile, Charge, Invoice, Payment, Subscription,
                           User)
from portal.money import Money
from tests.pdfua import problems
from tests.web.conftest import sign_in_as
from tests.web.test_invoice_documents import text_of

LANGS = ("sv", "en")


def flat(pdf: bytes) -> str:
    """The PDF's text with every run of white space one plain space."""
    return re.sub(r"\s+", " ", text_of(pdf)).replace("/ ", "/")  # a line broken after a slash


def shown(app, lang: str, amount: Money) -> str:
    with app.test_request_context(f"/{lang}/"), force_locale(lang):
        return re.sub(r"\s", " ", money(amount))


def user(b, email: str) -> User:
    return b.session.scalars(select(User).where(User.email == email)).one()


def receipt_pdf(browser, account_id: int, payment_id: int, lang: str) -> str:
    """Its text (pypdf), once its tags pass the PDF/UA checks (pikepdf, tests/pdfua.py)."""
    response = browser.get(f"/{lang}/accounts/{account_id}/payments/{payment_id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert problems(response.data) == []
    return flat(response.data)


def settle(b, demo, key: str) -> Payment:
    anna = user(b, "anna@example.com")
    quote = payments.quote_settlement(b, anna, demo.production, demo.spare_card)
    return payments.settle_balance(b, anna, demo.production, UseSavedCard(demo.spare_card), quote.total.minor, key)


NEW_DETAILS = DetailsInput(company_name="Nordlund & Söner Handelsbolag", org_number="556036-0793",
                           street="Nygatan 99", postcode="972 31", city="Luleå", country="SE",
                           reference="Ny Person", invoice_language="sv")


# --- Deliver 1: frozen at payment ------------------------------------------------------------

def test_i30_a_receipt_made_after_the_billing_details_changed_shows_the_buyer_of_the_day_it_was_paid(
        app, browser, demo, b):
    """Paid, then the billing details change, then the receipt is made (first
    download): it names the buyer, address and ids as they were at payment."""
    payment = settle(b, demo, "i30-frozen-01")
    billing_details.change_billing_details(b, user(b, "anna@example.com"), demo.payg, None, NEW_DETAILS)
    b.session.commit()
    sign_in_as(browser, "anna@example.com", "sv")
    for lang in LANGS:
        text = receipt_pdf(browser, demo.payg, payment.id, lang)
        for old in ("Nordlund Konsult AB", "Storgatan 3", "903 26 Umeå", "559123-4561"):
            assert old in text, (lang, text)
        for new in ("Nordlund & Söner", "Nygatan 99", "Luleå", "556036-0793"):
            assert new not in text, (lang, text)


def test_i30_render_missing_makes_the_receipt_with_the_parties_kept_at_payment(app, runner, demo, b):
    payment = settle(b, demo, "i30-frozen-02")
    billing_details.change_billing_details(b, user(b, "anna@example.com"), demo.payg, None, NEW_DETAILS)
    b.session.commit()
    result = runner.invoke(args=["documents", "render-missing"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        for lang in LANGS:
            kept = document_store.store().get(DocumentKey(RECEIPT_PDF, payment_id=payment.id, language=lang))
            text = flat(kept.content)
            assert "Nordlund Konsult AB" in text and "Storgatan 3" in text and "Nygatan 99" not in text


def test_i30_a_payment_keeps_its_parties_when_recorded(demo, b):
    payment = settle(b, demo, "i30-frozen-03")
    kept = b.session.get(Payment, payment.id).parties
    assert kept["buyer"]["name"] == "Nordlund Konsult AB" and kept["buyer"]["street"] == "Storgatan 3"
    assert kept["buyer"]["reverse_charge"] is False
    assert kept["seller"]["name"] == "Contoso Cloud AB"


# --- Deliver 1: VAT right for every buyer ----------------------------------------------------

@pytest.mark.parametrize("lang, words, absent", [
    ("sv", ["Kvitto", "Underlag för moms 25 %", "Moms 25 %", "Belopp inkl. moms", "Belopp exkl. moms"],
     ["Omvänd betalningsskyldighet"]),
    ("en", ["Receipt", "Taxable amount at 25 % VAT", "VAT 25 %", "Amount incl. VAT", "Amount excl. VAT"],
     ["Reverse charge"]),
])
def test_i30_a_swedish_buyer_paying_as_you_go_gets_swedish_vat_and_each_lines_amount_without_it(app, browser, demo, b, lang,
                                                                                   words, absent):
    payment = settle(b, demo, f"i30-se-{lang}")
    sign_in_as(browser, "anna@example.com", lang)
    text = receipt_pdf(browser, demo.payg, payment.id, lang)
    assert [w for w in words if w not in text] == [], text
    assert [w for w in absent if w in text] == [], text
    testing = b.session.get(Subscription, demo.testing)  # one month owed: 389,00 kr, 311,20 kr without VAT
    month = Money(testing.monthly_fee_minor, "SEK")
    assert f"{shown(app, lang, vat_included(month).taxable)} {shown(app, lang, month)}" in text, text
    assert shown(app, lang, vat_included(payment.amount).vat) in text


def eu_payment(b, demo) -> Payment:
    return b.session.scalars(select(Payment).where(Payment.account_id == demo.eu).order_by(Payment.id)).first()


@pytest.mark.parametrize("lang, words, absent", [
    ("sv", ["Kvitto", "Brandt Software GmbH", "Friedrichstraße 68", "10117 Berlin", "Tyskland", "DE136695976",
            "Omvänd betalningsskyldighet", "ML 16 kap. 17 §", "artikel 196 i direktiv 2006/112/EG",
            "Beskattningsunderlag (omvänd betalningsskyldighet)", "Moms 0 %", "Belopp exkl. moms",
            "Godkänd för F-skatt"],
     ["Moms 25 %", "inkl. moms"]),
    ("en", ["Receipt", "Brandt Software GmbH", "DE136695976", "Reverse charge", "ML 16 kap. 17 §",
            "Article 196 of Directive 2006/112/EC", "Taxable amount (reverse charge)", "VAT 0 %", "Amount excl. VAT",
            "Godkänd för F-skatt"],
     ["VAT 25 %", "incl. VAT"]),
])
def test_i30_an_eu_business_paying_as_you_go_gets_a_reverse_charge_receipt(app, browser, demo, b, lang, words,
                                                                           absent):
    """Deliver 7's demo customer: its automatic charges' receipts, without Swedish VAT."""
    payment = eu_payment(b, demo)
    sign_in_as(browser, "jonas@example.com", lang)
    text = receipt_pdf(browser, demo.eu, payment.id, lang)
    assert [w for w in words if w not in text] == [], text
    assert [w for w in absent if w in text] == [], text
    assert shown(app, lang, Money(0, "SEK")) in text  # the VAT: none
    assert shown(app, lang, payment.amount) in text


def test_i30_the_demo_has_a_vat_registered_eu_business_charged_without_swedish_vat(demo, b):
    details = b.session.scalars(select(BillingDetails).where(BillingDetails.account_id == demo.eu)).one()
    assert details.country != "SE" and eu_vat.is_valid(details.vat_number) and reverse_charge(details)
    hosting = b.session.scalars(select(Subscription).where(Subscription.account_id == demo.eu)).one()
    charged = {c.amount_minor for c in b.session.scalars(select(Charge).where(Charge.subscription_id == hosting.id))}
    assert charged == {vat_included(Money(hosting.monthly_fee_minor, "SEK")).taxable.minor} == {792_00}


def test_i30_paying_as_you_go_a_reverse_charge_buyer_is_charged_the_price_without_swedish_vat(demo, b):
    """docs/vat.md's pricing decision: the list price is VAT-inclusive; a VAT-registered
    business in another EU country pays it less the Swedish VAT inside it — on either
    account kind, so the same service costs every business the same net price. A
    Swedish buyer pays the list price."""
    next_month = (date(2026, 12, 1), date(2026, 12, 31))
    eu_sub = b.session.scalars(select(Subscription).where(Subscription.account_id == demo.eu)).one()
    eu_charge = bill_subscription(b, eu_sub, *next_month)
    se_sub = b.session.get(Subscription, demo.intranet)
    se_charge = bill_subscription(b, se_sub, *next_month)
    b.session.commit()
    assert se_charge.amount_minor == se_sub.monthly_fee_minor == 590_00
    # docs/vat.md: the price × 100 / 125, rounded half up to a whole öre.
    net = (eu_sub.monthly_fee_minor * 100 * 2 + (100 + VAT_RATE_PERCENT)) // (2 * (100 + VAT_RATE_PERCENT))
    assert eu_charge.amount_minor == net == 792_00
    receipt = b.session.get(Payment, eu_charge.payment_id)
    assert receipt.amount_minor == 792_00 and receipt.parties["buyer"]["reverse_charge"] is True


# --- Deliver 1: an invoice payment's receipt is a payment confirmation ----------------------

@pytest.mark.parametrize("lang, words, absent", [
    ("sv", ["Betalningsbekräftelse", "inget momsunderlag", "Momsen anges på faktura", "Fjällström Logistik AB",
            "Hamngatan 12", "411 14 Göteborg", "556036-0793", "SE556036079301", "Fjällström Logistik – Sverige",
            "Betalda fakturor", "Betalt belopp"],
     ["Moms 25 %", "Underlag för moms", "inkl. moms", "Kvitto"]),
    ("en", ["Payment confirmation", "not a VAT document", "The VAT is stated on invoice", "Fjällström Logistik AB",
            "Hamngatan 12", "411 14 Göteborg", "556036-0793", "SE556036079301", "Invoices paid", "Amount paid"],
     ["VAT 25 %", "Taxable amount", "incl. VAT"]),
])
def test_i30_an_invoice_payments_receipt_confirms_the_payment_names_the_invoiced_buyer_and_states_no_vat(
        app, browser, demo, b, lang, words, absent):
    paid = b.session.get(Invoice, demo.paid)
    sign_in_as(browser, "olivia@example.com", lang)
    text = receipt_pdf(browser, demo.agreement, paid.payment_id, lang)
    assert [w for w in words if w not in text] == [], text
    assert [w for w in absent if w in text] == [], text
    assert paid.number in text and shown(app, lang, paid.amount_due) in text


def test_i30_an_invoice_payments_receipt_keeps_the_buyer_the_invoice_was_made_out_to(app, browser, demo, b):
    """The profile's billing details change after the invoice was paid: the confirmation
    still names the buyer of the invoice."""
    olivia = user(b, "olivia@example.com")
    billing_details.change_billing_details(b, olivia, demo.agreement, demo.profile, NEW_DETAILS)
    b.session.commit()
    paid = b.session.get(Invoice, demo.paid)
    sign_in_as(browser, "olivia@example.com", "sv")
    for lang in LANGS:
        text = receipt_pdf(browser, demo.agreement, paid.payment_id, lang)
        assert "Fjällström Logistik AB" in text and "Hamngatan 12" in text and "Nygatan 99" not in text


# --- Deliver 2: the invoice's content ------------------------------------------------------

def invoice_text(browser, demo, invoice_id: int, lang: str) -> str:
    response = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/{invoice_id}/pdf")
    assert response.status_code == 200 and problems(response.data) == []
    return flat(response.data)


def test_i30_invoice_lines_show_the_unit_price_excluding_vat(app, browser, demo, b):
    invoice = b.session.get(Invoice, demo.due)
    sign_in_as(browser, "olivia@example.com", "sv")
    for lang, heading in (("sv", "À-pris exkl. moms"), ("en", "Unit price excl. VAT")):
        text = invoice_text(browser, demo, invoice.id, lang)
        assert heading in text
        for line in invoice.lines:  # each line's net, e.g. Lagersystem 4 500,00 kr → 3 600,00 kr
            net = vat_included(Money(line.amount_minor, "SEK")).taxable
            assert f"{line.description} {shown(app, lang, net)}" in text, text


def test_i30_english_pdf_keeps_godkand_for_f_skatt(browser, demo):
    sign_in_as(browser, "olivia@example.com", "en")
    assert "Godkänd för F-skatt" in invoice_text(browser, demo, demo.due, "en")


def test_i30_an_invoice_without_credits_shows_no_credits_line(app, browser, demo, b):
    invoices = b.session.scalars(select(Invoice).where(Invoice.billing_profile_id == demo.profile)).all()
    without = next(i for i in invoices if i.credits_applied_minor == 0)
    with_credits = next(i for i in invoices if i.credits_applied_minor > 0)
    sign_in_as(browser, "olivia@example.com", "sv")
    for lang, label in (("sv", "Tillämpade krediter"), ("en", "Credits applied")):
        text = invoice_text(browser, demo, without.id, lang)
        assert label not in text and "−0,00" not in text and "−0.00" not in text
        credited = invoice_text(browser, demo, with_credits.id, lang)
        assert label in credited and "−" + shown(app, lang, Money(with_credits.credits_applied_minor, "SEK")) in credited


@pytest.mark.parametrize("lang, words, absent", [
    ("sv", ["Omvänd betalningsskyldighet", "ML 16 kap. 17 §", "artikel 196 i direktiv 2006/112/EG",
            "Beskattningsunderlag (omvänd betalningsskyldighet)", "Moms 0 %", "Belopp exkl. moms", "DE136695976"],
     ["inkl. moms", "Moms 25 %"]),
    ("en", ["Reverse charge", "ML 16 kap. 17 §", "Article 196 of Directive 2006/112/EC",
            "Taxable amount (reverse charge)", "VAT 0 %", "Amount excl. VAT", "DE136695976"],
     ["incl. VAT", "VAT 25 %"]),
])
def test_i30_a_reverse_charge_invoice_heads_net_amounts_with_taxable_amount_and_legal_reference(
        app, browser, demo, b, lang, words, absent):
    olivia = user(b, "olivia@example.com")
    billing_details.change_billing_details(b, olivia, demo.agreement, demo.profile, DetailsInput(
        company_name="Fjällström Logistik GmbH", vat_number="DE136695976", street="Friedrichstraße 68",
        postcode="10117", city="Berlin", country="DE", invoice_language="en"))
    invoice = generate_invoice(b, b.session.get(BillingProfile, demo.profile), date(2026, 12, 1), date(2026, 12, 31))
    b.session.commit()
    sign_in_as(browser, "olivia@example.com", lang)
    text = invoice_text(browser, demo, invoice.id, lang)
    assert [w for w in words if w not in text] == [], text
    assert [w for w in absent if w in text] == [], text
    assert f"{shown(app, lang, invoice.amount_due)}" in text


def test_i30_a_long_label_never_runs_into_its_value(app, demo, b):
    """"Momsregistreringsnummer" is wider than the label column: in the laid-out PDF its
    value starts a visible gap after the label's end, or on a line below it — never
    inside it or touching it (it did: "MomsregistreringsnummerSE5560…" in the buyer's
    column)."""
    GAP = 96 / 25.4  # 1 mm in CSS pixels
    from portal.billing.invoicing.remittance import remittance_from_config
    from portal.billing.invoicing.documents import invoice_document
    invoice = b.session.get(Invoice, demo.due)
    with app.test_request_context("/sv/"), force_locale("sv"):
        doc = invoice_document(invoice, app.extensions["seller"], remittance_from_config(app.config))
        html = render_template("documents/invoice.html", doc=doc, lang="sv", title="Faktura")
    page = HTML(string=html).render(stylesheets=[CSS(filename=str(STYLESHEET))]).pages[0]
    boxes = {}

    def walk(box):
        text = getattr(box, "text", None)
        if text:
            boxes.setdefault(text.strip(), []).append(box)
        for child in getattr(box, "children", []):
            walk(child)
    walk(page._page_box)
    labels, values = boxes["Momsregistreringsnummer"], boxes["SE556036079301"] + boxes["SE556677889901"]
    assert len(labels) == 2 and len(values) == 2
    by_column = lambda box: box.position_x  # noqa: E731 — the seller's column, then the buyer's
    for label, value in zip(sorted(labels, key=by_column), sorted(values, key=by_column)):
        beside = value.position_x >= label.position_x + label.width + GAP
        below = value.position_y >= label.position_y + label.height
        assert beside or below, (label.position_x, label.width, value.position_x)


def test_i30_the_pdfs_unit_prices_are_the_e_invoices_line_net_amounts(app, demo, b):
    """The PDF's unit price excl. VAT and the e-invoice's line net amount (BT-146,
    BT-131) are one figure, the öre of rounding included — also under reverse charge."""
    from portal.billing.invoicing.documents import invoice_document
    from portal.billing.invoicing.einvoice import decimal, en16931_terms
    from portal.billing.invoicing.remittance import remittance_from_config
    olivia = user(b, "olivia@example.com")
    billing_details.change_billing_details(b, olivia, demo.agreement, demo.profile, DetailsInput(
        company_name="Fjällström Logistik GmbH", vat_number="DE136695976", street="Friedrichstraße 68",
        postcode="10117", city="Berlin", country="DE", invoice_language="en"))
    generate_invoice(b, b.session.get(BillingProfile, demo.profile), date(2026, 12, 1), date(2026, 12, 31))
    b.session.commit()
    invoices = b.session.scalars(select(Invoice).where(Invoice.billing_profile_id == demo.profile)).all()
    assert any(i.credits_applied_minor for i in invoices) and any(not i.credits_applied_minor for i in invoices)
    with app.test_request_context("/sv/"):
        for invoice in invoices:
            doc = invoice_document(invoice, app.extensions["seller"], remittance_from_config(app.config))
            terms = en16931_terms(doc)
            assert [decimal(line.net.minor) for line in doc.lines] == [line["BT-146"] for line in terms["BG-25"]]
            assert sum(line.net.minor for line in doc.lines) == int(terms["BT-106"].replace(".", ""))


def test_i30_parties_kept_before_a_seller_setting_existed_still_make_a_document(app):
    """A payment or invoice kept its seller before a SELLER_* setting was added (or
    with one since removed): its document still renders, the kept values first."""
    import dataclasses
    from portal.billing.invoicing.documents import Buyer, frozen_parties, kept_parties
    today = app.extensions["seller"]
    kept = frozen_parties(dataclasses.replace(today, name="Contoso Cloud AB (then)"), Buyer(name="Köpare AB",
                                                                                             profile=""))
    del kept["seller"]["email"]
    kept["seller"]["retired_setting"] = "x"
    kept["buyer"]["retired_field"] = "y"
    seller, buyer = kept_parties(kept, today, Buyer(name="Today AB", profile=""))
    assert (seller.name, seller.email, buyer.name) == ("Contoso Cloud AB (then)", today.email, "Köpare AB")
