"""B23: Autogiro on Payment methods — the owner gives a mandate (refused on its field
when the bank's rules say no), sees it pending, and cancels it; without JavaScript
(plain forms, POST then redirect), in both languages."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.models import AutogiroMandate, BillingProfile, MandateStatus, Subscription
from tests.web.conftest import hidden, sign_in_as

WORDS = {"sv": ("Betala fakturor via Autogiro", "Väntar på banken", "Ange ett clearingnummer", "Avslutat"),
         "en": ("Pay invoices by Autogiro", "Pending: waiting for the bank", "Enter a clearing number", "Cancelled")}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i34_the_owner_gives_a_mandate_sees_it_pending_and_cancels_it(browser, demo, b, lang):
    heading, pending, refused, cancelled = WORDS[lang]
    sign_in_as(browser, "olivia@example.com", lang)
    url = f"/{lang}/accounts/{demo.agreement}/payment-methods"
    assert heading in browser.get(url).get_data(as_text=True)
    give = f"/{lang}/accounts/{demo.agreement}/profiles/{demo.profile}/autogiro"
    p = f"ag{demo.profile}-"
    empty = browser.post(give, {}, token_from=url)
    assert empty.status_code == 422 and 'class="error-summary"' in empty.get_data(as_text=True)
    wrong = browser.post(give, {p + "clearing": "0999", p + "account_number": "1234567",
                                p + "payer_id": "556036-0793", p + "accept": "y"}, token_from=url)
    assert wrong.status_code == 422 and refused in wrong.get_data(as_text=True)
    assert b.session.scalars(select(AutogiroMandate).where(AutogiroMandate.account_id == demo.agreement)).first() is None
    given = browser.post(give, {p + "clearing": "9029", p + "account_number": "573 521-1",
                                p + "payer_id": "556036-0793", p + "accept": "y"}, token_from=url)
    assert given.status_code == 303
    page = browser.get(url).get_data(as_text=True)
    assert pending in page and "Länsförsäkringar Bank" in page
    b.session.rollback()
    mandate = b.session.scalars(select(AutogiroMandate).where(AutogiroMandate.account_id == demo.agreement)).one()
    assert mandate.status == MandateStatus.PENDING and mandate.payer_id == "165560360793"
    assert b.session.get(BillingProfile, demo.profile).default_payment_method_id == mandate.payment_method_id
    cancel = f"/{lang}/accounts/{demo.agreement}/autogiro/{mandate.payment_method_id}/cancel"
    assert browser.post(cancel, {}, token_from=url).status_code == 303
    b.session.rollback()
    assert b.session.get(AutogiroMandate, mandate.id).status == MandateStatus.CANCELLED
    assert b.session.get(BillingProfile, demo.profile).default_payment_method_id is None


PAYG_WORDS = {"sv": ("Betala prenumerationer via Autogiro", "Väntar på banken", "Ange ett clearingnummer",
                     "Inga fler avgifter debiteras från kontot"),
              "en": ("Pay subscriptions by Autogiro", "Pending: waiting for the bank", "Enter a clearing number",
                     "No more charges are drawn from the account")}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b23_a_pay_as_you_go_administrator_gives_a_mandate_and_moves_subscriptions_to_it_once_active(
        browser, demo, b, lang):
    """Issue 34 Deliver 1: the account's mandate (no billing profile), pending until the
    bank approves it; then Move subscriptions offers it, and the subscription's method is
    the mandate — without JavaScript."""
    heading, pending, refused, cancelled = PAYG_WORDS[lang]
    sign_in_as(browser, "anna@example.com", lang)
    url = f"/{lang}/accounts/{demo.payg}/payment-methods"
    assert heading in browser.get(url).get_data(as_text=True)
    give = f"/{lang}/accounts/{demo.payg}/autogiro"
    empty = browser.post(give, {}, token_from=url)
    assert empty.status_code == 422 and 'class="error-summary"' in empty.get_data(as_text=True)
    wrong = browser.post(give, {"ag-clearing": "0999", "ag-account_number": "1234567", "ag-payer_id": "556036-0793",
                                "ag-accept": "y"}, token_from=url)
    assert wrong.status_code == 422 and refused in wrong.get_data(as_text=True)
    given = browser.post(give, {"ag-clearing": "9029", "ag-account_number": "573 521-1",
                                "ag-payer_id": "556036-0793", "ag-accept": "y"}, token_from=url)
    assert given.status_code == 303
    page = browser.get(url).get_data(as_text=True)
    b.session.rollback()
    mandate = b.session.scalars(select(AutogiroMandate).where(AutogiroMandate.account_id == demo.payg)).one()
    assert pending in page and f'<option value="{mandate.payment_method_id}"' not in page   # not movable yet
    mandate.status = MandateStatus.ACTIVE   # Bankgirot approved it (the import: tests/billing/test_b23_autogiro_payg.py)
    b.session.commit()
    page = browser.get(url).get_data(as_text=True)
    assert f'<option value="{mandate.payment_method_id}"' in page
    move = f"/{lang}/accounts/{demo.payg}/payment-methods/move"
    preview = browser.get(f"{move}?subscriptions={demo.backup}&to={mandate.payment_method_id}")
    assert preview.status_code == 200 and "5211" in preview.get_data(as_text=True)
    assert ("Flytta prenumerationer till Autogiro" if lang == "sv" else "Move subscriptions to Autogiro") in \
        preview.get_data(as_text=True)
    html = preview.get_data(as_text=True)
    moved = browser.post(move, {"subscriptions": str(demo.backup), "to": str(mandate.payment_method_id),
                                "expected_outstanding": hidden(html, "expected_outstanding")},
                         token_from=f"{move}?subscriptions={demo.backup}&to={mandate.payment_method_id}")
    assert moved.status_code == 303
    b.session.rollback()
    assert b.session.get(Subscription, demo.backup).payment_method_id == mandate.payment_method_id
    cancel = f"/{lang}/accounts/{demo.payg}/autogiro/{mandate.payment_method_id}/cancel"
    assert browser.post(cancel, {}, token_from=url).status_code == 303
    assert cancelled in browser.get(url).get_data(as_text=True)


def test_b23_a_customer_agreement_gives_its_mandates_per_billing_profile_not_per_account(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "en")
    url = f"/en/accounts/{demo.agreement}/payment-methods"
    assert "Pay subscriptions by Autogiro" not in browser.get(url).get_data(as_text=True)
    refused = browser.post(f"/en/accounts/{demo.agreement}/autogiro", {"ag-clearing": "9029",
                           "ag-account_number": "573 521-1", "ag-payer_id": "556036-0793", "ag-accept": "y"},
                           token_from=url)
    assert refused.status_code == 404
