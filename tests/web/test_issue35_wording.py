"""Issue 35: the December 2026 review's Swedish items, as a reader meets them — on the
page where one is shown, and as Babel renders the message (placeholders filled) for
emails and flash messages. The catalog-wide rules are in tests/i18n/test_glossary.py;
the review is ../shared/reviews/2026-12-review.md."""
from __future__ import annotations

import re

import pytest
from flask_babel import force_locale, gettext, ngettext, pgettext
from sqlalchemy import select

from portal.models import Payment
from tests.web.conftest import sign_in_as
from tests.web.test_invoice_documents import text_of


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


CARD, AMOUNT = "Visa som slutar på 4242", "8 140,00 kr"


@pytest.mark.parametrize("item, msgid, values, swedish", [
    ("sv-1", "We charged %(amount)s to %(method)s for invoice %(number)s. There is nothing more to do.",
     dict(amount=AMOUNT, method=CARD, number="10003"),
     f"Vi har debiterat {CARD} med {AMOUNT} för faktura 10003. Du behöver inte göra något mer."),
    ("sv-2", "We tried to charge %(amount)s to %(method)s for invoice %(number)s, but the payment did not go through.",
     dict(amount=AMOUNT, method=CARD, number="10003"),
     f"Vi försökte debitera {CARD} med {AMOUNT} för faktura 10003, men betalningen gick inte igenom."),
    ("sv-6", "%(method)s is now the default payment method. Invoices issued from now on are charged to it.",
     dict(method=CARD), f"{CARD} är nu standardbetalningsmetod. Kortet debiteras automatiskt för fakturor som "
                        "utfärdas från och med nu."),
    ("sv-8", "Invoices for %(profile)s are not charged to a card automatically now.", dict(profile="Sverige"),
     "Inget kort debiteras automatiskt för fakturor för Sverige just nu."),
    ("sv-10", "We could not collect the payment for %(subscription)s, so the subscription is past due.",
     dict(subscription="Arkiv"), "Betalningen för Arkiv kunde inte genomföras, så prenumerationen är förfallen."),
    ("sv-12", "You receive this email because you made this payment in the %(provider)s billing portal. "
              "The account's billing notification address has its own copy.", dict(provider="Contoso Cloud"),
     "Du får det här e-postmeddelandet eftersom du gjorde betalningen i faktureringsportalen för Contoso Cloud. "
     "Adressen för kontots faktureringsaviseringar har fått en egen kopia."),
    ("sv-13", "Check/wire transfer is now the default payment method. Pay invoices to the remittance details on "
              "each invoice.", {}, "Check/banköverföring är nu standardbetalningsmetod. Betala fakturorna enligt "
                                  "betalningsinformationen på varje faktura."),
    ("sv-25", "If you did not expect this change, sign in and check the billing details, or contact your account "
              "administrator.", {}, "Om du inte väntade dig den här ändringen loggar du in och kontrollerar "
                                    "faktureringsuppgifterna eller kontaktar din kontoadministratör."),
    ("sv-32", "Fields for the new card's details have appeared below.", {},
     "Fält för det nya kortets uppgifter visas nu nedan."),
    ("sv-43", "If the check does not succeed either, wait a few minutes and try again. If it keeps happening, open "
              "a support request and tell us when you paid.", {},
     "Om kontrollen inte heller lyckas väntar du några minuter och försöker igen. Om det fortsätter skickar du en "
     "supportbegäran och berättar när du betalade."),
    ("sv-44", "You pay by invoice, and we have not received the payment. Send it to the remittance details below, "
              "or pay online with a card: all subscriptions that are paid by invoice are paid together, and the card "
              "becomes their payment method.", {},
     "Du betalar mot faktura, och vi har inte fått in betalningen. Betala till kontot i betalningsinformationen "
     "nedan, eller betala online med kort: alla prenumerationer som betalas mot faktura betalas då tillsammans, "
     "och kortet blir deras betalningsmetod."),
])
def test_i35_substantive_messages_read_as_the_review_decided(app, item, msgid, values, swedish):
    with app.test_request_context(), force_locale("sv"):
        assert gettext(msgid, **values) == swedish, item


def test_i35_sv17_ocr_advice_a_bank_can_follow(app):
    """A bankgiro payment carries one OCR number: several invoices are paid one by one."""
    with app.test_request_context(), force_locale("sv"):
        one, many = (ngettext("Give this OCR reference with the transfer:",
                              "Pay each invoice with its own transfer and OCR reference:", n)
                     for n in (1, 3))
    assert one == "Ange det här OCR-numret när du betalar:"
    assert many == "Betala varje faktura för sig och ange dess OCR-nummer:"


def test_i35_sv41_the_period_filter_and_the_invoice_parties_have_their_own_to(app):
    with app.test_request_context(), force_locale("sv"):
        assert (pgettext("period filter", "From"), pgettext("period filter", "To")) == ("Från och med", "Till och med")
        assert (gettext("From"), gettext("To")) == ("Från", "Till")


def test_i35_sv41_the_payments_filter_says_till_och_med(browser, demo):
    sign_in_as(browser, "olivia@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.agreement}/payments").get_data(as_text=True)
    labels = [text(label) for label in re.findall(r"<label[^>]*>(.*?)</label>", page, re.S)]
    assert "Från och med" in labels and "Till och med" in labels, labels
    assert "Till" not in labels


def test_i35_sv16_sv33_payment_methods_headers_and_button(browser, demo):
    sign_in_as(browser, "anna@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.payg}/payment-methods").get_data(as_text=True)
    headers = [text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", page, re.S)]
    assert "Giltig till" in headers and "Går ut" not in headers, headers
    sign_in_as(browser, "olivia@example.com", "sv")
    page = text(browser.get(f"/sv/accounts/{demo.agreement}/payment-methods").get_data(as_text=True))
    assert "Spara standardmetod" in page and "Spara standard " not in page


def test_i35_sv14_the_meta_description_says_forfallet_belopp(browser, demo):
    page = browser.get("/sv/sign-in").get_data(as_text=True)
    description = re.search(r'<meta name="description" content="([^"]+)"', page).group(1)
    assert "reglera ett förfallet belopp" in description and "saldo" not in description


def test_i35_a11y4_the_settle_page_title_names_the_account(browser, demo):
    sign_in_as(browser, "anna@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.payg}/subscriptions/{demo.production}/settle").get_data(as_text=True)
    assert re.search(r"<title>Reglera saldo – Nordlund Konsult AB – Contoso Cloud</title>", page), \
        re.search(r"<title>.*?</title>", page).group(0)


def test_i35_a11y8_reasons_are_a_list_in_the_language_not_glued_with_semicolons(app):
    from portal.errors import MethodInUse
    from portal.web.methods import in_use_text
    in_use = MethodInUse(default_for=["Sverige"], subscriptions=2, unconfirmed=False)
    with app.test_request_context(), force_locale("sv"):
        swedish = in_use_text(in_use)
    assert ";" not in swedish and " och " in swedish, swedish


def test_i35_a11y4_each_receipts_title_names_its_payment(browser, demo, b):
    """Not "Kvitto – Contoso Cloud" on every receipt: the title names the payment by the
    reference its PDF carries, so two receipts' titles differ."""
    sign_in_as(browser, "anna@example.com", "sv")
    titles = {}
    for payment_id in b.session.scalars(select(Payment.id).where(Payment.account_id == demo.payg).limit(2)):
        page = browser.get(f"/sv/accounts/{demo.payg}/payments/{payment_id}").get_data(as_text=True)
        title = re.search(r"<title>Kvitto (\S+) – Contoso Cloud</title>", page)
        assert title, re.search(r"<title>.*?</title>", page).group(0)
        titles[payment_id] = title.group(1)
        assert title.group(1) in text_of(browser.get(f"/sv/accounts/{demo.payg}/payments/{payment_id}/pdf").data)
    assert len(titles) == 2 and len(set(titles.values())) == 2, titles


def test_i35_a11y8_the_audit_logs_invoice_list_is_the_languages_list(app):
    """The second glued place: an audit sentence's invoices were joined with ", "."""
    from types import SimpleNamespace
    from portal.wording import audit_text
    event = SimpleNamespace(action="payment.succeeded", actor=None, details={
        "amount_minor": 500_00, "currency": "SEK", "invoices": ["10003", "10004", "10005"],
        "method": {"kind": "card", "brand": "visa", "last4": "4242"}})
    for lang, listed in (("sv", "fakturorna 10003, 10004 och 10005"), ("en", "invoices 10003, 10004, and 10005")):
        with app.test_request_context(f"/{lang}/"), force_locale(lang):
            assert listed in audit_text(event), audit_text(event)
