"""Issue 30, Deliver 5 and 6 through HTTP: the bulk download of a period's invoice
documents (a streamed zip, names sorted by number, only the invoices the person may
see, "no invoices" rather than an empty zip, errors translated) and the account
statement as a page, a PDF and a CSV in the reader's dialect."""
from __future__ import annotations

import io
import zipfile
from datetime import date

import pikepdf
import pytest
from sqlalchemy import select

from portal.models import BillingAccount, Invoice, InvoiceStatus
from tests import factories as f
from tests.web.conftest import sign_in_as
from tests.web.test_invoice_documents import text_of


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200 and response.mimetype == "application/zip", response.data[:300]
    return zipfile.ZipFile(io.BytesIO(response.data))


@pytest.mark.parametrize("lang, word", [("sv", "faktura"), ("en", "invoice")])
def test_i30_bulk_download_zips_the_years_invoices_sorted_by_number(browser, demo, b, lang, word):
    numbers = sorted(b.session.scalars(select(Invoice.number).where(Invoice.issued_on >= date(2026, 1, 1),
                                                                    Invoice.billing_profile_id == demo.profile)))
    sign_in_as(browser, "rasmus@example.com", lang)  # a reader: sees invoices, so downloads them
    page = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/download")
    assert page.status_code == 200 and 'name="year"' in page.text and 'name="xml"' in page.text
    response = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/download?year=2026&xml=y")
    assert response.is_streamed
    names = _zip(response).namelist()
    assert names == [f"{word}-{n.zfill(7)}.{ext}" for n in numbers for ext in ("pdf", "xml")]
    assert response.headers["Content-Disposition"].endswith('-2026.zip"')
    archive = _zip(response)
    with pikepdf.open(io.BytesIO(archive.read(names[0]))) as pdf:
        assert str(pdf.Root.Lang) == lang
    # The stored files: the zip holds the very bytes a single download serves.
    one = b.session.scalars(select(Invoice).where(Invoice.number == numbers[0])).one()
    single = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/{one.id}/pdf").data
    assert archive.read(names[0]) == single


def test_i30_bulk_download_holds_only_the_invoices_the_person_may_see(browser, demo, b):
    account = b.session.get(BillingAccount, demo.agreement)
    hidden_profile = f.profile(b, account)
    b.session.add(Invoice(billing_profile_id=hidden_profile.id, number="99999", currency="SEK",
                          period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), issued_on=date(2026, 11, 1),
                          due_on=date(2026, 12, 1), status=InvoiceStatus.DUE, subtotal_minor=100_00))
    b.session.commit()
    sign_in_as(browser, "olivia@example.com", "en")  # owner of the other profile only
    names = _zip(browser.get(f"/en/accounts/{demo.agreement}/invoices/download?first=2026-01-01&last=2026-11-30"
                             )).namelist()
    assert names and all(name.endswith(".pdf") for name in names) and "invoice-0099999.pdf" not in names


@pytest.mark.parametrize("lang, message, error", [
    ("sv", "Inga fakturor utfärdades", "Ange periodens första dag"),
    ("en", "No invoices were issued", "Enter the first day of the period")])
def test_i30_bulk_download_says_when_there_is_nothing_or_something_is_wrong(browser, demo, lang, message, error):
    sign_in_as(browser, "olivia@example.com", lang)
    empty = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/download?first=2020-01-01&last=2020-12-31")
    assert empty.status_code == 200 and empty.mimetype == "text/html" and message in empty.text
    wrong = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/download?last=2026-12-31")
    assert wrong.status_code == 422 and error in wrong.text
    assert browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/download?year=1066").status_code == 422
    # Pay-as-you-go accounts have no invoices to download.
    sign_in_as(browser, "anna@example.com", lang)
    assert browser.get(f"/{lang}/accounts/{demo.payg}/invoices/download?year=2026").status_code == 404


@pytest.mark.parametrize("lang, words, separator", [
    ("sv", ("Kontoutdrag", "Ingående saldo", "Utgående saldo", "Sida 1 av"), ";"),
    ("en", ("Account statement", "Opening balance", "Closing balance", "Page 1 of"), ",")])
def test_i30_the_statement_as_page_pdf_and_csv(browser, demo, b, lang, words, separator):
    title, opening, closing, page_number = words
    sign_in_as(browser, "ines@example.com", lang)
    query = f"first=2026-01-01&last=2026-11-25&profile={demo.profile}"
    page = browser.get(f"/{lang}/accounts/{demo.agreement}/statement?{query}")
    assert page.status_code == 200 and title in page.text and opening in page.text and "<caption" in page.text
    pdf = browser.get(f"/{lang}/accounts/{demo.agreement}/statement.pdf?{query}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = text_of(pdf.data)
    for expected in (opening, closing, page_number, "Fjällström Logistik AB", "Contoso"):
        assert expected in text, expected
    with pikepdf.open(io.BytesIO(pdf.data)) as opened:
        assert str(opened.Root.Lang) == lang and opened.Root.MarkInfo.Marked
    csv = browser.get(f"/{lang}/accounts/{demo.agreement}/statement.csv?{query}")
    lines = csv.data.decode("utf-8-sig").splitlines()
    assert lines[1].split(separator)[1] == opening and lines[-1].split(separator)[1] == closing
    # The CSV's last balance is the page's closing balance.
    assert lines[-1].split(separator)[5] == lines[-2].split(separator)[5]


def test_i30_the_statement_is_reachable_and_refuses_what_it_must(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    overview = browser.get(f"/en/accounts/{demo.payg}/")
    assert f"/en/accounts/{demo.payg}/statement" in overview.text
    page = browser.get(f"/en/accounts/{demo.payg}/statement")  # this month so far
    assert page.status_code == 200 and "Ageing on" in page.text
    assert browser.get(f"/en/accounts/{demo.payg}/statement?first=2026-11-01&last=2027-01-01").status_code == 422
    assert browser.get(f"/en/accounts/{demo.payg}/statement.pdf?first=2026-11-01&last=2027-01-01").status_code == 404
    # Someone else's account: not found; the invoices page links the statement and the zip.
    assert browser.get(f"/en/accounts/{demo.agreement}/statement").status_code == 404
    sign_in_as(browser, "rasmus@example.com", "en")
    invoices = browser.get(f"/en/accounts/{demo.agreement}/invoices")
    assert f"/en/accounts/{demo.agreement}/statement" in invoices.text
    assert f"/en/accounts/{demo.agreement}/invoices/download" in invoices.text


def test_i30_the_zip_is_streamed_a_file_at_a_time():
    """Each file is read when its turn comes and sent before the next is read: memory
    holds one document, whatever the number of invoices."""
    from portal.document_zip import member_name, stream_zip
    read = []

    def reader(n):
        def read_it():
            read.append(n)
            return bytes([n]) * 100_000
        return read_it
    pieces = stream_zip((member_name("faktura", str(10001 + n), "pdf"), date(2026, 11, 1), reader(n))
                        for n in range(3))
    first = next(pieces)
    assert read == [0] and 100_000 < len(first) < 101_000
    second = next(pieces)
    assert read == [0, 1] and len(second) < 101_000
    archive = zipfile.ZipFile(io.BytesIO(first + second + b"".join(pieces)))
    assert archive.namelist() == ["faktura-0010001.pdf", "faktura-0010002.pdf", "faktura-0010003.pdf"]
    assert archive.read("faktura-0010003.pdf") == bytes([2]) * 100_000
