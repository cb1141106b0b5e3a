"""Issue 27's bad input: answered with a translated 4xx before anything is sent or
charged, never a 500 or a file that breaks off half-way."""
from __future__ import annotations

import pytest

from portal.models import Subscription
from portal.money import MAX_MINOR
from tests.web.conftest import csrf_from, sign_in_as
from tests.web.test_flows import pay_form as settle_form, pay_url, settle_url
from tests.web.test_partial_pay_now import card_of_agreement, pay_form, text


@pytest.mark.parametrize("query", ["first=0001-01-01", "last=9999-12-31", "first=0001-01-01&last=9999-12-31",
                                   "first=1899-12-31", "last=9999-01-01"])
def test_i27_a_period_beyond_any_calendar_is_a_translated_error_not_a_500(browser, demo, query):
    sign_in_as(browser, "anna@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.payg}/payments?{query}")
    assert page.status_code == 422
    assert "Ange datumet i formen ÅÅÅÅ-MM-DD, till exempel 2026-11-30" in page.get_data(as_text=True)
    for export in ("payments.csv",):  # the file is refused before its first byte
        response = browser.get(f"/sv/accounts/{demo.payg}/{export}?{query}")
        assert response.status_code == 404 and response.mimetype == "text/html"
    edges = browser.get(f"/sv/accounts/{demo.payg}/payments.csv?first=1900-01-01&last=9998-12-31")
    assert edges.status_code == 200 and edges.mimetype == "text/csv"  # the widest period there is
    assert edges.get_data(as_text=True).count("\n") >= 2  # the header and the demo's payments, whole


def test_i27_the_agreements_invoice_export_refuses_the_same_periods(browser, demo):
    sign_in_as(browser, "olivia@example.com", "en")
    response = browser.get(f"/en/accounts/{demo.agreement}/invoices.csv?last=9999-12-31")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_i27_pay_now_with_a_part_of_only_spaces_charges_nothing_and_is_no_500(browser, demo, b):
    sign_in_as(browser, "david@example.com", "sv")
    card = card_of_agreement(b, demo)
    html = browser.get(pay_url(demo, "sv") + f"?method={card}&part=9+000%2C50").get_data(as_text=True)
    data = pay_form(html) | {"part": " "}  # the part's amount edited away
    response = browser.post(pay_url(demo, "sv"), data)
    # Spaces are no amount, and never "all of it": the form is refused, nothing charged.
    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    assert b.gateway.count_approved() == 0


# Issue 27 item 4: an amount above money.MAX_MINOR in a form is the form's own error (422),
# nothing charged; the longest is checked by its length before int() would read it.
ABSURD = {"MAX_MINOR + 1": str(MAX_MINOR + 1), "5000 digits": "9" * 5000}


@pytest.mark.parametrize("field", ["expected_total", "part"])
@pytest.mark.parametrize("amount", ABSURD.values(), ids=ABSURD.keys())
def test_i27_pay_now_with_an_absurd_amount_is_the_forms_error_not_a_500(browser, demo, b, field, amount):
    sign_in_as(browser, "david@example.com", "sv")
    card = card_of_agreement(b, demo)
    html = browser.get(pay_url(demo, "sv") + f"?method={card}&part=9+000%2C50").get_data(as_text=True)
    response = browser.post(pay_url(demo, "sv"), pay_form(html) | {field: amount})
    assert response.status_code == 422
    assert "Det finns ett problem Felaktig indata." in text(response.get_data(as_text=True))
    assert b.gateway.count_approved() == 0


def test_i27_the_largest_amount_passes_the_form_and_is_only_a_changed_total(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    html = browser.get(settle_url(demo) + f"?method={demo.spare_card}").get_data(as_text=True)
    response = browser.post(settle_url(demo), settle_form(html) | {"expected_total": str(MAX_MINOR)})
    assert response.status_code == 409 and "amount to pay has changed" in response.get_data(as_text=True)
    for amount in ABSURD.values():
        response = browser.post(settle_url(demo), settle_form(html) | {"expected_total": amount})
        assert response.status_code == 422 and "Invalid input." in response.get_data(as_text=True)
    assert b.gateway.charges_for() == []


@pytest.mark.parametrize("typed, message", [
    ("10 000 000 000 000", "Ange ett belopp med siffror, till exempel 500,50 kr"),  # MAX_MINOR + 1 öre
    ("9 999 999 999 999,99", "Ange minst 100,00 kr och mindre än hela beloppet 15 780,00 kr"),  # MAX_MINOR
])
def test_i27_a_typed_part_above_the_largest_amount_is_no_amount(browser, demo, typed, message):
    sign_in_as(browser, "david@example.com", "sv")
    response = browser.get(pay_url(demo, "sv"), query_string={"part": typed})
    assert response.status_code == 422
    assert message in text(response.get_data(as_text=True))


def test_i27_moving_subscriptions_with_an_absurd_outstanding_amount_moves_nothing(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    url = f"/en/accounts/{demo.payg}/payment-methods"
    html = browser.get(f"{url}/move?subscriptions={demo.production}&to={demo.second_card}").get_data(as_text=True)
    for amount in ABSURD.values():
        response = browser.post(f"{url}/move", {"csrf_token": csrf_from(html), "expected_outstanding": amount,
                                                "subscriptions": [str(demo.production)], "to": str(demo.second_card)})
        assert response.status_code == 422
    b.session.rollback()
    assert b.session.get(Subscription, demo.production).payment_method_id == demo.failed_card
