"""B12 on the Pay now page, without JavaScript: pay only part of the invoices now (a GET
form that changes what the page asks for), the part checked and its errors translated,
the part charged once, and the rest left to pay."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.models import Invoice, InvoiceStatus, Payment, PaymentMethod
from tests.web.conftest import hidden, sign_in_as
from tests.web.test_flows import pay_url


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ")


def card_of_agreement(b, demo) -> int:
    return b.session.scalars(select(PaymentMethod.id).where(
        PaymentMethod.account_id == demo.agreement, PaymentMethod.kind == "card")).first()


def pay_form(html):
    form = html[html.index('<form method="post" action="'):]
    return {name: hidden(form, name)
            for name in ("csrf_token", "method", "expected_total", "idempotency_key", "part")}


def test_b12_pay_part_now_without_javascript_in_swedish(browser, demo, b):
    sign_in_as(browser, "david@example.com", "sv")
    card = card_of_agreement(b, demo)
    html = browser.get(pay_url(demo, "sv") + f"?method={card}").get_data(as_text=True)
    assert "Betala bara en del nu?" in html and "Minst 100,00 kr och mindre än 15 780,00 kr" in text(html)
    html = browser.get(pay_url(demo, "sv") + f"?method={card}&part=9+000%2C50").get_data(as_text=True)
    page = text(html)
    assert "Du betalar 9 000,50 kr av det nu" in page and "debiteras med 9 000,50 kr" in page
    data = pay_form(html)
    assert data["part"] == "900050" and data["expected_total"] == "1578000"
    response = browser.post(pay_url(demo, "sv"), data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    b.session.rollback()
    payment = b.session.scalars(select(Payment).where(Payment.purpose == "invoice",
                                                      Payment.idempotency_key == data["idempotency_key"])).one()
    assert payment.amount_minor == 9_000_50
    past_due, due = b.session.get(Invoice, demo.past_due), b.session.get(Invoice, demo.due)
    assert past_due.status == InvoiceStatus.PAID  # the oldest due first
    assert due.status == InvoiceStatus.DUE and due.left.minor == 15_780_00 - 9_000_50
    again = browser.post(pay_url(demo, "sv"), data)  # the same form again: the receipt, nothing more
    assert again.status_code == 303 and b.gateway.count_approved() == 1
    rest = text(browser.get(pay_url(demo, "sv")).get_data(as_text=True))
    assert "6 779,50 kr" in rest and "Delvis betald – 6 779,50 kr kvar" in rest


def test_b12_a_part_that_is_not_an_amount_or_out_of_bounds_is_told_in_the_page_language(browser, demo, b):
    sign_in_as(browser, "david@example.com", "sv")
    for part, message in [("abc", "Ange ett belopp med siffror, till exempel 500,50 kr"),
                          ("", "Ange beloppet att betala nu"),
                          ("99,99", "Ange minst 100,00 kr och mindre än hela beloppet 15 780,00 kr"),
                          ("15780", "Ange minst 100,00 kr och mindre än hela beloppet 15 780,00 kr"),
                          ("1.000", "Ange ett belopp med siffror")]:
        response = browser.get(pay_url(demo, "sv") + f"?part={part}")
        assert response.status_code == 422, part
        assert message in text(response.get_data(as_text=True)), part
    english = browser.get(pay_url(demo, "en") + "?part=5")
    assert english.status_code == 422
    assert "Enter at least SEK 100.00 and less than the whole SEK 15,780.00" in text(english.get_data(as_text=True))
    assert b.gateway.charges_for() == []


def test_b12_a_tampered_part_is_refused_and_nothing_charged(browser, demo, b):
    sign_in_as(browser, "david@example.com", "en")
    card = card_of_agreement(b, demo)
    html = browser.get(pay_url(demo) + f"?method={card}&part=1000").get_data(as_text=True)
    for tampered in ("1", "1578000", "99999999"):
        response = browser.post(pay_url(demo), pay_form(html) | {"part": tampered})
        assert response.status_code == 409, tampered
        assert "Nothing was charged. Enter at least SEK 100.00" in text(response.get_data(as_text=True))
    response = browser.post(pay_url(demo), pay_form(html) | {"part": "-5"})
    assert response.status_code == 422
    assert b.gateway.charges_for() == []
