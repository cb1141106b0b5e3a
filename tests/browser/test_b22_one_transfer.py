"""B22 (issue 33 item 5) in real Chromium, one walk per language on a server of its own:
Olivia goes from Invoices to "one transfer for several invoices" by keyboard alone (axe
clean), gets one OCR reference for the two open invoices, sees it on the account
statement; without JavaScript she chooses again (the plain form); the bank file with the
new reference, imported as `flask billing import-bgmax` does, pays both invoices."""
from __future__ import annotations

import sqlite3

import pytest

from portal.billing.invoicing.remittance import request_reference
from tests.bgmax_files import Paid, bgmax_file
from tests.browser.a11y import assert_accessible, press_tab_until
from tests.browser.conftest import Site
from tests.browser.server import LiveServer
from tests.browser.states import OLIVIA
from tests.browser.test_keyboard import press_and_wait_for_page, sign_in_by_keyboard
from tests.conftest import TODAY

WORDS = {
    "sv": {"one": "En överföring för flera fakturor", "get": "Få ett OCR-nummer för dessa", "ocr": "OCR-nummer",
           "paid": "Betalt: en överföring med det här OCR-numret betalade fakturorna"},
    "en": {"one": "One transfer for several invoices", "get": "Get one OCR reference for these",
           "ocr": "OCR reference", "paid": "Paid: a transfer with this OCR reference paid these invoices"},
}


@pytest.fixture
def own_site(chromium, seeded, tmp_path_factory):
    """A server of the test's own: each language's walk makes and pays a request."""
    with LiveServer(tmp_path_factory.mktemp("one-transfer"), seeded_from=seeded) as server:
        yield Site(server)


def _latest(site: Site) -> tuple[int, int, int]:
    """The newest request: id, total, and how many of the agreement's invoices are open."""
    with sqlite3.connect(f"file:{site.server.folder / 'portal.sqlite'}?mode=ro", uri=True) as db:
        request_id, total = db.execute("SELECT id, amount_minor FROM payment_requests ORDER BY id DESC").fetchone()
        open_ = db.execute("SELECT count(*) FROM invoices WHERE status != 'paid'").fetchone()[0]
    return request_id, total, open_


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b22_one_ocr_for_two_invoices_by_keyboard_without_javascript_and_paid_by_the_bank_file(
        own_site, open_page, chromium, tmp_path, lang):
    words, site = WORDS[lang], own_site
    page = open_page(site, lang=lang)
    sign_in_by_keyboard(page, OLIVIA)
    page.goto(f"{page.base}/{lang}/accounts/{site.ids['agreement']}/invoices")
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"].startswith(words["one"]))
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith(words["one"])
    assert page.locator("input[name=invoices]:checked").count() == 2
    assert_accessible(page, f"one transfer: choose ({lang})")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"] == words["get"])
    press_and_wait_for_page(page)
    request_id, _total, _open = _latest(site)
    reference = request_reference(request_id)
    assert reference in page.locator("main").inner_text()
    assert_accessible(page, f"one transfer: the request ({lang})")
    page.goto(f"{page.base}/{lang}/accounts/{site.ids['agreement']}/statement")
    assert f"{words['ocr']} {reference}" in page.locator("main").inner_text()

    # Without JavaScript: the plain form, by keyboard — a new reference replaces the first.
    context = chromium.new_context(java_script_enabled=False, storage_state=site.signed_in(chromium, OLIVIA))
    context.set_default_timeout(10_000)
    try:
        plain = context.new_page()
        plain.goto(f"{site.url}/{lang}/accounts/{site.ids['agreement']}/profiles/{site.ids['profile']}/one-transfer")
        for _ in range(80):
            plain.keyboard.press("Tab")
            if plain.locator(":focus").inner_text() == words["get"]:
                break
        else:
            raise AssertionError("the button was not reached by Tab")
        with plain.expect_navigation():
            plain.keyboard.press("Enter")
        request_id, total, open_before = _latest(site)
        assert request_reference(request_id) in plain.locator("main").inner_text() and request_id > 1
    finally:
        context.close()

    # The bank pays the new reference: both invoices, one transfer.
    path = tmp_path / "bgmax.txt"
    path.write_bytes(bgmax_file([[Paid(request_reference(request_id), total)]], paid_on=TODAY))
    output = site.server._flask("billing", "import-bgmax", str(path))
    assert "1 recorded" in output, output
    assert _latest(site)[2] == open_before - 2
    page.goto(f"{page.base}/{lang}/accounts/{site.ids['agreement']}/one-transfer/{request_id}")
    assert words["paid"] in page.locator("main").inner_text()
