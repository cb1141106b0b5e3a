"""B15 (issue 33 item 4) in real Chromium, one walk per language: a bank file brings
more than the past-due invoice asks and pays the paid one again; Olivia reaches the
credit history from Overview by keyboard alone (axe clean), follows an entry to the
payment's receipt, and reaches it again from Payments with JavaScript off (plain links)."""
from __future__ import annotations

import re
import sqlite3

import pytest

from portal.billing.invoicing.remittance import ocr_reference
from tests.bgmax_files import Paid, bgmax_file
from tests.browser.a11y import assert_accessible, press_tab_until
from tests.browser.states import OLIVIA
from tests.browser.test_keyboard import press_and_wait_for_page, sign_in_by_keyboard
from tests.conftest import TODAY

WORDS = {
    "sv": {"link": "Historik för tillgodohavandet", "title": "Historik för tillgodohavandet",
           "over": "Tillkommet: betalningen var större än skulden", "expire": "Tillgodohavandet förfaller inte",
           "payment": "Betalning ", "receipt": "Kvitto", "payments": "Betalningar"},
    "en": {"link": "Credit history", "title": "Credit history", "over": "Added: the payment was more than was owed",
           "expire": "Credit does not expire", "payment": "Payment ", "receipt": "Receipt", "payments": "Payments"},
}


@pytest.fixture(scope="module")
def credited(fresh_site, tmp_path_factory):
    """The bank file imported on the module's server, as `flask billing import-bgmax` does."""
    with sqlite3.connect(f"file:{fresh_site.server.folder / 'portal.sqlite'}?mode=ro", uri=True) as db:
        number, left = db.execute("SELECT number, subtotal_minor - credits_applied_minor - paid_minor "
                                  "FROM invoices WHERE status = 'past_due' ORDER BY id").fetchone()
        paid = db.execute("SELECT number FROM invoices WHERE status = 'paid' ORDER BY id").fetchone()[0]
    path = tmp_path_factory.mktemp("bank") / "bgmax.txt"
    path.write_bytes(bgmax_file([[Paid(ocr_reference(number), left + 500_00), Paid(ocr_reference(paid), 2_000_00)]],
                                paid_on=TODAY))
    output = fresh_site.server._flask("billing", "import-bgmax", str(path))
    assert "2 recorded" in output, output
    return fresh_site


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b15_keyboard_only_and_without_javascript_to_the_credit_history(credited, open_page, chromium, lang):
    words, site = WORDS[lang], credited
    page = open_page(site, lang=lang)
    sign_in_by_keyboard(page, OLIVIA)
    page.goto(f"{page.base}/{lang}/accounts/{site.ids['agreement']}/")
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"].startswith(words["link"]))
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith(words["title"])
    main = page.locator("main").inner_text()
    assert words["over"] in main and words["expire"] in main
    assert_accessible(page, f"credit history ({lang})")
    press_tab_until(page, lambda w: w["tag"] == "a" and re.fullmatch(words["payment"] + r"\d+", w["text"]))
    press_and_wait_for_page(page)
    assert words["receipt"] in page.title()

    # Without JavaScript: Payments → the history, by keyboard (plain links).
    context = chromium.new_context(java_script_enabled=False, storage_state=site.signed_in(chromium, OLIVIA))
    context.set_default_timeout(10_000)
    try:
        plain = context.new_page()
        plain.goto(f"{site.url}/{lang}/accounts/{site.ids['agreement']}/payments")
        for _ in range(80):
            plain.keyboard.press("Tab")
            if plain.locator(":focus").inner_text().startswith(words["link"]):
                break
        else:
            raise AssertionError("the credit history's link was not reached by Tab")
        with plain.expect_navigation():
            plain.keyboard.press("Enter")
        assert plain.locator("h1").inner_text().endswith(words["title"])
        assert words["over"] in plain.locator("main").inner_text()
    finally:
        context.close()
