"""Issue 20 items 7 and 8: what the Swedish reviewer asked for, on the pages
themselves (the catalog-wide rules are in tests/i18n/test_glossary.py)."""
from __future__ import annotations

import re

import pytest

from tests.web.conftest import sign_in_as


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.mark.parametrize("lang, paid", [
    ("sv", r"Betald den \d{1,2} [a-zé]+\.? 2026 med Visa som slutar på 4242"),
    ("en", r"Paid on [A-Z][a-z]{2} \d{1,2}, 2026 with Visa ending in 4242"),
])
def test_i20_8_a_paid_invoice_says_when_and_how_in_one_message(browser, demo, lang, paid):
    sign_in_as(browser, "olivia@example.com", lang)
    page = text(browser.get(f"/{lang}/accounts/{demo.agreement}/invoices").get_data(as_text=True))
    assert re.search(paid, page), page
    assert not re.search(r"(Betald|Paid) (den|on) [^.]*(Betald|Paid)", page)  # never the badge and the sentence twice


@pytest.mark.parametrize("lang, future, question", [
    ("sv", r"Inaktiveras den \d{1,2} december 2026", "Har du betalat men prenumerationen är fortfarande inaktiverad?"),
    ("en", r"Will be disabled on December \d{1,2}, 2026", "Paid, but the subscription is still disabled?"),
])
def test_i20_7_overview_says_a_future_disable_day_as_future_and_asks_a_whole_question(browser, demo, lang, future,
                                                                                    question):
    sign_in_as(browser, "anna@example.com", lang)
    page = text(browser.get(f"/{lang}/accounts/{demo.payg}/").get_data(as_text=True))
    assert re.search(future, page), page
    assert question in page
    assert "Disabled on" not in page and "Inaktiveras 1" not in page


@pytest.mark.parametrize("lang, moment", [
    ("sv", r"\d{1,2} [a-zé]+ 2026 kl\. \d{2}:\d{2}(?!:)"),
    ("en", r"[A-Z][a-z]+ \d{1,2}, 2026 at \d{1,2}:\d{2}\s[AP]M"),
])
def test_i20_7_times_say_kl_and_have_no_seconds(browser, demo, lang, moment):
    sign_in_as(browser, "olivia@example.com", lang)
    page = text(browser.get(f"/{lang}/accounts/{demo.agreement}/payments").get_data(as_text=True))
    assert re.search(moment, page), page
    assert not re.search(r"\d{1,2}:\d{2}:\d{2}", page)


def test_i20_7_the_account_kind_and_the_worst_level_read_right_in_swedish(browser, demo):
    sign_in_as(browser, "anna@example.com", "sv")
    page = text(browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True))
    assert "Konto med betalning per användning" in page and "Betala per användning-konto" not in page
