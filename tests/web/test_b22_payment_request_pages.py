"""B22 as the customer sees it (issue 33 item 5): Olivia chooses two open invoices, gets
one OCR reference and the total on the request's page, sees them on Pay now and on the
statement; the demo's Bankgirot file pays the seed's request; what is refused is said."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from portal.billing.invoicing.remittance import request_reference
from portal.models import Invoice, PaymentRequest
from tests.web.test_invoice_documents import text_of
from tests.web.conftest import sign_in_as
from tests.web.test_transfers_pages import text


def test_b22_choosing_two_invoices_gives_one_ocr_on_its_page_pay_now_and_the_statement(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "sv")
    base = f"/sv/accounts/{demo.agreement}"
    assert f"{base}/profiles/{demo.profile}/one-transfer" in browser.get(f"{base}/invoices").get_data(as_text=True)
    form = browser.get(f"{base}/profiles/{demo.profile}/one-transfer").get_data(as_text=True)
    assert form.count('type="checkbox" name="invoices"') == 2 and form.count("checked") == 2  # both open, chosen
    made = browser.post(f"{base}/profiles/{demo.profile}/one-transfer",
                        {"invoices": [str(demo.due), str(demo.past_due)]})
    assert made.status_code == 303
    request_id = int(made.location.rstrip("/").rsplit("/", 1)[1])
    reference = request_reference(request_id)
    due, past_due = b.session.get(Invoice, demo.due), b.session.get(Invoice, demo.past_due)
    total = due.left.minor + past_due.left.minor
    page = text(browser.get(made.location).get_data(as_text=True))
    assert f"ange OCR-nummer {reference}" in page and "Bankgiro 5050-1055" in page
    assert past_due.number in page and due.number in page
    amount = f"{total // 100:,}".replace(",", " ") + f",{total % 100:02d} kr"
    assert amount in page
    pay_now = text(browser.get(f"{base}/profiles/{demo.profile}/pay").get_data(as_text=True))
    assert f"Betala {amount} med en banköverföring" not in pay_now  # worded as below
    assert f"En överföring på {amount}: ange OCR-nummer {reference}." in pay_now
    statement = text(browser.get(f"{base}/statement").get_data(as_text=True))
    assert f"OCR-nummer {reference}" in statement and amount in statement
    pdf = browser.get(f"{base}/statement.pdf?profile={demo.profile}")  # the PDF says it too
    assert pdf.status_code == 200 and f"OCR-nummer {reference}" in " ".join(text_of(pdf.data).split())
    # The seed's request is replaced, and says so.
    old = b.session.scalars(select(PaymentRequest.id).where(PaymentRequest.id != request_id)).one()
    assert "ersatt" in text(browser.get(f"{base}/one-transfer/{old}").get_data(as_text=True))


def test_b22_bad_invoice_choices_change_nothing(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "sv")
    url = f"/sv/accounts/{demo.agreement}/profiles/{demo.profile}/one-transfer"
    before = b.session.scalar(select(func.count()).select_from(PaymentRequest))
    for invoices, status in (([], 422), ([str(demo.due)], 422), (["x", str(demo.due)], 404),
                             (["9" * 30, str(demo.due)], 404), ([str(demo.paid), str(demo.due)], 409),
                             ([str(demo.due), str(2**63)], 404)):
        response = browser.post(url, {"invoices": invoices})
        assert response.status_code == status, (invoices, response.status_code)
        if status in (409, 422):
            assert re.search(r"Välj minst två fakturor|inte längre obetald", text(response.get_data(as_text=True)))
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(PaymentRequest)) == before
    # A reader sees the request but may not ask for one (R19).
    sign_in_as(browser, "rasmus@example.com", "sv")
    assert browser.get(url).status_code == 403
    assert browser.get(f"/sv/accounts/{demo.agreement}/one-transfer/{demo.request}").status_code == 200
