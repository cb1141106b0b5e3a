"""B23 (issue 34, Deliver 4): the Autogiro mandate's status and the next draw on Overview,
each open invoice's draw date on the Invoices list, the invoice paid by Autogiro said so,
and the invoice document (page and PDF, one template part) saying it is drawn — for the
demo's Autogiro customer (Deliver 5), in both languages, without JavaScript. Overview
reads the mandates in one statement whatever the number of invoices (issue 28)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.billing.bank import autogiro
from portal.i18n import day
from portal.models import AutogiroMandate, BillingProfile, Invoice, InvoiceLine, InvoiceStatus, MandateStatus
from portal.web.querycount import HEADER
from tests.web.conftest import sign_in_as

WORDS = {"sv": {"mandate": "Medgivande till Autogiro:", "active": "Aktivt", "drawn": "Debiteras via Autogiro den ",
                "paid": " via Autogiro", "cancelled": "Avslutat", "choose": "Välj hur du vill betala",
                "document": "Betalas via Autogiro: beloppet att betala debiteras ditt konto som slutar på 7498 "
                            "hos Handelsbanken på förfallodagen (medgivande "},
         "en": {"mandate": "Autogiro mandate:", "active": "Active", "drawn": "Drawn by Autogiro on ",
                "paid": " by Autogiro", "cancelled": "Cancelled", "choose": "Choose how to pay",
                "document": "Paid by Autogiro: the amount due is drawn from your account ending in 7498 at "
                            "Handelsbanken on the due date (mandate "}}


def open_invoice(b, demo) -> Invoice:
    return b.session.scalars(select(Invoice).join(BillingProfile).where(
        BillingProfile.account_id == demo.autogiro, Invoice.status == InvoiceStatus.DUE)
        .order_by(Invoice.due_on)).first()


def shown_day(value, lang: str, style: str = "long") -> str:
    with force_locale(lang):
        return day(value, style)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b23_overview_says_the_mandate_is_active_and_when_autogiro_next_draws(app, browser, demo, b, lang):
    words = WORDS[lang]
    invoice = open_invoice(b, demo)
    draw_on = autogiro.banking_day_from(invoice.due_on)
    sign_in_as(browser, "sara@example.com", lang)
    with app.test_request_context(f"/{lang}/"):
        expected = words["drawn"] + shown_day(draw_on, lang)
    page = browser.get(f"/{lang}/accounts/{demo.autogiro}/").get_data(as_text=True)
    assert words["mandate"] in page and words["active"] in page and expected in page
    # The demo's other agreement gives no mandate: nothing of Autogiro on its Overview.
    sign_in_as(browser, "olivia@example.com", lang)
    assert words["mandate"] not in browser.get(f"/{lang}/accounts/{demo.agreement}/").get_data(as_text=True)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b23_the_invoices_list_and_the_invoice_say_when_autogiro_draws_and_that_it_paid(app, browser, demo, b,
                                                                                         lang):
    words = WORDS[lang]
    invoice = open_invoice(b, demo)
    paid = b.session.scalars(select(Invoice).join(BillingProfile).where(
        BillingProfile.account_id == demo.autogiro, Invoice.status == InvoiceStatus.PAID)).first()
    draw_on = autogiro.banking_day_from(invoice.due_on)
    sign_in_as(browser, "sara@example.com", lang)
    with app.test_request_context(f"/{lang}/"):
        listed, detailed = (words["drawn"] + shown_day(draw_on, lang, "medium"), words["drawn"] + shown_day(draw_on, lang))
        paid_words = shown_day(paid.paid_on, lang, "medium") + words["paid"]
    listing = browser.get(f"/{lang}/accounts/{demo.autogiro}/invoices").get_data(as_text=True)
    assert listed in listing and paid_words in listing
    detail = browser.get(f"/{lang}/accounts/{demo.autogiro}/invoices/{invoice.id}").get_data(as_text=True)
    mandate = b.session.scalars(select(AutogiroMandate).where(AutogiroMandate.account_id == demo.autogiro)).one()
    assert detailed in detail and words["document"] + mandate.payer_number + ")." in detail
    # Fjällström pays by transfer: its invoices say nothing of Autogiro.
    sign_in_as(browser, "olivia@example.com", lang)
    other = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/{demo.due}").get_data(as_text=True)
    assert words["drawn"] not in other and "Autogiro" not in other


def test_b23_a_mandate_that_ended_is_said_on_overview_with_where_to_choose_again(browser, demo, b):
    mandate = b.session.scalars(select(AutogiroMandate).where(AutogiroMandate.account_id == demo.autogiro)).one()
    autogiro.cancel_mandate(b, None, mandate.id)
    assert b.session.get(AutogiroMandate, mandate.id).status == MandateStatus.CANCELLED
    sign_in_as(browser, "sara@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.autogiro}/").get_data(as_text=True)
    words = WORDS["sv"]
    assert words["mandate"] in page and words["cancelled"] in page and words["choose"] in page
    assert words["drawn"] not in page   # nothing is drawn any more
    assert f"/sv/accounts/{demo.autogiro}/payment-methods" in page


def test_b23_overview_reads_the_mandates_in_as_many_statements_whatever_the_invoices(browser, demo, b):
    sign_in_as(browser, "sara@example.com", "sv")
    url = f"/sv/accounts/{demo.autogiro}/"
    before = browser.get(url)
    invoice = open_invoice(b, demo)
    for n in range(1, 6):   # five more open invoices, each with a line
        more = Invoice(billing_profile_id=invoice.billing_profile_id, number=f"{invoice.number}9{n}",
                       currency="SEK", period_start=date(2025, n, 1), period_end=date(2025, n, 28),
                       issued_on=invoice.issued_on, due_on=invoice.due_on + timedelta(days=n), status=InvoiceStatus.DUE,
                       subtotal_minor=100_00, credits_applied_minor=0)
        b.session.add(more)
        b.session.flush()
        b.session.add(InvoiceLine(invoice_id=more.id, description="Tillägg", amount_minor=100_00))
    b.session.commit()
    after = browser.get(url)
    assert WORDS["sv"]["drawn"] in after.get_data(as_text=True)
    assert int(before.headers[HEADER]) == int(after.headers[HEADER]) < 12
