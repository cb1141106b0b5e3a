"""Issue 28, Deliver 4: documents made once. An invoice's PDF (each language) and UBL
are stored when the billing cycle issues it, a receipt's PDF once the payment is
recorded; downloads serve the stored bytes — never rendered again, never changed (by a
payment or new billing details). Whatever has no stored file yet is made by its first
download. Renders are counted by wrapping the renderer (portal/document_files.py), not timed."""
from __future__ import annotations

import hashlib
import io
from collections import Counter
from datetime import date

import pikepdf
import pytest
from flask import make_response
from sqlalchemy import func, select

from portal import document_files as files, document_store
from portal.billing import payments
from portal.billing.payments import UseSavedCard
from portal.document_store import DirectoryStore, DocumentKey, StoredFile
from portal.models import BillingAccount, BillingDetails, Invoice, Payment, StoredDocument, User
from tests.web.conftest import sign_in_as
from tests.web.test_invoice_documents import text_of

ISSUE_DAY = date(2026, 12, 1)


@pytest.fixture
def renders(monkeypatch):
    """How many times each renderer ran (the stored path must not call them)."""
    counted = Counter()
    for name in ("invoice_pdf", "invoice_xml", "receipt_pdf"):
        real = getattr(files, name)

        def counting(*args, _real=real, _name=name, **kw):
            counted[_name] += 1
            return _real(*args, **kw)
        monkeypatch.setattr(files, name, counting)
    return counted


def stored(b, **where) -> list[StoredDocument]:
    b.session.commit()  # a fresh look: this session is another process
    return list(b.session.scalars(select(StoredDocument).filter_by(**where).order_by(StoredDocument.id)))


def settle(b, demo, key):
    anna = b.session.scalars(select(User).where(User.email == "anna@example.com")).one()
    quote = payments.quote_settlement(b, anna, demo.production, demo.spare_card)
    return payments.settle_balance(b, anna, demo.production, UseSavedCard(demo.spare_card), quote.total.minor, key)


def test_i28_the_cycle_stores_an_issued_invoices_files_and_downloads_render_nothing(app, runner, browser, demo, b,
                                                                                    renders):
    result = runner.invoke(args=["billing", "cycle", "--date", ISSUE_DAY.isoformat()])
    assert result.exit_code == 0, result.output
    issued = b.session.scalars(select(Invoice).where(Invoice.issued_on == ISSUE_DAY,
                                                     Invoice.billing_profile_id == demo.profile)).one()
    files_of = {(row.kind, row.language): row for row in stored(b, invoice_id=issued.id)}
    assert set(files_of) == {("invoice_pdf", "sv"), ("invoice_pdf", "en"), ("invoice_ubl", "")}
    for row in files_of.values():
        assert row.sha256 == hashlib.sha256(row.content).hexdigest() and row.renderer == files.RENDERER
    # Two PDFs (each with its Factur-X XML inside) and the UBL of each invoice, by the cycle
    # (Fjällström's and the Autogiro customer's, B23).
    issued_now = len(b.session.scalars(select(Invoice.id).where(Invoice.issued_on == ISSUE_DAY)).all())
    assert issued_now == 2 and renders == Counter(invoice_pdf=2 * issued_now, invoice_xml=3 * issued_now)
    made_by_the_cycle = sum(renders.values())

    sign_in_as(browser, "olivia@example.com", "sv")
    for lang in ("sv", "en"):
        for _ in range(2):
            response = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/{issued.id}/pdf")
            assert response.status_code == 200 and response.data == files_of[("invoice_pdf", lang)].content
    ubl = browser.get(f"/sv/accounts/{demo.agreement}/invoices/{issued.id}/ubl")
    assert ubl.status_code == 200 and ubl.data == files_of[("invoice_ubl", "")].content
    assert sum(renders.values()) == made_by_the_cycle  # served, not rendered
    # Both languages, each a PDF in its own.
    for lang in ("sv", "en"):
        with pikepdf.open(io.BytesIO(files_of[("invoice_pdf", lang)].content)) as pdf:
            assert str(pdf.Root.Lang) == lang
    assert "Fakturanummer" in text_of(files_of[("invoice_pdf", "sv")].content)
    assert "Invoice number" in text_of(files_of[("invoice_pdf", "en")].content)


def test_i28_an_invoice_with_no_stored_file_is_made_by_its_first_download_then_kept(browser, demo, b, renders):
    """Invoices from before (here: the demo's) are rendered once, by the first download."""
    assert stored(b, invoice_id=demo.due) == []
    sign_in_as(browser, "olivia@example.com", "en")
    first = browser.get(f"/en/accounts/{demo.agreement}/invoices/{demo.due}/pdf").data
    assert renders["invoice_pdf"] == 1
    [row] = stored(b, invoice_id=demo.due)
    assert (row.kind, row.language, row.content) == ("invoice_pdf", "en", first)
    # New billing details, a new account name: the invoice as issued stays the same.
    account = b.session.get(BillingAccount, demo.agreement)
    account.name = "Helt Nytt Namn AB"
    for details in b.session.scalars(select(BillingDetails).where(BillingDetails.account_id == demo.agreement)):
        details.company_name = "Helt Nytt Namn AB"
    b.session.commit()
    for _ in range(3):
        assert browser.get(f"/en/accounts/{demo.agreement}/invoices/{demo.due}/pdf").data == first
    assert renders["invoice_pdf"] == 1
    # The other language is made by its own first download, once.
    sign_in_as(browser, "olivia@example.com", "sv")
    swedish = browser.get(f"/sv/accounts/{demo.agreement}/invoices/{demo.due}/pdf").data
    assert browser.get(f"/sv/accounts/{demo.agreement}/invoices/{demo.due}/pdf").data == swedish != first
    assert renders["invoice_pdf"] == 2


def test_i28_a_receipt_is_stored_after_payment_in_the_payers_language_and_never_changes(app, browser, demo, b,
                                                                                       renders):
    payment = settle(b, demo, "i28-receipt-0001")
    with app.test_request_context("/sv/"):  # what Pay's answer does once it has been sent
        response = document_store.make_receipt_after(make_response("", 303), b, payment.id, "sv")
    assert stored(b, payment_id=payment.id) == []  # not before the answer has gone out
    response.close()
    [row] = stored(b, payment_id=payment.id)
    assert (row.kind, row.language, renders["receipt_pdf"]) == ("receipt_pdf", "sv", 1)
    details = BillingDetails(account_id=demo.payg, company_name="Ett Annat Bolag AB", street="Gatan 1",
                             postcode="111 11", city="Stockholm", country="SE", updated_at=b.clock.now())
    b.session.add(details)
    b.session.commit()
    sign_in_as(browser, "anna@example.com", "sv")
    for _ in range(2):
        assert browser.get(f"/sv/accounts/{demo.payg}/payments/{payment.id}/pdf").data == row.content
    assert renders["receipt_pdf"] == 1 and "Ett Annat Bolag AB" not in text_of(row.content)
    # English on its first download (made then, with the details of then), once.
    sign_in_as(browser, "anna@example.com", "en")
    english = browser.get(f"/en/accounts/{demo.payg}/payments/{payment.id}/pdf").data
    assert browser.get(f"/en/accounts/{demo.payg}/payments/{payment.id}/pdf").data == english
    assert renders["receipt_pdf"] == 2 and "Receipt" in text_of(english)


def test_i28_a_receipt_that_fails_to_render_fails_nothing_and_its_download_makes_it(app, browser, demo, b,
                                                                                    monkeypatch):
    payment = settle(b, demo, "i28-receipt-0002")

    def broken(_doc):
        raise RuntimeError("the renderer is down")
    real = files.receipt_pdf
    monkeypatch.setattr(files, "receipt_pdf", broken)
    with app.test_request_context("/sv/"):
        response = document_store.make_receipt_after(make_response("", 303), b, payment.id, "sv")
    response.close()  # logged, not raised
    assert stored(b, payment_id=payment.id) == []
    monkeypatch.setattr(files, "receipt_pdf", real)
    sign_in_as(browser, "anna@example.com", "sv")
    pdf = browser.get(f"/sv/accounts/{demo.payg}/payments/{payment.id}/pdf")
    assert pdf.status_code == 200 and [r.content for r in stored(b, payment_id=payment.id)] == [pdf.data]


def test_i28_a_file_is_never_overwritten_the_first_one_stands(app, demo, b):
    """Two writers of the same file (two first downloads at once): the second gets the
    first one's bytes back, and the row is written once."""
    key = DocumentKey("invoice_ubl", invoice_id=demo.due)
    now = b.clock.now().replace(tzinfo=None)
    first = StoredFile(key, b"<first/>", "application/xml", hashlib.sha256(b"<first/>").hexdigest(), "t", now)
    second = StoredFile(key, b"<second/>", "application/xml", hashlib.sha256(b"<second/>").hexdigest(), "t", now)
    with app.app_context():
        store = document_store.store()
        assert store.put(first) == first
        assert store.put(second).content == b"<first/>"
        assert store.get(key).content == b"<first/>"
    assert [row.content for row in stored(b, invoice_id=demo.due)] == [b"<first/>"]


def test_i28_a_directory_store_keeps_files_on_disk_never_overwritten(app, browser, demo, b, tmp_path, renders):
    directory = DirectoryStore(tmp_path / "documents")
    app.extensions["document_store"] = directory
    sign_in_as(browser, "olivia@example.com", "sv")
    first = browser.get(f"/sv/accounts/{demo.agreement}/invoices/{demo.due}/pdf").data
    assert browser.get(f"/sv/accounts/{demo.agreement}/invoices/{demo.due}/pdf").data == first
    assert renders["invoice_pdf"] == 1
    on_disk = tmp_path / "documents" / "invoice_pdf" / f"{demo.due}-sv.pdf"
    assert on_disk.read_bytes() == first and b.session.scalar(select(func.count()).select_from(StoredDocument)) == 0
    key = DocumentKey("invoice_pdf", invoice_id=demo.due, language="sv")
    kept = directory.get(key)
    assert kept.sha256 == hashlib.sha256(first).hexdigest() and kept.renderer == files.RENDERER
    other = StoredFile(key, b"%PDF-other", "application/pdf", "x", "t", kept.created_at)
    assert directory.put(other).content == first and on_disk.read_bytes() == first
    assert sorted(p.name for p in on_disk.parent.iterdir()) == [f"{demo.due}-sv.pdf", f"{demo.due}-sv.pdf.json"]


def test_i28_render_missing_stores_what_has_no_file_and_a_second_run_nothing(app, runner, demo, b, renders):
    payment = settle(b, demo, "i28-receipt-0003")
    result = runner.invoke(args=["documents", "render-missing", "--limit", "2"])
    assert result.exit_code == 0 and result.output.startswith("2 invoices and payments"), result.output
    result = runner.invoke(args=["documents", "render-missing"])
    assert result.exit_code == 0, result.output
    invoices = b.session.scalar(select(func.count()).select_from(Invoice))
    paid = b.session.scalar(select(func.count()).select_from(Payment))
    assert len(stored(b)) == invoices * 3 + paid * 2
    assert {(r.kind, r.language) for r in stored(b, payment_id=payment.id)} == {("receipt_pdf", "sv"),
                                                                              ("receipt_pdf", "en")}
    before = sum(renders.values())
    again = runner.invoke(args=["documents", "render-missing"])
    assert again.output.startswith("0 invoices and payments") and sum(renders.values()) == before
