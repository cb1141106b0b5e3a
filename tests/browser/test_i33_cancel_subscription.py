"""Issue 33 item 1 in real Chromium with JavaScript off, one walk per language:
Overview → the subscription's page → Cancel at period end → confirm → Undo
cancellation → confirm, by keyboard alone, axe clean on each page (axe is injected
by the test's own protocol session, which the page's "JavaScript off" does not stop)."""
from __future__ import annotations

import pytest

from tests.browser.a11y import assert_accessible, press_tab_until
from tests.browser.conftest import LOCALES, _page
from tests.browser.test_keyboard import press_and_wait_for_page

WORDS = {
    "sv": {"cancel": "Avsluta vid periodens slut", "undo": "Ångra avslutet",
           "question": "Avsluta Intranät vid periodens slut?", "done": "Intranät avslutas vid periodens slut.",
           "undone": "Avslutet är ångrat: Intranät fortsätter."},
    "en": {"cancel": "Cancel at period end", "undo": "Undo cancellation",
           "question": "Cancel Intranät at the end of the period?", "done": "Intranät is cancelled at the end",
           "undone": "The cancellation is undone: Intranät keeps running."},
}


def press_button(page, text):
    press_tab_until(page, lambda w: w["tag"] in ("a", "button") and w["text"].strip() == text)
    press_and_wait_for_page(page)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i33_keyboard_only_cancel_and_undo_with_javascript_off(fresh_site, chromium, lang):
    words = WORDS[lang]
    context = chromium.new_context(locale=LOCALES[lang], java_script_enabled=False,
                                   storage_state=fresh_site.signed_in(chromium, "anna@example.com"))
    context.set_default_timeout(10_000)
    try:
        page = _page(context, fresh_site, lang)
        page.goto(f"{page.base}/{lang}/accounts/{fresh_site.ids['payg']}/")
        press_tab_until(page, lambda w: w["tag"] == "a" and w["text"].strip() == "Intranät")
        press_and_wait_for_page(page)
        assert page.locator("h1").inner_text().endswith("Intranät")
        assert_accessible(page, f"subscription page ({lang})")

        press_button(page, words["cancel"])
        assert words["question"] in page.locator("h1").inner_text()
        assert_accessible(page, f"cancel confirmation ({lang})")
        press_button(page, words["cancel"])  # the form's button
        assert words["done"] in page.locator(".flash").inner_text()
        assert_accessible(page, f"subscription cancelled ({lang})")

        press_button(page, words["undo"])
        assert_accessible(page, f"undo confirmation ({lang})")
        press_button(page, words["undo"])
        assert words["undone"] in page.locator(".flash").inner_text()
        press_tab_until(page, lambda w: w["tag"] == "a" and w["text"].strip() == words["cancel"])  # offered again
    finally:
        context.close()
