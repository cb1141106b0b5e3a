"""B24 in real Chromium with JavaScript off, one walk per language: the subscription's
page → Change plan → choose another plan by keyboard → confirm → the new plan and price on
its page. axe-core needs JavaScript, so the same pages are checked by the axe sweep
(tests/browser/states.py: subscription-change-plan*); here each page is checked for
visible labels and errors tied to their fields. The test site's provider allows plan
changes (tests/browser/server.py: SUBSCRIPTION_PLANS)."""
from __future__ import annotations

import pytest

from tests.browser.a11y import press_tab_until
from tests.browser.conftest import LOCALES, _page
from tests.browser.test_i33_cancel_subscription import checked, press_button

WORDS = {
    "sv": {"change": "Byt plan", "question": "Byt plan för Intranät", "plan": "Premium",
           "label": "Premium: 990,00 kr i månaden",
           "done": "Intranät har planen Premium från och med 1 november 2026, för 990,00 kr i månaden."},
    # The module's site is shared: after the Swedish walk Intranät is on Premium, so back to Bas.
    "en": {"change": "Change plan", "question": "Change the plan of Intranät", "plan": "Bas",
           "label": "Bas: SEK 290.00 a month",
           "done": "Intranät is on the Bas plan from November 1, 2026, at SEK 290.00 a month."},
}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b24_keyboard_only_change_plan_with_javascript_off(fresh_site, chromium, lang):
    words = WORDS[lang]
    context = chromium.new_context(locale=LOCALES[lang], java_script_enabled=False,
                                   storage_state=fresh_site.signed_in(chromium, "anna@example.com"))
    context.set_default_timeout(10_000)
    try:
        page = _page(context, fresh_site, lang)
        page.goto(f"{page.base}/{lang}/accounts/{fresh_site.ids['payg']}/subscriptions/{fresh_site.ids['intranet']}")
        press_button(page, words["change"])
        assert words["question"] in page.locator("h1").inner_text()
        checked(page)
        press_tab_until(page, lambda w: w["tag"] == "input"
                        and page.evaluate("() => document.activeElement.type") == "radio")
        for _ in range(3):  # arrow keys move through a radio group, checking as they go
            if page.evaluate("() => document.activeElement.value") == words["plan"]:
                break
            page.keyboard.press("ArrowDown")
        assert words["label"] in " ".join(page.evaluate("() => document.activeElement.labels[0].innerText").split())
        page.keyboard.press("Space")
        press_button(page, words["change"])  # the form's button
        assert words["done"] in " ".join(page.locator(".flash").inner_text().split())
        assert words["plan"] in page.locator("dl.facts").inner_text()
        checked(page)
    finally:
        context.close()
