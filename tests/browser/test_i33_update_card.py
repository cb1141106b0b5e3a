"""Issue 33 item 3 in real Chromium, one walk per language: Payment methods → update a
saved card's expiry date and name in place, by keyboard alone, a refused date first
(the error summary and its field), axe clean on each page. The page is a plain form
(POST, then redirect), so the same walk works without JavaScript
(tests/web/test_i33_ux.py proves that path in-process)."""
from __future__ import annotations

import pytest

from tests.browser.a11y import assert_accessible, focused, press_tab_until
from tests.browser.test_keyboard import press_and_wait_for_page, sign_in_by_keyboard

WORDS = {
    "sv": {"methods": "Betalningsmetoder", "update": "Uppdatera giltighetstiden", "save": "Spara kortuppgifterna",
           "passed": "Det datumet har redan passerat", "summary": "Det finns ett problem",
           "done": "har uppdaterats och är giltigt till och med 30 april 2031"},
    "en": {"methods": "Payment methods", "update": "Update expiry date", "save": "Save the card's details",
           "passed": "That date has passed", "summary": "There is a problem",
           "done": "has been updated. It is good through April 30, 2031"},
}


def replace_value(page, value):
    page.keyboard.press("Control+A")
    page.keyboard.type(value)


@pytest.mark.parametrize("lang, last4", [("sv", "4242"), ("en", "4444")])
def test_i33_item3_keyboard_only_update_a_saved_card_in_place(fresh_site, open_page, lang, last4):
    words = WORDS[lang]
    page = open_page(fresh_site, lang=lang)
    sign_in_by_keyboard(page, "anna@example.com")
    page.goto(f"{page.base}/{lang}/accounts/{fresh_site.ids['payg']}/")  # the page's language, whatever she saved
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"] == words["methods"])
    press_and_wait_for_page(page)
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"].startswith(words["update"]) and last4 in w["text"])
    press_and_wait_for_page(page)
    assert last4 in page.locator("h1").inner_text()
    assert page.locator("#card_number").count() == 0  # the same number: not asked again
    assert_accessible(page, f"update a card ({lang})")

    # A date that has passed: refused by the server, said at the top and at the field.
    press_tab_until(page, lambda w: w["id"] == "exp_year")
    replace_value(page, "2025")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"] == words["save"])
    press_and_wait_for_page(page)
    assert words["summary"] in page.locator(".error-summary").inner_text()
    assert words["passed"] in page.locator("main").inner_text()
    assert_accessible(page, f"update a card with errors ({lang})")

    press_tab_until(page, lambda w: w["id"] == "exp_month")
    replace_value(page, "04")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "exp_year"
    replace_value(page, "2031")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "holder"
    replace_value(page, "Anna Lindqvist")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"] == words["save"])
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith(words["methods"])
    assert words["done"] in page.locator(".flash").inner_text()
    assert "04/2031" in page.locator("main table").inner_text()
    assert 'class="flash' in focused(page)["html"]  # the outcome has focus, so it is read out
    assert_accessible(page, f"payment methods after updating a card ({lang})")


def test_i33_f22_an_open_disclosure_stays_open_when_the_payment_panel_is_swapped(site, open_page):
    """ux-F22: "Pay only part of it now?" opened, then another method chosen: the panel
    is swapped in anew and the disclosure is still open."""
    from tests.browser.states import choose, pay_now
    page = open_page(site, "olivia@example.com", lang="sv")
    pay_now(page, site.ids)
    choose(page, str(site.ids["agreement_card"]))
    page.locator("details.part-box summary").focus()
    page.keyboard.press("Enter")
    assert page.locator("details.part-box").get_attribute("open") is not None
    choose(page, "new")  # the panel is swapped
    assert page.locator("details.part-box").get_attribute("open") is not None
