"""Issue 20, what testers found — each item a named test (the rest of the issue is
still open; see the README)."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from portal.mail.render import render_email
from portal.demo import DEMO_PASSWORD
from portal.models import Notice, OutboxMessage, Payment, Subscription, SubscriptionStatus, User
from tests.web.conftest import Browser, csrf_from, sign_in_as
from tests.web.test_flows import pay_form, settle_url


def test_i20_15_every_page_has_absolute_hreflang_links_a_description_and_an_icon(app, browser, demo):
    base = app.config["PORTAL_BASE_URL"]
    sign_in_as(browser, "anna@example.com", "sv")
    for path in ("/sv/sign-in", f"/sv/accounts/{demo.payg}/", f"/en/accounts/{demo.payg}/payments"):
        # The sign-in page asked for under another Host: the links still name ours.
        headers = {"Host": "evil.example"} if path.endswith("sign-in") else {}
        html = browser.get(path, headers=headers).get_data(as_text=True)
        links = dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)"', html))
        assert set(links) == {"sv", "en", "x-default"}, path
        assert all(href.startswith(base + "/") for href in links.values()), links  # never the request's Host
        assert links["en"].endswith(path.replace("/sv/", "/en/", 1)) and links["x-default"] == base + "/"
        assert re.search(r'<meta name="description" content="[^"]{50,160}">', html), path
        assert re.search(r'<link rel="icon" href="/static/img/favicon\.[0-9a-f]{12}\.svg" type="image/svg\+xml">', html)
    swedish = browser.get("/sv/sign-in").get_data(as_text=True)
    assert 'content="Se vad du är skyldig' in swedish


def test_i20_15_favicon_ico_answers(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.get_data().startswith(b"<svg")


def test_i20_11_a_swedish_email_names_its_role_in_swedish(app, browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.payg}/support").get_data(as_text=True)
    browser.post(f"/sv/accounts/{demo.payg}/support",
                 {"csrf_token": csrf_from(page), "subject": "Fråga", "body": "Hej"})
    b.session.rollback()
    for message in b.session.scalars(select(OutboxMessage)):
        html = render_email(app, message).get_body(("html",)).get_content()
        want = "e-postmeddelande" if message.locale == "sv" else "email message"
        assert f'aria-roledescription="{want}"' in html, message.template


def test_i20_2_after_paying_back_or_a_second_tab_says_the_balance_is_paid_and_shows_the_receipt(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    html = browser.get(settle_url(demo, lang="sv") + f"?method={demo.spare_card}").get_data(as_text=True)
    paid = browser.post(settle_url(demo, lang="sv"), pay_form(html))
    assert paid.status_code == 303
    back = browser.get(settle_url(demo, lang="sv") + f"?method={demo.spare_card}")  # Back, or another tab
    assert back.status_code == 303 and back.location == paid.location  # the receipt, not "0,00 kr to pay"
    receipt = browser.get(back.location).get_data(as_text=True)
    assert "Saldot är betalt. Här är kvittot." in receipt and "gick inte igenom" not in receipt
    swapped = browser.get(settle_url(demo, lang="sv") + f"?method={demo.spare_card}", headers={"HX-Request": "true"})
    assert swapped.status_code == 200 and swapped.headers["HX-Redirect"] == paid.location


def test_i20_1_a_notice_whose_cause_is_gone_goes_away_by_itself(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    before = browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True)
    assert "Webbshop – produktion är förfallen" in before  # the banner says the demo's failed payment
    html = browser.get(settle_url(demo, lang="sv") + f"?method={demo.spare_card}").get_data(as_text=True)
    assert browser.post(settle_url(demo, lang="sv"), pay_form(html)).status_code == 303
    after = browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True)
    b.session.rollback()
    left = b.session.scalars(select(Notice).where(Notice.account_id == demo.payg,
                                                  Notice.dismissed_at.is_(None))).all()
    assert not [n for n in left if n.payload.get("subscription_id") in (demo.production, demo.testing)]
    assert "Webbshop – produktion gick inte igenom" not in after.replace("\xa0", " ")


def test_i20_1_a_paid_invoices_notices_go_away(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "en")
    b.session.add(Notice(user_id=b.session.scalars(select(User.id).where(User.email == "olivia@example.com")).one(),
                         account_id=demo.agreement, kind="invoice_past_due",
                         payload={"invoice_id": demo.past_due, "number": "X", "amount_minor": 1, "currency": "SEK",
                                  "due_on": "2026-11-01"}, created_at=b.clock.now()))
    b.session.commit()
    html = browser.get(f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/pay?invoice={demo.past_due}"
                       "&method=new").get_data(as_text=True)
    data = pay_form(html) | {"card_number": "4242424242424242", "exp_month": "12", "exp_year": "2031",
                             "cvc": "123", "holder": "Olivia Holm"}
    assert browser.post(f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/pay?invoice={demo.past_due}",
                        data).status_code == 303
    b.session.rollback()
    assert b.session.scalars(select(Notice).where(Notice.kind == "invoice_past_due",
                                                  Notice.dismissed_at.is_(None))).all() == []


def test_i20_13_the_swap_announces_why_the_total_changed_and_that_card_fields_appeared(browser, demo):
    sign_in_as(browser, "anna@example.com", "sv")
    htmx = {"HX-Request": "true"}
    own = browser.get(settle_url(demo, lang="sv") + f"?method={demo.second_card}", headers=htmx).get_data(as_text=True)
    announced = re.search(r'data-announce="([^"]+)"', own).group(1).replace("\xa0", " ")
    assert announced.startswith("Totalt att betala: 3 107,00 kr.") and "har också utestående avgifter" in announced
    new = browser.get(settle_url(demo, lang="sv") + "?method=new", headers=htmx).get_data(as_text=True)
    assert "Fält för det nya kortets uppgifter visas nu nedan." in re.search(r'data-announce="([^"]+)"', new).group(1)


# --- item 4: the receipt ------------------------------------------------------------

def _settle(browser, demo, card, lang="sv"):
    html = browser.get(settle_url(demo, lang=lang) + f"?method={card}").get_data(as_text=True)
    return browser.post(settle_url(demo, lang=lang), pay_form(html))


def test_i20_4_the_receipt_gives_a_payment_id_to_quote_and_a_support_request_about_it(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    paid = _settle(browser, demo, demo.spare_card)
    assert paid.status_code == 303
    b.session.rollback()
    payment = b.session.scalars(select(Payment).order_by(Payment.id.desc())).first()
    receipt = browser.get(paid.location).get_data(as_text=True)
    assert payment.gateway_reference not in receipt  # the gateway's id is not what a customer quotes
    assert re.search(rf"<dt>Betalnings-ID</dt><dd>{payment.id}</dd>", receipt)
    assert f"ange betalnings-ID {payment.id}" in receipt  # the same ID as in the payments export
    link = re.search(r'<a href="([^"]+)">Skicka en supportbegäran om den här betalningen</a>', receipt).group(1)
    assert link == f"/sv/accounts/{demo.payg}/support?payment={payment.id}"
    form = browser.get(link).get_data(as_text=True)
    assert f'value="Gäller betalning {payment.id}"' in form  # R13: the subject names the payment
    # Someone else's payment id fills in nothing.
    assert "Gäller betalning" not in browser.get(f"/sv/accounts/{demo.payg}/support?payment=999999").get_data(
        as_text=True)
    csv = browser.get(f"/sv/accounts/{demo.payg}/payments.csv").get_data(as_text=True)
    assert f";{payment.id};" in csv


def _receipt(app, locale, payload):
    message = OutboxMessage(template="receipt", to_address="billing@example.com", locale=locale,
                            payload={"amount_minor": 12_00, "currency": "SEK", "payment_id": 41,
                                     "method": {"kind": "card", "brand": "visa", "last4": "4242"}, **payload},
                            message_key="i20-4", created_at=datetime(2026, 11, 25, 12, 0))
    return " ".join(render_email(app, message).get_body(("plain",)).get_content().split())


def test_i20_4_the_receipt_email_names_three_subscriptions_and_counts_the_rest(app):
    names = [f"Webbshop {n}" for n in range(1, 13)]  # 12 paid: three named, 9 counted
    swedish = _receipt(app, "sv", {"subscriptions": names})
    assert "Dessa prenumerationer är betalda och aktiva: Webbshop 1, Webbshop 2, Webbshop 3 och 9 till." in swedish
    assert "Webbshop 4" not in swedish
    english = _receipt(app, "en", {"subscriptions": names[:4]})
    assert "These subscriptions are paid and active: Webbshop 1, Webbshop 2, Webbshop 3 and 1 more." in english
    assert re.search(r"Betalnings-ID:? 41\b", swedish)  # the ID to quote
    few = _receipt(app, "sv", {"subscriptions": names[:2]})
    assert "Webbshop 1 och Webbshop 2." in few  # a short list stays a sentence


def test_i20_4_a_deleted_subscription_is_never_called_active(app, browser, demo, b):
    """Its charges are still owed and paid with the rest (R12), but it is not re-enabled (M4)."""
    archive = b.session.get(Subscription, demo.archive)
    archive.status, archive.payment_method_id = SubscriptionStatus.DELETED, demo.failed_card
    b.session.commit()
    sign_in_as(browser, "anna@example.com", "sv")
    paid = _settle(browser, demo, demo.spare_card)
    assert paid.status_code == 303
    b.session.rollback()
    assert b.session.get(Subscription, demo.archive).status == SubscriptionStatus.DELETED
    receipt = browser.get(paid.location).get_data(as_text=True)
    assert "Arkiv har tagits bort: dess avgifter är betalda, men en borttagen prenumeration kan inte bli aktiv igen." \
        in receipt
    assert "Prenumerationerna som inte har tagits bort är aktiva igen" in receipt
    assert "Prenumerationerna är aktiva igen" not in receipt
    message = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")
                                .order_by(OutboxMessage.id.desc())).first()
    text = " ".join(render_email(app, message).get_body(("plain",)).get_content().split())
    active = re.search(r"betalda och aktiva: ([^.]*)\.", text).group(1)
    assert "Arkiv" not in active and "Webbshop – produktion" in active
    assert "Dessa prenumerationer har tagits bort: deras avgifter är betalda, men en borttagen prenumeration " \
           "kan inte bli aktiv igen: Arkiv." in text


# --- item 5: languages --------------------------------------------------------------

def _language_link(html, lang):
    return re.search(rf'<a href="([^"]+)" hreflang="{lang}" lang="{lang}">', html).group(1)


def test_i20_5_the_decline_pages_language_link_leads_to_the_decline_in_the_other_language(app, browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    declined = _settle(browser, demo, demo.failed_card)
    assert declined.status_code == 402  # the POST's answer is the decline page, as before
    html = declined.get_data(as_text=True)
    link = _language_link(html, "en")
    assert re.fullmatch(rf"/en/accounts/{demo.payg}/payments/declined/\d+", link), link
    english = browser.get(link)
    page = english.get_data(as_text=True)
    assert english.status_code == 200 and "The payment was declined" in page and "not enough funds" in page
    assert f'href="/en/accounts/{demo.payg}/subscriptions/{demo.production}/settle">Try again</a>' in page
    assert _language_link(page, "sv") == link.replace("/en/", "/sv/", 1)  # and back
    assert "Betalningen nekades" in browser.get(link.replace("/en/", "/sv/", 1)).get_data(as_text=True)
    # Only the person whose payment it was sees it: another user of the account, or anyone else, gets 404.
    erik = Browser(app.test_client())
    sign_in_as(erik, "erik@example.com", "en")
    assert erik.get(link).status_code == 404
    olivia = Browser(app.test_client())
    sign_in_as(olivia, "olivia@example.com", "en")
    assert olivia.get(link).status_code == 404
    assert olivia.get(link.replace(str(demo.payg), str(demo.agreement))).status_code == 404
    # Reading it charges nothing and changes nothing.
    b.session.rollback()
    assert b.gateway.count_approved() == 0
    assert b.session.get(Subscription, demo.production).status == SubscriptionStatus.PAST_DUE


def test_i20_5_signing_in_from_sv_leads_to_ones_own_language(app, browser, demo, b):
    anna = b.session.scalars(select(User).where(User.email == "anna@example.com")).one()
    anna.locale = "en"  # My settings: English
    b.session.commit()
    page = f"/sv/accounts/{demo.payg}/payments"
    response = browser.post(f"/sv/sign-in?next={page}", {"email": "anna@example.com", "password": DEMO_PASSWORD},
                            token_from="/sv/sign-in")
    assert response.status_code == 303
    assert response.location == f"/en/accounts/{demo.payg}/payments"
    assert "lang=en" in "; ".join(response.headers.getlist("Set-Cookie"))
    assert "Payments" in browser.get(response.location).get_data(as_text=True)
    # Without a page to return to: their own language's home; `/` follows the cookie.
    other = Browser(app.test_client())
    home = other.post("/sv/sign-in", {"email": "anna@example.com", "password": DEMO_PASSWORD})
    assert home.location == "/en/"
    assert other.get("/").location.endswith("/en/")


def test_i20_5_swedish_the_default_does_not_move_someone_reading_in_english(browser, demo):
    """Everyone has Swedish until they choose: signing in from /en/ stays in English."""
    response = browser.post(f"/en/sign-in?next=/en/accounts/{demo.payg}/", {"email": "anna@example.com",
                                                                         "password": DEMO_PASSWORD})
    assert response.location == f"/en/accounts/{demo.payg}/"


def test_i20_5_a_page_a_post_answers_with_links_to_its_own_address_in_the_other_language(browser, demo):
    """Adding a card that the form refuses answers the POST with Payment methods (422):
    its language link leads to Payment methods, never to the POST-only address (405)."""
    sign_in_as(browser, "anna@example.com", "sv")
    page_url = f"/sv/accounts/{demo.payg}/payment-methods"
    refused = browser.post(f"{page_url}/cards", {"card_number": "12"}, token_from=page_url)
    assert refused.status_code == 422
    link = _language_link(refused.get_data(as_text=True), "en")
    assert link == page_url.replace("/sv/", "/en/", 1)
    assert browser.get(link).status_code == 200
