"""B23 in real Chromium, one walk per language: Payment methods → give an Autogiro
mandate by keyboard alone, a clearing number no bank has first (the error summary and
its field), then a real account: pending, waiting for the bank; axe clean on each page.
The form is plain (POST, then redirect), so the same walk works without JavaScript
(tests/web/test_autogiro_pages.py proves that path in-process)."""
from __future__ import annotations

import pytest

from tests.browser.a11y import assert_accessible, press_tab_until
from tests.browser.test_keyboard import press_and_wait_for_page, sign_in_by_keyboard

WORDS = {
    "sv": {"give": "Lämna medgivandet", "summary": "Det finns ett problem", "clearing": "Ange ett clearingnummer",
           "sent": "har skickats till Bankgirot", "pending": "Väntar på banken"},
    "en": {"give": "Give the mandate", "summary": "There is a problem", "clearing": "Enter a clearing number",
           "sent": "has been sent to Bankgirot", "pending": "Pending: waiting for the bank"},
}


def type_into(page, field_id, value):
    press_tab_until(page, lambda w: w["id"] == field_id)
    page.keyboard.press("Control+A")
    page.keyboard.type(value)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i34_keyboard_only_give_an_autogiro_mandate(fresh_site, open_page, lang):
    words, ids = WORDS[lang], fresh_site.ids
    page = open_page(fresh_site, lang=lang)
    sign_in_by_keyboard(page, "olivia@example.com")
    page.goto(f"{page.base}/{lang}/accounts/{ids['agreement']}/payment-methods")
    prefix = f"ag{ids['profile']}-"
    type_into(page, prefix + "clearing", "0999")
    type_into(page, prefix + "account_number", "573 521-1")
    type_into(page, prefix + "payer_id", "556036-0793")
    press_tab_until(page, lambda w: w["id"] == prefix + "accept")
    page.keyboard.press("Space")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"].startswith(words["give"]))
    press_and_wait_for_page(page)
    assert words["summary"] in page.locator(".error-summary").inner_text()
    assert words["clearing"] in page.locator(f"#{prefix}clearing-error").inner_text()
    assert_accessible(page, f"an Autogiro mandate with errors ({lang})")

    type_into(page, prefix + "clearing", "9029")
    if not page.locator(f"#{prefix}accept").is_checked():
        press_tab_until(page, lambda w: w["id"] == prefix + "accept")
        page.keyboard.press("Space")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"].startswith(words["give"]))
    press_and_wait_for_page(page)
    assert words["sent"] in page.locator(".flash").inner_text()
    assert words["pending"] in page.locator("main table").inner_text()
    assert_accessible(page, f"payment methods with a pending mandate ({lang})")
