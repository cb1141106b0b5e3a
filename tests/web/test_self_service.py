"""Issue 17 through the pages, without JavaScript, in both languages and for each role:
payment methods (B8, R15, B5), payments and their receipts (B9), CSV exports (B9),
personal settings (B10), what is owed on the Overview (R06, B2) and the navigation."""
from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.billing import payments
from portal.billing.payments import UseSavedCard
from portal.models import (AuditEvent, BillingProfile, OutboxMessage, Payment, PaymentMethod, Subscription, User)
from tests.web.conftest import csrf_from, sign_in_as

LANGS = ("sv", "en")


def main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def card(number: str) -> dict:
    """The add-a-card form with this number and good values elsewhere."""
    return {"card_number": number, "exp_month": "04", "exp_year": "2031", "cvc": "123", "holder": "Anna Lindqvist"}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ")


# --- navigation -------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("who, kind", [("anna@example.com", "payg"), ("erik@example.com", "payg"),
                                       ("olivia@example.com", "agreement"), ("rasmus@example.com", "agreement")])
def test_b9_payments_and_payment_methods_are_in_every_accounts_navigation(browser, demo, who, kind, lang):
    sign_in_as(browser, who, lang)
    account = getattr(demo, kind)
    for page in ("", "payments", "payment-methods", "support"):
        html = browser.get(f"/{lang}/accounts/{account}/{page}").get_data(as_text=True)
        nav = html.split('class="wrap main-nav"', 1)[1].split("</nav>", 1)[0]
        assert f'href="/{lang}/accounts/{account}/payments"' in nav
        assert f'href="/{lang}/accounts/{account}/payment-methods"' in nav
        assert f'href="/{lang}/settings?next=' in html  # My settings, from every page
    words = {"sv": ("Betalningar", "Betalningsmetoder", "Mina inställningar"),
             "en": ("Payments", "Payment methods", "My settings")}[lang]
    assert all(word in html for word in words)


# --- B8: payment methods ----------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_b8_the_methods_page_lists_cards_with_what_uses_them(browser, demo, lang):
    sign_in_as(browser, "anna@example.com", lang)
    page = text(main(browser.get(f"/{lang}/accounts/{demo.payg}/payment-methods").get_data(as_text=True)))
    expected = {"sv": ["Visa som slutar på 9995", "Används av 2 prenumerationer", "Går snart ut", "Används inte",
                       "Lägg till ett kort"],
                "en": ["Visa ending in 9995", "Used by 2 subscriptions", "Expires soon", "Not in use", "Add a card"]}
    for words in expected[lang]:
        assert words in page, words


def test_b8_add_a_card_without_paying_then_remove_it(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    url = f"/en/accounts/{demo.payg}/payment-methods"
    response = browser.post(f"{url}/cards", card("5555 5555 5555 4444"),
                            token_from=url)
    assert response.status_code == 303
    assert "Mastercard ending in 4444 has been added. Nothing was charged." in browser.get(url).get_data(as_text=True)
    added = b.session.scalars(select(PaymentMethod).where(PaymentMethod.account_id == demo.payg)
                              .order_by(PaymentMethod.id.desc())).first()
    assert (added.last4, added.exp_month, added.exp_year) == ("4444", 4, 2031)
    response = browser.post(f"{url}/{added.id}/remove", {}, token_from=url)
    assert response.status_code == 303
    assert "The card has been removed." in browser.get(url).get_data(as_text=True)
    b.session.rollback()
    assert b.session.get(PaymentMethod, added.id).removed_at is not None


@pytest.mark.parametrize("lang", LANGS)
def test_b8_a_bad_or_declined_card_is_explained_on_its_field(browser, demo, lang):
    sign_in_as(browser, "anna@example.com", lang)
    url = f"/{lang}/accounts/{demo.payg}/payment-methods"
    bad = browser.post(f"{url}/cards", card("4242 4242 4242 4241"), token_from=url)
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert {"sv": "Det finns ett problem", "en": "There is a problem"}[lang] in html
    assert 'value="4242 4242 4242 4241"' not in html  # never sent back
    declined = browser.post(f"{url}/cards", card("4000 0000 0000 0002"), token_from=url)
    assert declined.status_code == 402
    assert {"sv": "Banken godkände inte kortet", "en": "The bank did not accept the card"}[lang] \
        in declined.get_data(as_text=True)


def test_b8_a_card_in_use_is_not_removed_and_the_page_says_why(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    url = f"/en/accounts/{demo.payg}/payment-methods"
    page = browser.get(url).get_data(as_text=True)
    assert f'/payment-methods/{demo.failed_card}/remove' not in page  # no Remove button
    assert "In use, so it cannot be removed" in page
    response = browser.post(f"{url}/{demo.failed_card}/remove", {}, token_from=url)  # a forced POST
    assert response.status_code == 303
    assert "The card cannot be removed: 2 subscriptions use it." in text(browser.get(url).get_data(as_text=True))
    b.session.rollback()
    assert b.session.get(PaymentMethod, demo.failed_card).removed_at is None


@pytest.mark.parametrize("who, status", [("erik@example.com", 403)])
def test_b8_b2_a_user_who_may_not_manage_sees_the_page_and_why(browser, demo, b, who, status):
    sign_in_as(browser, who, "en")
    url = f"/en/accounts/{demo.payg}/payment-methods"
    page = main(browser.get(url).get_data(as_text=True))
    assert "Only the account administrator can do this." in page and "Add a card" not in page
    response = browser.post(f"{url}/cards", card("4242424242424242"), token_from=url)
    assert response.status_code == status
    assert browser.post(f"{url}/{demo.spare_card}/remove", {}, token_from=url).status_code == status


@pytest.mark.parametrize("lang", LANGS)
def test_r15_the_owner_sets_the_profile_default_with_check_wire_only_where_approved(browser, demo, b, lang):
    sign_in_as(browser, "olivia@example.com", lang)
    url = f"/{lang}/accounts/{demo.agreement}/payment-methods"
    page = browser.get(url).get_data(as_text=True)
    assert 'value="check_wire"' in page  # the demo profile is approved
    card = b.session.scalars(select(PaymentMethod).where(PaymentMethod.account_id == demo.agreement,
                                                         PaymentMethod.kind == "card")).first()
    response = browser.post(f"/{lang}/accounts/{demo.agreement}/profiles/{demo.profile}/default-method",
                            {f"p{demo.profile}-method": str(card.id)}, token_from=url)
    assert response.status_code == 303 and response.location.endswith("/payment-methods")
    b.session.rollback()
    assert b.session.get(BillingProfile, demo.profile).default_payment_method_id == card.id
    profile = b.session.get(BillingProfile, demo.profile)
    profile.check_wire_approved = False
    b.session.commit()
    page = browser.get(url).get_data(as_text=True)
    assert 'value="check_wire"' not in page and "topic=pay_by_invoice" in page
    refused = browser.post(f"/{lang}/accounts/{demo.agreement}/profiles/{demo.profile}/default-method",
                           {f"p{demo.profile}-method": "check_wire"}, token_from=url)
    assert refused.status_code == 303
    assert {"sv": "inte godkänd", "en": "not approved"}[lang] in browser.get(url).get_data(as_text=True)
    b.session.rollback()
    assert b.session.get(BillingProfile, demo.profile).default_payment_method_id == card.id


@pytest.mark.parametrize("lang", LANGS)
def test_r15_request_pay_by_invoice_opens_a_filled_in_support_request(browser, demo, lang):
    sign_in_as(browser, "olivia@example.com", lang)
    html = browser.get(f"/{lang}/accounts/{demo.agreement}/support?topic=pay_by_invoice").get_data(as_text=True)
    assert {"sv": "Begäran om att betala mot faktura", "en": "Request to pay by invoice"}[lang] in html


@pytest.mark.parametrize("who", ["rasmus@example.com", "ines@example.com"])
def test_r15_b2_readers_and_invoice_managers_see_the_default_and_are_told_why(browser, demo, b, who):
    sign_in_as(browser, who, "en")
    url = f"/en/accounts/{demo.agreement}/payment-methods"
    page = main(browser.get(url).get_data(as_text=True))
    assert "Only an owner or contributor of the billing profile can change its payment methods." in page
    assert "Check/wire transfer" in page and "Save default" not in page
    card = b.session.scalars(select(PaymentMethod.id).where(PaymentMethod.account_id == demo.agreement,
                                                            PaymentMethod.kind == "card")).first()
    response = browser.post(f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/default-method",
                            {f"p{demo.profile}-method": str(card)}, token_from=url)
    assert response.status_code == 403


@pytest.mark.parametrize("lang", LANGS)
def test_b8_move_subscriptions_shows_what_moves_before_it_moves(browser, demo, b, lang):
    sign_in_as(browser, "anna@example.com", lang)
    url = f"/{lang}/accounts/{demo.payg}/payment-methods"
    preview = browser.get(f"{url}/move?subscriptions={demo.production}&subscriptions={demo.intranet}"
                          f"&to={demo.second_card}")
    assert preview.status_code == 200
    shown = text(main(preview.get_data(as_text=True)))
    assert "Webbshop – produktion" in shown and "Intranät" in shown
    assert {"sv": "2 469,00 kr", "en": "SEK 2,469.00"}[lang] in shown  # production's charges move too
    b.session.rollback()
    assert b.session.get(Subscription, demo.production).payment_method_id == demo.failed_card  # not yet
    html = preview.get_data(as_text=True)
    expected = re.search(r'name="expected_outstanding"[^>]*value="(\d+)"', html).group(1)
    response = browser.post(f"{url}/move", {"csrf_token": csrf_from(html), "expected_outstanding": expected,
                                            "subscriptions": [str(demo.production), str(demo.intranet)],
                                            "to": str(demo.second_card)})
    assert response.status_code == 303
    b.session.rollback()
    assert b.session.get(Subscription, demo.production).payment_method_id == demo.second_card
    assert b.session.get(Subscription, demo.intranet).payment_method_id == demo.second_card


def test_b8_move_with_nothing_chosen_is_an_error_on_the_page(browser, demo):
    sign_in_as(browser, "anna@example.com", "en")
    response = browser.get(f"/en/accounts/{demo.payg}/payment-methods/move?to={demo.second_card}")
    assert response.status_code == 422
    assert "Select at least one subscription" in response.get_data(as_text=True)


def test_b8_a_stale_move_moves_nothing(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    url = f"/en/accounts/{demo.payg}/payment-methods"
    html = browser.get(f"{url}/move?subscriptions={demo.production}&to={demo.second_card}").get_data(as_text=True)
    response = browser.post(f"{url}/move", {"csrf_token": csrf_from(html), "expected_outstanding": "1",
                                            "subscriptions": [str(demo.production)], "to": str(demo.second_card)})
    assert response.status_code == 303
    assert "Nothing was moved" in browser.get(url).get_data(as_text=True)
    b.session.rollback()
    assert b.session.get(Subscription, demo.production).payment_method_id == demo.failed_card


def test_b5_after_pay_now_with_another_card_the_receipt_offers_it_for_future_invoices(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "en")
    olivia = b.session.scalars(select(User).where(User.email == "olivia@example.com")).one()
    card = b.session.scalars(select(PaymentMethod).where(PaymentMethod.account_id == demo.agreement,
                                                         PaymentMethod.kind == "card")).first()
    quote = payments.quote_invoices(b, olivia, demo.profile, [demo.past_due])
    payment = payments.pay_invoices(b, olivia, demo.profile, [demo.past_due], UseSavedCard(card.id),
                                    quote.total.minor, "receipt-offer")
    b.session.commit()
    receipt = f"/en/accounts/{demo.agreement}/payments/{payment.id}"
    html = browser.get(receipt).get_data(as_text=True)
    assert "Use this card for future invoices" in html
    response = browser.post(f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/default-method",
                            {f"p{demo.profile}-method": str(card.id), "next": receipt}, token_from=receipt)
    assert response.status_code == 303 and response.location == receipt
    after = browser.get(receipt).get_data(as_text=True)
    assert "is now the default payment method" in after and "Use this card for future invoices" not in after
    b.session.rollback()
    assert b.session.get(BillingProfile, demo.profile).default_payment_method_id == card.id


# --- B9: payments and exports --------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_b9_payments_page_lists_each_payment_with_its_receipt(browser, demo, b, lang):
    sign_in_as(browser, "erik@example.com", lang)  # may not settle, still sees the payments
    html = main(browser.get(f"/{lang}/accounts/{demo.payg}/payments").get_data(as_text=True))
    ids = b.session.scalars(select(Payment.id).where(Payment.account_id == demo.payg)).all()
    assert len(ids) == 3
    for payment_id in ids:
        assert f'/accounts/{demo.payg}/payments/{payment_id}"' in html
    assert {"sv": "Automatisk debitering", "en": "Automatic charge"}[lang] in html
    assert "Intranät" in html


def test_b9_a_period_filters_and_a_bad_date_is_explained(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "en")
    url = f"/en/accounts/{demo.agreement}/payments"
    assert "1 payment shown" in browser.get(url).get_data(as_text=True)
    assert "No payments in this period." in browser.get(url + "?first=2000-01-01&last=2000-01-31").get_data(as_text=True)
    bad = browser.get(url + "?first=31/12/2026")
    assert bad.status_code == 422 and "Enter a date like 2026-11-30" in bad.get_data(as_text=True)
    backwards = browser.get(url + "?first=2026-12-01&last=2026-11-01")
    assert backwards.status_code == 422 and "on or after its start" in backwards.get_data(as_text=True)


def read_csv(response, lang):
    body = response.get_data()
    if lang == "sv":
        assert body.startswith("\ufeff".encode())  # Excel reads UTF-8 from the BOM
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""),
                           delimiter=";" if lang == "sv" else ","))


@pytest.mark.parametrize("lang", LANGS)
def test_b9_payments_export_parses_back_in_the_readers_spreadsheet_dialect(browser, demo, b, lang):
    sign_in_as(browser, "anna@example.com", lang)
    response = browser.get(f"/{lang}/accounts/{demo.payg}/payments.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response, lang)
    assert rows[0] == {"sv": ["Datum", "Betalnings-ID", "Avser", "Belopp", "Valuta", "Betalningsmetod",
                              "Fakturor", "Antal prenumerationer"],
                       "en": ["Date", "Payment ID", "Paid for", "Amount", "Currency", "Payment method",
                              "Invoices", "Number of subscriptions"]}[lang]
    saved = {p.id: p for p in b.session.scalars(select(Payment).where(Payment.account_id == demo.payg))}
    assert [int(r[1]) for r in rows[1:]] == sorted(saved, key=lambda i: (saved[i].created_at, i))
    for row in rows[1:]:
        payment = saved[int(row[1])]
        amount = Decimal(row[3].replace(",", ".")) if lang == "sv" else Decimal(row[3])
        assert amount == Decimal(payment.amount_minor) / 100 and row[4] == "SEK"
        assert ("," in row[3]) == (lang == "sv") and " " not in row[3]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", row[0]) and row[7] == "1"


@pytest.mark.parametrize("lang", LANGS)
def test_b9_invoices_export_for_a_period(browser, demo, b, lang):
    sign_in_as(browser, "rasmus@example.com", lang)  # a reader may export what they may see
    rows = read_csv(browser.get(f"/{lang}/accounts/{demo.agreement}/invoices.csv"), lang)
    assert len(rows[0]) == 13 and len(rows) - 1 == 3
    paid = next(r for r in rows[1:] if r[12])
    assert paid[10] == {"sv": "Betald", "en": "Paid"}[lang] and re.fullmatch(r"\d{4}-\d\d-\d\d", paid[11])
    issued = sorted(r[2] for r in rows[1:])
    only = read_csv(browser.get(f"/{lang}/accounts/{demo.agreement}/invoices.csv?first={issued[-1]}"), lang)
    assert [r[2] for r in only[1:]] == [issued[-1]]
    assert browser.get(f"/{lang}/accounts/{demo.payg}/invoices.csv").status_code == 404


def test_b9_export_text_never_starts_a_formula(browser, demo, b):
    profile = b.session.get(BillingProfile, demo.profile)
    profile.name = "=HYPERLINK(\"http://evil.example\")"
    b.session.commit()
    sign_in_as(browser, "olivia@example.com", "en")
    rows = read_csv(browser.get(f"/en/accounts/{demo.agreement}/invoices.csv"), "en")
    assert {r[1] for r in rows[1:]} == {"'=HYPERLINK(\"http://evil.example\")"}


def test_b9_receipts_of_another_profile_are_not_found(browser, demo, b):
    other = BillingProfile(account_id=demo.agreement, name="Norge")
    b.session.add(other)
    b.session.flush()
    payment = b.session.scalars(select(Payment).where(Payment.account_id == demo.agreement)).first()
    payment.billing_profile_id = other.id
    b.session.commit()
    sign_in_as(browser, "rasmus@example.com", "en")
    assert browser.get(f"/en/accounts/{demo.agreement}/payments/{payment.id}").status_code == 404
    assert "0 payments shown" in browser.get(f"/en/accounts/{demo.agreement}/payments").get_data(as_text=True)


# --- B10: personal settings --------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_b10_my_settings_saves_language_and_time_zone(browser, demo, b, lang):
    sign_in_as(browser, "erik@example.com", lang)
    url = f"/{lang}/settings"
    page = browser.get(url).get_data(as_text=True)
    assert {"sv": "Mina inställningar", "en": "My settings"}[lang] in page
    assert 'value="Europe/Stockholm" selected' in page or 'selected value="Europe/Stockholm"' in page
    response = browser.post(url, {"locale": "en", "timezone": "Europe/London"})
    assert response.status_code == 303
    b.session.rollback()
    erik = b.session.scalars(select(User).where(User.email == "erik@example.com")).one()
    assert (erik.locale, erik.timezone) == ("en", "Europe/London")
    bad = browser.post(url, {"locale": "en", "timezone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert {"sv": "Välj ett av alternativen i listan", "en": "Choose one of the options in the list"}[lang] \
        in bad.get_data(as_text=True)


def test_b10_times_follow_the_chosen_time_zone(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "en")
    url = f"/en/accounts/{demo.agreement}/payments"
    stockholm = text(main(browser.get(url).get_data(as_text=True)))
    assert "12:00 PM" in stockholm  # the demo payment: 10:00 UTC in September (summer time)
    browser.post("/en/settings", {"locale": "sv", "timezone": "America/New_York"})
    new_york = text(main(browser.get(url).get_data(as_text=True)))
    assert "6:00 AM" in new_york and "12:00 PM" not in new_york


def test_b10_a_payer_gets_their_own_receipt_in_their_own_language(browser, demo, b):
    david = b.session.scalars(select(User).where(User.email == "david@example.com")).one()  # English
    card = b.session.scalars(select(PaymentMethod).where(PaymentMethod.account_id == demo.agreement,
                                                         PaymentMethod.kind == "card")).first()
    quote = payments.quote_invoices(b, david, demo.profile, [demo.past_due])
    payments.pay_invoices(b, david, demo.profile, [demo.past_due], UseSavedCard(card.id), quote.total.minor,
                          "payer-copy")
    b.session.commit()
    receipts = {m.to_address: m.locale for m in b.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "receipt"))}
    assert receipts == {"olivia@example.com": "sv", "david@example.com": "en"}


# --- R06/B2: what is owed ---------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_r06_b2_every_role_sees_what_each_subscription_owes_and_the_total(browser, demo, lang):
    sign_in_as(browser, "erik@example.com", lang)  # may not settle
    page = text(main(browser.get(f"/{lang}/accounts/{demo.payg}/").get_data(as_text=True)))
    total = {"sv": "Totalt utestående 3 347,00 kr", "en": "Total outstanding SEK 3,347.00"}[lang]
    assert total in page
    assert {"sv": "2 469,00 kr", "en": "SEK 2,469.00"}[lang] in page  # Webbshop – produktion


def test_b8_the_audit_log_tells_method_changes_in_words(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    url = f"/en/accounts/{demo.payg}/payment-methods"
    browser.post(f"{url}/cards", card("5555555555554444"), token_from=url)
    log = text(browser.get(f"/en/accounts/{demo.payg}/audit").get_data(as_text=True))
    assert "Mastercard ending in 4444 was added. Nothing was charged." in log
    assert b.session.scalars(select(AuditEvent.action).where(AuditEvent.account_id == demo.payg)).all() \
        == ["payment_method.added"]
