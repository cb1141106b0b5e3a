"""Keyboard only: Settle balance and Pay now from sign-in to receipt with Tab,
Shift+Tab, Enter, Space and the arrow keys — no mouse, no page.goto after sign-in.
After each htmx swap focus is on something sensible (never <body>) and the new total
is announced through the live region. These pay, so they run on a server of their own.
"""
from __future__ import annotations

import re

import pytest

from tests.browser.a11y import (assert_accessible, assert_focus_not_lost, focused, press_tab_until,
                                swaps, tab_through, wait_for_announcement, wait_for_swap)

ANNA, OLIVIA, RASMUS = "anna@example.com", "olivia@example.com", "rasmus@example.com"


def sign_in_by_keyboard(page, email):
    page.goto(f"{page.base}/{page.lang}/sign-in")
    press_tab_until(page, lambda w: w["id"] == "email")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type("demo-password")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/accounts/" in page.url, "signed in and on the overview"


def press_and_wait_for_page(page, key="Enter"):
    with page.expect_navigation():
        page.keyboard.press(key)


def is_radio(where):
    return where["tag"] == "input" and where["type"] == "radio"


def test_r04_r08_r09_keyboard_only_settle_balance(fresh_site, open_page):
    page = open_page(fresh_site, lang="sv")
    sign_in_by_keyboard(page, ANNA)

    # Overview → the Settle balance link of the first past-due subscription (R06).
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"].startswith("Reglera saldo")
                    and "Webbshop – produktion" in w["text"])
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith("Reglera saldo")

    # Select a payment method: Tab reaches the radio group once, the arrow keys choose.
    first = press_tab_until(page, is_radio)
    assert first["id"] == "method-1"
    before = swaps(page)
    page.keyboard.press("ArrowDown")  # the Mastercard that has outstanding charges of its own
    wait_for_swap(page, before)
    where = assert_focus_not_lost(page, "choosing a payment method")
    assert where["id"] == "method-2", "focus stays on the radio the customer chose (WCAG 3.2.2)"
    assert page.is_checked("#method-2")
    # The new total is announced without moving focus (R08: 2 858,00 + 249,00).
    assert wait_for_announcement(page, "Totalt att betala: 3\xa0107,00\xa0kr")

    # Tab on to Pay, Shift+Tab back to the chosen radio, Tab to Pay again, Enter.
    pay = press_tab_until(page, lambda w: w["tag"] == "button" and w["text"].startswith("Betala"))
    assert "3\xa0107,00\xa0kr" in pay["text"], "the button names the amount"
    page.keyboard.press("Shift+Tab")
    assert focused(page)["id"] == "method-2"
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"].startswith("Betala"))
    press_and_wait_for_page(page)

    assert page.locator("h1").inner_text() == "Betalningen har tagits emot"
    assert "3\xa0107,00\xa0kr" in page.locator(".confirmation").inner_text()
    # The receipt, in both languages, passes every check.
    assert_accessible(page, "receipt of a settled balance (sv)")
    with page.expect_navigation():
        page.get_by_role("link", name="English").press("Enter")
    assert "/en/" in page.url and page.locator("h1").inner_text() == "Payment received"
    assert_accessible(page, "receipt of a settled balance (en)")


def test_r21_r22_keyboard_only_pay_now_with_a_new_card_and_an_error(fresh_site, open_page):
    page = open_page(fresh_site, lang="en")
    sign_in_by_keyboard(page, OLIVIA)

    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"] == "Pay now")
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith("Pay now")

    press_tab_until(page, is_radio)
    before = swaps(page)
    page.keyboard.press("ArrowDown")  # Add a new card
    wait_for_swap(page, before)
    assert focused(page)["id"] == "method-2"
    assert page.is_checked("#method-2")
    wait_for_announcement(page, "Total to pay: SEK\xa015,780.00")

    # B12: "Pay only part of it now?" is the next stop (a closed disclosure), then the
    # card form, field by field; the security code is forgotten.
    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "summary" and focused(page)["text"] == "Pay only part of it now?"
    for field_id, text in (("card_number", "4242 4242 4242 4242"), ("exp_month", "4"),
                           ("exp_year", "2030"), ("cvc", None), ("holder", "Olivia Holm")):
        page.keyboard.press("Tab")
        assert focused(page)["id"] == field_id
        if text:
            page.keyboard.type(text)
    page.keyboard.press("Tab")
    assert focused(page)["text"].startswith("Pay now")
    press_and_wait_for_page(page, "Space")

    # The error summary takes focus and links to the field.
    assert page.title().startswith("Error:")
    where = focused(page)
    assert where is not None and "error-summary" in where["html"]
    link = press_tab_until(page, lambda w: w["tag"] == "a")
    assert link["text"] == "Enter the security code"
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "cvc", "the error summary link puts focus in the field"
    assert page.get_attribute("#cvc", "aria-invalid") == "true"
    page.keyboard.type("123")
    # For security the card number is not kept: Shift+Tab back to it and enter it again.
    for field_id in ("exp_year", "exp_month", "card_number"):
        page.keyboard.press("Shift+Tab")
        assert focused(page)["id"] == field_id
    page.keyboard.type("4242424242424242")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"].startswith("Pay now"))
    press_and_wait_for_page(page)

    assert page.locator("h1").inner_text() == "Payment received"
    assert_accessible(page, "receipt of paid invoices (en)")
    # R22: Invoices now shows them as Paid — reached by keyboard from the receipt.
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"] == "Invoices")
    press_and_wait_for_page(page)
    statuses = page.locator("#invoice-table .status").all_inner_texts()
    assert statuses and all(status.startswith("Paid on ") for status in statuses), statuses


def test_invoice_filter_by_keyboard_keeps_focus_and_announces(site, open_page):
    page = open_page(site, OLIVIA, "en")
    page.goto(f"{page.base}/en/accounts/{site.ids['agreement']}/invoices")
    press_tab_until(page, lambda w: w["id"] == "status")
    before = swaps(page)
    page.keyboard.press("ArrowDown")  # a closed <select> changes with the arrow keys
    wait_for_swap(page, before)
    assert focused(page)["id"] == "status", "focus stays on the filter"
    chosen = page.eval_on_selector("#status", "el => el.value")
    assert chosen and re.search(r"status=" + chosen, page.url)
    assert re.fullmatch(r"\d+ invoices? shown", wait_for_announcement(page, "shown"))


def test_skip_link_is_first_visible_and_moves_to_main(site, open_page):
    for user, path in ((None, "/sign-in"), (ANNA, "/accounts/{payg}/")):
        page = open_page(site, user, "sv")
        page.goto(f"{page.base}/sv" + path.format(**site.ids))
        page.keyboard.press("Tab")
        where = focused(page)
        assert where["text"] == "Hoppa till huvudinnehållet"
        box = page.locator(".skip-link").bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0 and box["width"] > 20, "visible when focused"
        page.keyboard.press("Enter")
        assert focused(page)["id"] == "main"
        page.keyboard.press("Tab")
        inside = page.evaluate("() => document.getElementById('main').contains(document.activeElement)")
        assert inside, "the next Tab goes into the main content, past the header"


def test_focus_moves_to_the_panel_heading_when_a_swap_replaces_the_focused_control(site, open_page):
    """A keyboard user who Tabs into the old payment panel before the new one arrives
    lands on the new panel's heading, not on <body>."""
    page = open_page(site, ANNA, "en")
    held, holding = [], []

    def panel_request(route):  # registered before any request, so none can slip past it
        if holding:
            held.append(route)  # hold the answer back
        else:
            route.continue_()
    page.route(re.compile(r".*/settle\?method=.*"), panel_request)
    page.goto(f"{page.base}/en/accounts/{site.ids['payg']}/subscriptions/{site.ids['production']}/settle")
    press_tab_until(page, is_radio)
    before = swaps(page)
    page.keyboard.press("ArrowDown")
    wait_for_swap(page, before)
    holding.append(True)
    page.keyboard.press("ArrowDown")  # the next card: a request is on its way ...
    page.wait_for_function("() => document.querySelector('.htmx-request') !== null")
    press_tab_until(page, lambda w: w["tag"] == "button")  # ... while focus goes into the old panel
    for _ in range(100):  # the route handler runs when Playwright next hears from the browser
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the request was held"
    before = swaps(page)
    held[0].continue_()
    wait_for_swap(page, before)
    where = assert_focus_not_lost(page, "the panel was replaced")
    assert where["id"] == "panel-title"
    wait_for_announcement(page, "Total to pay: SEK\xa02,858.00")


KEY_PAGES = {
    "sign-in": (None, "/sign-in"),
    "overview-account-admin": (ANNA, "/accounts/{payg}/"),
    "settle-add-card": (ANNA, "/accounts/{payg}/subscriptions/{production}/settle?method=new"),
    "overview-owner": (OLIVIA, "/accounts/{agreement}/"),
    "invoices": (OLIVIA, "/accounts/{agreement}/invoices"),
    "invoice-detail": (OLIVIA, "/accounts/{agreement}/invoices/{due_invoice}"),
    "billing-details": (OLIVIA, "/accounts/{agreement}/profiles/{profile}/billing-details"),
    "pay-now": (OLIVIA, "/accounts/{agreement}/profiles/{profile}/pay?method={agreement_card}"),
    "accessibility-statement": (None, "/accessibility"),
    "payments": (ANNA, "/accounts/{payg}/payments"),
    "payment-methods": (ANNA, "/accounts/{payg}/payment-methods"),
    "payment-methods-owner": (OLIVIA, "/accounts/{agreement}/payment-methods"),
    "my-settings": (ANNA, "/settings"),
    "authenticator-setup": (RASMUS, "/security/authenticator"),
}


@pytest.mark.parametrize("name", list(KEY_PAGES))
def test_every_control_reachable_no_trap_focus_always_visible(site, shared_page, name):
    """Tab from the top to the end and Shift+Tab back: every control is reached, no
    trap holds focus, and every stop shows where focus is (WCAG 2.1.1, 2.1.2, 2.4.7)."""
    user, path = KEY_PAGES[name]
    page = shared_page(site, user, "sv")
    page.goto(f"{page.base}/sv" + path.format(**site.ids))
    forwards = tab_through(page)
    backwards = tab_through(page, backwards=True)
    assert [s["path"] for s in backwards] == [s["path"] for s in reversed(forwards)], \
        "Shift+Tab goes back the same way"
    assert forwards[0]["text"] == "Hoppa till huvudinnehållet"
