"""Issue 33 item 1 in real Chromium with JavaScript off, one walk per language:
Overview → the subscription's page → Cancel at period end → confirm → Undo
cancellation → confirm → (B21) Pause subscription → confirm → Resume subscription →
confirm, by keyboard alone. axe-core itself needs JavaScript (its run waits on timers a
page without it never fires), so the same pages in each state are checked by the axe
sweep with JavaScript on (tests/browser/states.py: subscription*) — except the paused
state, which the read-only sweep's site never has: while the walk has it paused, its
page and its Resume confirmation are checked with axe in a context with JavaScript on.
Here each page is checked for visible labels and errors tied to their fields. The test
site's provider allows pauses (tests/browser/server.py: SUBSCRIPTION_PAUSE)."""
from __future__ import annotations

import pytest

from tests.browser.a11y import assert_accessible, assert_errors_tied_to_fields, assert_labels_visible, press_tab_until
from tests.browser.conftest import LOCALES, _page
from tests.browser.test_keyboard import press_and_wait_for_page

WORDS = {
    "sv": {"cancel": "Avsluta vid periodens slut", "undo": "Ångra avslutet",
           "question": "Avsluta Intranät vid periodens slut?", "done": "Intranät avslutas vid periodens slut.",
           "undone": "Avslutet är ångrat: Intranät fortsätter.",
           "pause": "Pausa prenumerationen", "resume": "Återuppta prenumerationen",
           "paused": "Intranät är pausad från och med", "resumed": "Intranät är igång igen från och med"},
    "en": {"cancel": "Cancel at period end", "undo": "Undo cancellation",
           "question": "Cancel Intranät at the end of the period?", "done": "Intranät is cancelled at the end",
           "undone": "The cancellation is undone: Intranät keeps running.",
           "pause": "Pause subscription", "resume": "Resume subscription",
           "paused": "Intranät is paused from", "resumed": "Intranät is running again from"},
}


def checked(page):
    assert page.evaluate("() => document.scripts.length === 0 || !window.htmx")  # JavaScript is off
    assert_labels_visible(page)
    assert_errors_tied_to_fields(page)


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
        checked(page)

        press_button(page, words["cancel"])
        assert words["question"] in page.locator("h1").inner_text()
        checked(page)
        press_button(page, words["cancel"])  # the form's button
        assert words["done"] in page.locator(".flash").inner_text()
        checked(page)

        press_button(page, words["undo"])
        checked(page)
        press_button(page, words["undo"])
        assert words["undone"] in page.locator(".flash").inner_text()
        press_tab_until(page, lambda w: w["tag"] == "a" and w["text"].strip() == words["cancel"])  # offered again

        # B21: pause, then resume.
        press_button(page, words["pause"])
        checked(page)
        press_button(page, words["pause"])  # the form's button
        assert words["paused"] in page.locator(".flash").inner_text()
        checked(page)
        paused_pages_pass_axe(chromium, fresh_site, lang, page.url)
        press_button(page, words["resume"])
        checked(page)
        press_button(page, words["resume"])
        assert words["resumed"] in page.locator(".flash").inner_text()
        press_tab_until(page, lambda w: w["tag"] == "a" and w["text"].strip() == words["pause"])  # offered again
    finally:
        context.close()


def paused_pages_pass_axe(chromium, site, lang, url):
    """The paused subscription's page and its Resume confirmation, with JavaScript on."""
    context = chromium.new_context(locale=LOCALES[lang], storage_state=site.signed_in(chromium, "anna@example.com"))
    context.set_default_timeout(10_000)
    try:
        page = _page(context, site, lang)
        for address, what in ((url, "subscription-paused"), (url + "/resume", "subscription-resume")):
            page.goto(address)
            assert_accessible(page, f"{what} ({lang})")
    finally:
        context.close()
