"""Issue 33 item 2 in real Chromium with JavaScript off, one walk per language: Overview →
Costs by its navigation link, a spending alert refused (the error summary and its field)
and then set, for the whole account and for one subscription, by keyboard alone. With scripts off Playwright cannot run axe or read the
focus by script (page.evaluate never returns), so focus is found by the :focus selector,
and axe checks the same pages (Costs, Costs with the refusal) in the sweep
(tests/browser/states.py, with scripts on: the pages are the same HTML)."""
from __future__ import annotations

import pytest

from tests.browser.test_keyboard import press_and_wait_for_page

ANNA = "anna@example.com"
WORDS = {
    "sv": {"costs": "Kostnader", "save": "Spara kostnadsvarningen", "summary": "Det finns ett problem",
           "refused": "Ange ett belopp med siffror", "amount": "2 000",
           "done": "Kostnadsvarningen är inställd: du får ett e-postmeddelande när månadens kostnader når 80 % och "
                   "100 % av 2 000,00 kr.", "set": "Varningen är inställd på 2 000,00 kr per månad.",
           "one": "Arkiv: 500,00 kr per månad"},
    "en": {"costs": "Costs", "save": "Save the spending alert", "summary": "There is a problem",
           "refused": "Enter an amount in numbers", "amount": "2,000",
           "done": "The spending alert is set: you get an email when this month's costs reach 80 % and 100 % of "
                   "SEK 2,000.00.", "set": "The alert is set at SEK 2,000.00 a month.",
           "one": "Arkiv: SEK 500.00 a month"},
}


def tab_to(page, selector: str, max_steps: int = 80) -> None:
    """Tab until `selector` has focus (found without a script of the page's own)."""
    for _ in range(max_steps):
        page.keyboard.press("Tab")
        if page.locator(f"{selector}:focus").count():
            return
    raise AssertionError(f"Tab never reached {selector}")


def replace_value(page, value):
    page.keyboard.press("Control+A")
    page.keyboard.type(value)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i33_keyboard_only_set_a_spending_alert_without_javascript(fresh_site, chromium, lang):
    words = WORDS[lang]
    context = chromium.new_context(java_script_enabled=False, storage_state=fresh_site.signed_in(chromium, ANNA))
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"{fresh_site.url}/{lang}/accounts/{fresh_site.ids['payg']}/")
        tab_to(page, f"nav.main-nav a[href$='/{lang}/accounts/{fresh_site.ids['payg']}/costs']")
        press_and_wait_for_page(page)
        assert page.locator("h1").inner_text().endswith(words["costs"])
        assert page.locator("svg.cost-chart__svg rect").count() == 6  # drawn without a script
        assert page.locator("form[action$='/costs/alert'] button").inner_text() == words["save"]

        tab_to(page, "#amount")
        replace_value(page, "tusen")
        tab_to(page, "form[action$='/costs/alert'] button[type=submit]")
        press_and_wait_for_page(page)
        assert words["summary"] in page.locator(".error-summary").inner_text()
        assert words["refused"] in page.locator("main").inner_text()
        assert page.locator("h1").inner_text().endswith(words["costs"])

        tab_to(page, "#amount")
        replace_value(page, words["amount"])
        tab_to(page, "form[action$='/costs/alert'] button[type=submit]")
        press_and_wait_for_page(page)
        assert words["done"] in page.locator(".flash").inner_text().replace("\xa0", " ")
        assert words["set"] in page.locator("main").inner_text().replace("\xa0", " ")

        # One subscription's alert: chosen in the list by typing its name, as a person does.
        tab_to(page, "#applies_to")
        page.keyboard.type("Ark")
        tab_to(page, "#amount")
        replace_value(page, "500")
        tab_to(page, "form[action$='/costs/alert'] button[type=submit]")
        press_and_wait_for_page(page)
        assert words["one"] in page.locator("main").inner_text().replace("\xa0", " ")
    finally:
        context.close()
