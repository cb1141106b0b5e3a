"""Issue 17 in real Chromium: payment methods by keyboard alone (add a card, move a
subscription after its preview), and the payments, export, default method and
personal settings with JavaScript switched off. These change data, so they run on a
server of their own."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.browser.a11y import assert_accessible, focused, press_tab_until
from tests.browser.test_keyboard import press_and_wait_for_page, sign_in_by_keyboard

ANNA, OLIVIA = "anna@example.com", "olivia@example.com"


def test_b8_keyboard_only_add_a_card_then_move_a_subscription_to_it(fresh_site, open_page):
    page = open_page(fresh_site, lang="sv")
    sign_in_by_keyboard(page, ANNA)
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"] == "Betalningsmetoder")
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith("Betalningsmetoder")

    # Add a card: every field by typing, the button by Enter.
    press_tab_until(page, lambda w: w["id"] == "card_number")
    for value in ("5555 5555 5555 4444", "04", "2031", "123", "Anna Lindqvist"):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    assert focused(page)["text"].startswith("Lägg till kort")
    press_and_wait_for_page(page)
    assert "Mastercard som slutar på 4444 har lagts till. Ingenting har debiterats." in \
        page.locator(".flash").inner_text()
    # issue 35 a11y-3: the outcome of the full-page POST has focus, so it is read out
    assert 'class="flash' in focused(page)["html"] and "har lagts till" in focused(page)["text"]
    assert_accessible(page, "payment methods after adding a card (sv)")

    # Move Webbshop – produktion to the Mastercard: tick it, choose the card, see the preview.
    press_tab_until(page, lambda w: w["tag"] == "input" and w["type"] == "checkbox")
    page.keyboard.press("Space")
    press_tab_until(page, lambda w: w["id"] == "to")
    # ux-F4: nothing is chosen beforehand ("Välj ett kort"); down past the card that failed
    # to the first Mastercard.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"] == "Visa vad som ändras")
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith("Flytta prenumerationer till ett annat kort")
    assert "Webbshop – produktion" in page.locator("main table").inner_text()
    assert_accessible(page, "move preview (sv)")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"] == "Flytta prenumerationerna")
    press_and_wait_for_page(page)
    assert "1 prenumeration använder nu Mastercard som slutar på 4444." in page.locator(".flash").inner_text()


def _no_js_page(chromium, site, user, lang):
    context = chromium.new_context(java_script_enabled=False, storage_state=site.signed_in(chromium, user),
                                   accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    return context, page


def test_b9_b10_r15_without_javascript(fresh_site, chromium):
    context, page = _no_js_page(chromium, fresh_site, OLIVIA, "en")
    try:
        base = f"{fresh_site.url}/en/accounts/{fresh_site.ids['agreement']}"
        # Payments, filtered by a period, and the period's export.
        page.goto(f"{base}/payments")
        page.fill("#first", "2026-01-01")
        page.fill("#last", "2026-12-31")
        with page.expect_navigation():
            page.click("form.filter button[type=submit]")
        assert "first=2026-01-01" in page.url and "1 payment shown" in page.locator("main").inner_text()
        with page.expect_download() as download:
            page.click("text=Download the payments of the period (CSV)")
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
        assert rows[0][0] == "Date" and len(rows) == 2

        # R15: the default payment method, chosen with a radio button and a plain form.
        page.goto(f"{base}/payment-methods")
        page.check(f"input[type=radio][value='{fresh_site.ids['agreement_card']}']")
        with page.expect_navigation():
            page.click("text=Save default")
        assert "is now the default payment method" in page.locator(".flash").inner_text()

        # B10: my settings, from the link in the header.
        with page.expect_navigation():
            page.click("header >> text=My settings")
        page.check("input[name=locale][value=en]")
        page.select_option("#timezone", "Europe/London")
        with page.expect_navigation():
            page.click("main button[type=submit]")
        assert "Your settings have been saved." in page.locator(".flash").inner_text()
        assert page.locator("#timezone").input_value() == "Europe/London"
    finally:
        context.close()
