"""What the customer is told when the gateway fails (503, translated, truthful), and
the way back: "Check the payment", or simply paying again — never a second charge."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.billing.payments.sandbox import SandboxGateway
from portal.models import AuditEvent, Payment, UnconfirmedPayment
from tests.web.conftest import csrf_from, sign_in_as
from tests.web.test_flows import pay_form, settle_url

NEW_CARD = {"exp_month": "12", "exp_year": "2031", "cvc": "123", "holder": "Anna Lindqvist"}


def pay_with_new_card(browser, demo, number, lang):
    html = browser.get(settle_url(demo, lang=lang) + "?method=new").get_data(as_text=True)
    return browser.post(settle_url(demo, lang=lang), pay_form(html) | NEW_CARD | {"card_number": number})


@pytest.mark.parametrize("lang, texts", [
    ("sv", ("Vi kunde inte bekräfta betalningen", "Du debiteras inte två gånger", "Kontrollera betalningen")),
    ("en", ("We could not confirm the payment", "You will not be charged twice", "Check the payment")),
])
def test_m3_lost_answer_says_we_could_not_confirm_and_the_check_finds_the_payment(browser, demo, b, lang, texts):
    sign_in_as(browser, "anna@example.com", lang)
    response = pay_with_new_card(browser, demo, "4000 0000 0000 0515", lang)  # charged, answer lost
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and f'<html lang="{lang}">' in html
    assert all(text in html for text in texts)
    assert "Nothing was charged" not in html and "Ingenting har debiterats" not in html  # not a lie
    assert b.gateway.count_approved() == 1
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(UnconfirmedPayment)) == 1
    check = f"/{lang}/accounts/{demo.payg}/payments/check"
    assert f'action="{check}"' in html
    done = browser.post(check, {"csrf_token": csrf_from(html)})
    assert done.status_code == 303 and "/payments/" in done.location
    receipt = browser.get(done.location).get_data(as_text=True)
    assert ("Betalningen har tagits emot" if lang == "sv" else "Payment received") in receipt
    # ux-F16: the receipt says it once; no second banner saying the same
    assert ("Betalningen gick igenom" if lang == "sv" else "The payment went through") not in receipt
    assert b.gateway.count_approved() == 1
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(UnconfirmedPayment)) == 0


def test_unreachable_gateway_says_nothing_was_charged(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    response = pay_with_new_card(browser, demo, "4000000000000523", "sv")
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Betaltjänsten svarar inte" in html and "Ingenting har debiterats" in html
    assert f'href="{settle_url(demo, lang="sv")}">Försök igen<' in html
    assert b.gateway.charges_for() == []
    b.session.rollback()
    assert b.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc())).first() == \
        "payment.gateway_unavailable"


def test_m3_timeout_then_a_reload_and_pay_again_is_told_already_paid(app, browser, demo, b):
    """The gateway of the whole deployment times out; the customer reloads the page
    (a new key) and presses Pay again once it is back: the earlier charge is found and
    recorded first, and the new attempt hears "already paid"."""
    normal = app.extensions["payment_gateway"]
    slow = SandboxGateway(app.config["SANDBOX_GATEWAY_URL"], fault="timeout", timeout_seconds=0.05)
    app.extensions["payment_gateway"] = slow
    try:
        sign_in_as(browser, "anna@example.com", "en")
        url = settle_url(demo) + f"?method={demo.spare_card}"
        response = browser.post(settle_url(demo), pay_form(browser.get(url).get_data(as_text=True)))
        assert response.status_code == 503 and "We could not confirm the payment" in response.get_data(as_text=True)
    finally:
        app.extensions["payment_gateway"] = normal
        slow.close()
    again = browser.post(settle_url(demo), pay_form(browser.get(url).get_data(as_text=True)))
    assert again.status_code == 303 and again.location.endswith(f"/en/accounts/{demo.payg}/")
    assert "already been paid" in browser.get(again.location).get_data(as_text=True)
    assert b.gateway.count_approved() == 1
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(Payment).where(
        Payment.idempotency_key.not_like("demo-%"))) == 1  # this one, besides the demo's own


def test_check_with_nothing_waiting_says_so(browser, demo):
    sign_in_as(browser, "anna@example.com", "en")
    response = browser.post(f"/en/accounts/{demo.payg}/payments/check", {},
                            token_from=f"/en/accounts/{demo.payg}/")
    assert response.status_code == 303
    assert "No payment is waiting to be confirmed" in browser.get(response.location).get_data(as_text=True)
