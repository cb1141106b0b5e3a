"""B13 in real Chromium: the bank's challenge by keyboard alone, checked by axe in
both languages (with the page that says a payment waits), and the whole flow with
JavaScript switched off. These pay, so they run on a server of their own."""
from __future__ import annotations

from tests.browser.a11y import assert_accessible, press_tab_until
from tests.browser.test_keyboard import press_and_wait_for_page, sign_in_by_keyboard

ANNA, OLIVIA = "anna@example.com", "olivia@example.com"
SCA = "4000 0027 6000 3184"


def test_b13_keyboard_only_confirm_with_the_bank_and_back_to_the_receipt(fresh_site, open_page):
    page = open_page(fresh_site, lang="sv")
    sign_in_by_keyboard(page, ANNA)
    page.goto(f"{page.base}/sv/accounts/{fresh_site.ids['payg']}/subscriptions/{fresh_site.ids['production']}"
              "/settle?method=new")
    press_tab_until(page, lambda w: w["id"] == "card_number")
    for value in (SCA, "12", "2031", "123", "Anna Lind"):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"].startswith("Betala"))
    press_and_wait_for_page(page)
    assert "/sv/sandbox/challenge/" in page.url
    assert page.locator("h1").inner_text() == "Bekräfta betalningen hos din bank"
    assert_accessible(page, "the bank's challenge (sv)")

    # A second tab pays meanwhile: told that a payment waits, sent to the same challenge.
    other = page.context.new_page()
    other.goto(f"{page.base}/en/accounts/{fresh_site.ids['payg']}/subscriptions/{fresh_site.ids['production']}"
               f"/settle?method={fresh_site.ids['card_4242']}")
    with other.expect_navigation():
        other.click("#payment-panel button[type=submit]")
    assert other.locator("h1").inner_text() == "A payment waits for your confirmation"
    assert_accessible(other, "a payment waits for confirmation (en)")
    with other.expect_navigation():
        other.click("text=Continue to your bank")
    assert other.locator("h1").inner_text() == "Confirm the payment with your bank"
    assert_accessible(other, "the bank's challenge (en)")
    other.close()

    # Confirm by keyboard: the first button, Enter; back in the portal on the receipt.
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"] == "Bekräfta betalningen")
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text() == "Betalningen har tagits emot"
    assert "2\xa0858,00\xa0kr" in page.locator(".confirmation").inner_text()
    assert_accessible(page, "receipt after the bank's challenge (sv)")


def test_b13_the_challenge_without_javascript(fresh_site, chromium):
    # Pay now this time (the keyboard test above settled Anna's balance on this server).
    context = chromium.new_context(java_script_enabled=False, storage_state=fresh_site.signed_in(chromium, OLIVIA))
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"{fresh_site.url}/en/accounts/{fresh_site.ids['agreement']}/profiles/"
                  f"{fresh_site.ids['profile']}/pay?method=new")
        page.fill("#card_number", "4000 0084 0000 1629")  # the bank fails it
        page.fill("#exp_month", "12")
        page.fill("#exp_year", "2031")
        page.fill("#cvc", "123")
        page.fill("#holder", "Olivia Holm")
        with page.expect_navigation():
            page.click(".pay-form button[type=submit]")
        assert page.locator("h1").inner_text() == "Confirm the payment with your bank"
        with page.expect_navigation():
            page.click("button[value=confirm]")
        assert page.locator("h1").inner_text() == "The payment was declined"
        assert "could not confirm that it was you" in page.locator("main").inner_text()
        # (axe needs JavaScript: this page's state is checked in test_keyboard's run above.)
    finally:
        context.close()
