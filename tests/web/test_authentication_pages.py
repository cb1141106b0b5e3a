"""B13 through HTTP only, without JavaScript: Pay → the bank's challenge page (a plain
303) → confirm → back to the portal → the receipt; a failed challenge is a decline
with advice that fits it; a second payment while one waits is told to finish it; the
bank's page only ever sends people back to the portal's own return page."""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

import pytest
from sqlalchemy import select

from portal.models import Payment, Subscription, SubscriptionStatus
from tests.web.conftest import csrf_from, sign_in_as
from tests.web.test_flows import pay_form, settle_url

SCA, SCA_FAILS = "4000002760003184", "4000008400001629"


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ")


def pay_with_new_card(browser, demo, number, lang="sv"):
    html = browser.get(settle_url(demo, lang=lang) + "?method=new").get_data(as_text=True)
    data = pay_form(html) | {"card_number": number, "exp_month": "12", "exp_year": "2031", "cvc": "123",
                             "holder": "Anna Lind"}
    return browser.post(settle_url(demo, lang=lang), data), data


def test_b13_pay_challenge_confirm_and_back_to_the_receipt_without_javascript(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    response, data = pay_with_new_card(browser, demo, SCA)
    assert response.status_code == 303
    challenge = response.location
    assert challenge.startswith("/sv/sandbox/challenge/sbx_3ds_")
    assert f"return_to=/sv/accounts/{demo.payg}/payments/authenticated/{data['idempotency_key']}" in challenge
    page = browser.get(challenge)
    body = text(page.get_data(as_text=True))
    assert page.status_code == 200 and "Bekräfta betalningen hos din bank" in body
    assert "Här behövs ingen kod" in body and "2 858,00 kr" in body
    assert b.gateway.count_approved() == 0
    back = browser.post(challenge, {"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": "confirm"})
    assert back.status_code == 303 and back.location.startswith(f"/sv/accounts/{demo.payg}/payments/authenticated/")
    receipt = browser.get(back.location)
    assert receipt.status_code == 303 and "/payments/" in receipt.location
    assert "Betalningen har tagits emot" in text(browser.get(receipt.location).get_data(as_text=True))
    again = browser.get(back.location)  # the return replayed: the same receipt, nothing charged again
    assert again.status_code == 303 and again.location == receipt.location
    b.session.rollback()
    assert b.gateway.count_approved() == 1
    assert b.session.get(Subscription, demo.production).status == SubscriptionStatus.ACTIVE
    done = browser.get(challenge)  # the bank's page afterwards says it is done
    assert "Den här bekräftelsen är redan klar" in text(done.get_data(as_text=True))
    # issue 35 a11y-4: the title and heading no longer ask to confirm
    assert "<title>Bekräftelsen är klar – " in done.get_data(as_text=True)
    assert "<title>Bekräfta betalningen hos din bank – " in page.get_data(as_text=True)


def test_b13_a_failed_challenge_is_a_decline_with_advice_that_fits(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    response, _data = pay_with_new_card(browser, demo, SCA_FAILS, "en")
    page = browser.get(response.location)
    back = browser.post(response.location, {"csrf_token": csrf_from(page.get_data(as_text=True)),
                                            "decision": "confirm"})
    declined = browser.get(back.location)
    body = text(declined.get_data(as_text=True))
    assert declined.status_code == 402 and "could not confirm that it was you" in body
    assert "international transactions" not in body and "confirm the payment when your bank asks" in body
    assert f"/en/accounts/{demo.payg}/subscriptions/{demo.production}/settle" in declined.get_data(as_text=True)
    assert b.gateway.count_approved() == 0


def test_i27_reloading_the_decline_after_a_cancelled_bank_confirmation_shows_it_again(browser, demo, b):
    """Issue 27: cancel on the bank's page, then reload the decline page: the same
    decline with its way back, not 404; nothing is charged."""
    sign_in_as(browser, "anna@example.com", "en")
    response, _data = pay_with_new_card(browser, demo, SCA, "en")
    page = browser.get(response.location)
    back = browser.post(response.location, {"csrf_token": csrf_from(page.get_data(as_text=True)),
                                            "decision": "cancel"})
    first, reloaded = browser.get(back.location), browser.get(back.location)
    assert first.status_code == reloaded.status_code == 402
    assert text(first.get_data(as_text=True)) == text(reloaded.get_data(as_text=True))
    assert f"/en/accounts/{demo.payg}/subscriptions/{demo.production}/settle" in reloaded.get_data(as_text=True)
    assert b.gateway.count_approved() == 0


def test_b13_a_second_payment_while_one_waits_is_sent_to_finish_the_first(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    first, _data = pay_with_new_card(browser, demo, SCA, "en")
    second, _data = pay_with_new_card(browser, demo, "4242424242424242", "en")
    body = second.get_data(as_text=True)
    assert second.status_code == 409 and "A payment waits for your confirmation" in body
    assert first.location.replace("&", "&amp;") in body  # "Continue to your bank" goes to the same challenge
    assert b.gateway.count_approved() == 0


@pytest.mark.parametrize("return_to", [
    "https://evil.example/", "//evil.example/x", "/sv/accounts/1/payments/1", "javascript:alert(1)",
    "/sv/accounts/1/payments/authenticated/../../x", ""])
def test_b13_the_bank_page_sends_people_back_to_the_portal_only(browser, demo, b, return_to):
    sign_in_as(browser, "anna@example.com", "en")
    response, _data = pay_with_new_card(browser, demo, SCA, "en")
    challenge = response.location.split("?")[0]
    page = browser.get(f"{challenge}?return_to={quote(return_to)}")
    assert page.status_code == 404


@pytest.mark.parametrize("path", [
    "/en/sandbox/challenge/nope?return_to=/en/accounts/1/payments/authenticated/abcdefgh",
    "/en/sandbox/challenge/" + "x" * 300,
    "/en/accounts/{payg}/payments/authenticated/short",
    "/en/accounts/{payg}/payments/authenticated/" + "k" * 200,
    "/en/accounts/{payg}/payments/authenticated/%00%ff",
    "/en/accounts/{payg}/payments/authenticated/demo-paid-anything"])
def test_b13_garbage_challenges_and_keys_are_not_found(browser, demo, b, path):
    sign_in_as(browser, "anna@example.com", "en")
    response = browser.get(path.format(payg=demo.payg))
    assert response.status_code in (400, 404)  # a NUL in the path is refused before any route
    assert b.session.scalars(select(Payment).where(Payment.idempotency_key.not_like("demo-%"))).all() == []


def test_b14_overview_says_when_the_card_is_tried_again(browser, demo, b):
    sub = b.session.get(Subscription, demo.production)
    sub.next_retry_on = date(2026, 11, 27)
    b.session.commit()
    sign_in_as(browser, "anna@example.com", "sv")
    overview = text(browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True))
    assert "Vi försöker debitera kortet igen den 27 november 2026. Du kan reglera saldot redan nu i stället." \
        in overview
