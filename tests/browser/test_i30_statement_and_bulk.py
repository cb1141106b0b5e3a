"""Issue 30 in real Chromium, by keyboard alone, axe clean at every step, in each
language: Overview → Account statement (its tables, its downloads), then Invoices →
Download invoices → a fiscal year → the zip. (The pages work without JavaScript:
plain links and GET forms, tests/web/test_i30_statement_and_bulk.py.)"""
from __future__ import annotations

import zipfile

import pytest

from tests.browser.a11y import assert_accessible, focused, press_tab_until
from tests.browser.test_keyboard import press_and_wait_for_page, sign_in_by_keyboard

OLIVIA = "olivia@example.com"
WORDS = {
    "sv": {"statement": "Kontoutdrag", "invoices": "Fakturor", "bulk": "Ladda ner en periods fakturor (zip)",
           "title": "Ladda ner fakturor", "button": "Ladda ner zip-fil", "file": "faktura-", "ageing": "Åldersanalys"},
    "en": {"statement": "Account statement", "invoices": "Invoices", "bulk": "Download invoices of a period (zip)",
           "title": "Download invoices", "button": "Download zip file", "file": "invoice-", "ageing": "Ageing on"},
}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i30_keyboard_only_statement_and_bulk_download(fresh_site, open_page, lang):
    words = WORDS[lang]
    page = open_page(fresh_site, lang=lang)
    sign_in_by_keyboard(page, OLIVIA)

    # Overview → the statement of this month so far.
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"] == words["statement"])
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith(words["statement"])
    assert words["ageing"] in page.locator("main").inner_text()
    assert page.locator("main table caption").count() >= 4  # every table named
    assert_accessible(page, f"account statement ({lang})")
    # Another period, typed: the form is a GET form, submitted by Enter.
    press_tab_until(page, lambda w: w["id"] == "first")
    page.keyboard.press("Control+A")
    page.keyboard.type("2026-01-01")
    press_and_wait_for_page(page)
    assert "first=2026-01-01" in page.url
    press_tab_until(page, lambda w: w["tag"] == "a" and "(PDF)" in w["text"])

    # Invoices → Download invoices → the fiscal year → the zip.
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"] == words["invoices"])
    press_and_wait_for_page(page)
    press_tab_until(page, lambda w: w["tag"] == "a" and w["text"] == words["bulk"])
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith(words["title"])
    assert_accessible(page, f"bulk download ({lang})")
    # Nothing chosen: the errors, tied to their fields, focus on the summary.
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"] == words["button"])
    press_and_wait_for_page(page)
    assert page.locator(".error-summary").count() == 1
    assert_accessible(page, f"bulk download with errors ({lang})")
    press_tab_until(page, lambda w: w["id"] == "year")
    page.keyboard.press("ArrowDown")  # the newest year
    press_tab_until(page, lambda w: w["id"] == "xml")
    page.keyboard.press("Space")
    press_tab_until(page, lambda w: w["tag"] == "button" and w["text"] == words["button"])
    assert focused(page)["tag"] == "button"
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert names and names == sorted(names) and all(n.startswith(words["file"]) for n in names)
    assert {n.rsplit(".", 1)[1] for n in names} == {"pdf", "xml"}
