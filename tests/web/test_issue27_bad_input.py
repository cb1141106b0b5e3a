"""Issue 27's bad input: answered with a translated 4xx before anything is sent or
charged, never a 500 or a file that breaks off half-way."""
from __future__ import annotations

import pytest

from tests.web.conftest import sign_in_as
from tests.web.test_flows import pay_url
from tests.web.test_partial_pay_now import card_of_agreement, pay_form


@pytest.mark.parametrize("query", ["first=0001-01-01", "last=9999-12-31", "first=0001-01-01&last=9999-12-31",
                                   "first=1899-12-31", "last=9999-01-01"])
def test_i27_a_period_beyond_any_calendar_is_a_translated_error_not_a_500(browser, demo, query):
    sign_in_as(browser, "anna@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.payg}/payments?{query}")
    assert page.status_code == 422
    assert "Ange ett datum som 2026-11-30" in page.get_data(as_text=True)
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
