"""B7: billing details — the customer's to keep: validated with errors tied to their
fields in both languages, changed only by those who may (B2), audited and confirmed by
email, carried by invoices issued afterwards (and reverse charge for an EU business
abroad) while issued invoices never change."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from portal.billing.accounts import details
from portal.billing.cycle import invoices
from portal.billing.transaction import write_transaction
from portal.models import AuditEvent, BillingDetails, BillingProfile, Invoice, OutboxMessage, User
from tests.web.conftest import sign_in_as

GOOD = {"company_name": "Fjällström Logistik AB", "country": "SE", "org_number": "5566778899",
        "vat_number": "SE 5566 7788 9901", "street": "Hamngatan 1", "postcode": "411 14", "city": "Göteborg",
        "reference": "PO-4711", "recipients": "ap@fjallstrom.example\nekonomi@fjallstrom.example",
        "invoice_language": "sv"}


def page_url(demo, lang="sv"):
    return f"/{lang}/accounts/{demo.agreement}/profiles/{demo.profile}/billing-details"


def errors_of(html: str) -> dict[str, str]:
    """field id → its error text (the <p class="field-error" id="…-error">)."""
    return {m.group(1): re.sub(r'<span class="visually-hidden">.*?</span>|<[^>]+>', "", m.group(2)).strip()
            for m in re.finditer(r'<p class="field-error" id="([a-z_]+)-error">(.*?)</p>', html, re.S)}


def test_b7_the_owner_saves_details_audited_and_confirmed_by_email(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "sv")
    assert browser.get(f"/sv/accounts/{demo.agreement}/billing-details").location.endswith(page_url(demo))
    response = browser.post(page_url(demo), GOOD, token_from=page_url(demo))
    assert response.status_code == 303
    assert "Faktureringsuppgifterna har sparats" in browser.get(response.location).get_data(as_text=True)
    b.session.rollback()
    saved = b.session.scalars(select(BillingDetails).where(BillingDetails.billing_profile_id == demo.profile)).one()
    assert (saved.org_number, saved.vat_number) == ("556677-8899", "SE556677889901")
    assert saved.recipients == ["ap@fjallstrom.example", "ekonomi@fjallstrom.example"]
    [event] = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "billing_details.changed"))
    assert event.billing_profile_id == demo.profile and "org_number" in event.details["changed"]
    [email] = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "billing_details_changed"))
    assert email.to_address == "olivia@example.com"
    # The same details again change nothing and tell no one.
    browser.post(page_url(demo), GOOD, token_from=page_url(demo))
    b.session.rollback()
    assert len(b.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "billing_details_changed")).all()) == 1


@pytest.mark.parametrize("lang, expected", [
    ("sv", {"company_name": "Ange företagsnamnet",
            # ux-F17: 556677-8898 has ten digits; only its check digit is wrong, and the message says so
            "org_number": "Organisationsnumrets sista siffra stämmer inte med de andra. Kontrollera att numret är "
                          "rätt skrivet.",
            "vat_number": "Momsregistreringsnumret måste vara från samma land som adressen",
            "city": "Ange ort", "recipients": "Ange varje e-postadress i rätt format, till exempel namn@example.com, en per rad"}),
    ("en", {"company_name": "Enter the company name",
            "org_number": "The organisation number's last digit does not match the others. Check the number for "
                          "a typo.",
            "vat_number": "The VAT registration number must be from the country of the address",
            "city": "Enter the city", "recipients": "Enter each email address in the correct format, like name@example.com, one per line"}),
])
def test_b7_each_wrong_value_gets_its_translated_error_on_its_field(browser, demo, b, lang, expected):
    sign_in_as(browser, "olivia@example.com", lang)
    bad = GOOD | {"company_name": " ", "org_number": "556677-8898", "vat_number": "DE136695976", "city": "",
                  "recipients": "ap@fjallstrom.example\nnot an address"}
    response = browser.post(page_url(demo, lang), bad, token_from=page_url(demo, lang))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert errors_of(html) == expected
    assert 'aria-invalid="true"' in html and "aria-describedby=\"None\"" not in html
    b.session.rollback()
    kept = b.session.scalars(select(BillingDetails).where(BillingDetails.billing_profile_id == demo.profile)).one()
    assert (kept.company_name, kept.org_number, kept.city) == ("Fjällström Logistik AB", "556036-0793", "Göteborg")


def test_b7_b2_others_see_the_details_and_why_they_cannot_change_them(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "en")
    browser.post(page_url(demo, "en"), GOOD, token_from=page_url(demo, "en"))
    sign_in_as(browser, "rasmus@example.com", "en")  # a reader
    html = browser.get(page_url(demo, "en")).get_data(as_text=True)
    assert "Only an owner of the billing profile can do this." in html and "Hamngatan 1" in html
    assert '<form method="post"' not in html
    forced = browser.post(page_url(demo, "en"), GOOD | {"company_name": "Hijack AB"}, token_from=page_url(demo, "en"))
    assert forced.status_code == 403
    b.session.rollback()
    assert b.session.scalars(select(BillingDetails.street).where(
        BillingDetails.billing_profile_id == demo.profile)).one() == "Hamngatan 1"


def test_b7_pay_as_you_go_details_belong_to_the_account(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")  # the account administrator
    url = f"/en/accounts/{demo.payg}/billing-details"
    assert browser.post(url, GOOD | {"company_name": "Nordlund Konsult AB"}, token_from=url).status_code == 303
    b.session.rollback()
    saved = b.session.scalars(select(BillingDetails).where(BillingDetails.account_id == demo.payg)).one()
    assert (saved.company_name, saved.billing_profile_id) == ("Nordlund Konsult AB", None)
    sign_in_as(browser, "erik@example.com", "en")  # another user of the account
    assert "Only the account administrator can do this." in browser.get(url).get_data(as_text=True)


def test_b7_b6_the_next_invoice_carries_the_details_and_issued_ones_never_change(browser, demo, b):
    olivia = b.session.scalars(select(User).where(User.email == "olivia@example.com")).one()
    details.change_billing_details(b, olivia, demo.agreement, demo.profile, details.DetailsInput(
        **{k: v for k, v in GOOD.items() if k != "recipients"}, recipients=GOOD["recipients"].split()))
    with write_transaction(b.session):
        issued = invoices.generate_invoice(b, b.session.get(BillingProfile, demo.profile),
                                           date(2026, 11, 1), date(2026, 11, 30))
    details.change_billing_details(b, olivia, demo.agreement, demo.profile, details.DetailsInput(
        company_name="Renamed AB", org_number="556677-8899", street="Ny väg 2", postcode="222 33", city="Lund"))
    sign_in_as(browser, "olivia@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.agreement}/invoices/{issued.id}").get_data(as_text=True)
    for shown in ("Fjällström Logistik AB", "556677-8899", "SE556677889901", "Hamngatan 1", "411 14 Göteborg",
                  "PO-4711"):
        assert shown in page
    assert "Renamed AB" not in page and "Ny väg 2" not in page


def test_b7_b6_an_eu_business_abroad_gets_a_reverse_charge_invoice(browser, demo, b):
    olivia = b.session.scalars(select(User).where(User.email == "olivia@example.com")).one()
    details.change_billing_details(b, olivia, demo.agreement, demo.profile, details.DetailsInput(
        company_name="Fjällström Logistik GmbH", country="DE", vat_number="DE136695976", street="Hafenstraße 1",
        postcode="20457", city="Hamburg", invoice_language="en"))
    with write_transaction(b.session):
        issued = invoices.generate_invoice(b, b.session.get(BillingProfile, demo.profile),
                                           date(2026, 11, 1), date(2026, 11, 30))
    gross = sum(s.monthly_fee_minor for s in b.session.get(BillingProfile, demo.profile).account.subscriptions
                if s.billing_profile_id == demo.profile and s.status in invoices.BILLABLE)
    assert issued.subtotal_minor == gross - round(gross / 5)  # the Swedish VAT inside the price is not charged
    sign_in_as(browser, "olivia@example.com", "en")
    page = browser.get(f"/en/accounts/{demo.agreement}/invoices/{issued.id}").get_data(as_text=True)
    assert "Reverse charge" in page and "VAT 0 %" in page and "DE136695976" in page and "Germany" in page
    assert "Taxable amount at 25" not in page
    ubl = browser.get(f"/en/accounts/{demo.agreement}/invoices/{issued.id}/ubl").get_data(as_text=True)
    assert "<cbc:ID>AE</cbc:ID>" in ubl and "VATEX-EU-AE" in ubl and "DE136695976" in ubl
    assert f"<cbc:PayableAmount currencyID=\"SEK\">{issued.amount_due.minor // 100}." in ubl
    assert b.session.get(Invoice, issued.id).parties["buyer"]["reverse_charge"] is True


def test_b7_the_invoice_goes_to_its_recipients_in_the_invoice_language(b, demo):
    olivia = b.session.scalars(select(User).where(User.email == "olivia@example.com")).one()
    details.change_billing_details(b, olivia, demo.agreement, demo.profile, details.DetailsInput(
        **{k: v for k, v in GOOD.items() if k not in ("recipients", "invoice_language")},
        recipients=["ap@fjallstrom.example", "olivia@example.com"], invoice_language="en"))
    with write_transaction(b.session):
        issued = invoices.generate_invoice(b, b.session.get(BillingProfile, demo.profile),
                                           date(2026, 11, 1), date(2026, 11, 30))
    ready = {m.to_address: m.locale for m in b.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "invoice_ready")) if m.payload["invoice_id"] == issued.id}
    assert ready == {"olivia@example.com": "sv", "ap@fjallstrom.example": "en"}  # once each
