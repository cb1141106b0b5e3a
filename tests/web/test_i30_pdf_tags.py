"""Issue 30, Deliver 4 (and the December review's a11y-2): invoice and receipt PDFs
tagged to PDF/UA's rules, read back with pikepdf from the structure tree — a 1,000-line
invoice (over 30 pages) and a 100-line receipt, in Swedish and English:

- every TH has /Scope, every id is registered (/IDTree), every TD names its headers;
- label/value pairs (From/To, invoice details, remittance) are LI > Lbl + LBody;
- one table for the lines on every page: its column headings once in the structure
  (repeated on each page as artifacts), the totals once, after the last line;
- a running header on pages 2 and on ("Faktura 10003 · sida 2 av 34"), an artifact;
- the Factur-X XML listed once among the attachments; still PDF/A-3b.

Each document is rendered once for the module (the read models built by hand: no
database is needed to print them)."""
from __future__ import annotations

import io
import re
from datetime import date

import pypdf
import pytest
from flask_babel import force_locale
from weasyprint import HTML
from weasyprint.pdf import tags as weasy_tags

from portal import create_app, pdf_tags
from portal.billing.invoicing.documents import (Buyer, DocumentLine, InvoiceDocument, ReceiptDocument,
                                                ReceiptLine, vat_included)
from portal.billing.invoicing.remittance import remittance_from_config
from portal.config import for_tests
from portal.document_files import invoice_pdf, receipt_pdf
from portal.money import Money
from tests.pdfua import elements, kids, open_pdf, page_marks, problems

LANGS = ("sv", "en")
LINES = 1_000
NUMBER = "10003"
BUYER = Buyer(name="Storkund AB", profile="Huvudavtal", org_number="556036-0793", street="Storgatan 1",
              postcode="111 22", city="Stockholm", reference="Olivia Holm")
RUNNING = {"sv": "Faktura 10003 · sida {} av {}", "en": "Invoice 10003 · page {} of {}"}
AMOUNT_DUE = {"sv": "Belopp att betala", "en": "Amount due"}


def sek(minor: int) -> Money:
    return Money(minor, "SEK")


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """{(kind, lang): PDF bytes} for the 1,000-line invoice and the 100-line receipt."""
    app = create_app(for_tests(tmp_path_factory.mktemp("pdfua")))
    seller = app.extensions["seller"]
    lines = [DocumentLine(f"Tjänst {n + 1:04d}", date(2026, 11, 1), date(2026, 11, 30), sek(99_00 + n),
                          vat_included(sek(99_00 + n)).taxable) for n in range(LINES)]
    total = sek(sum(line.amount.minor for line in lines))
    invoice = InvoiceDocument(
        number=NUMBER, issued_on=date(2026, 12, 1), due_on=date(2026, 12, 31), period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30), status=None, paid_on=None, seller=seller, buyer=BUYER, lines=lines,
        subtotal=total, credits=sek(0), amount_due=total, vat=[vat_included(total)],
        remittance=remittance_from_config(app.config).for_invoice(NUMBER), payment_terms_days=30)
    paid = [ReceiptLine(f"Webbshop {n + 1:03d}", date(2026, 10, 1), date(2026, 10, 31), sek(389_00),
                        vat_included(sek(389_00)).taxable) for n in range(100)]
    amount = sek(101 * 389_00)
    receipt = ReceiptDocument(reference="P-000123", paid_on=date(2026, 11, 2), seller=seller,
                              buyer=Buyer(name="Nordlund Handel AB", profile="", org_number="556036-0793"),
                              amount=amount, vat=vat_included(amount), method="Visa ending in 4242",
                              subscriptions=paid, invoices=[], more_subscriptions=1, more_amount=sek(389_00))
    made = {}
    for lang in LANGS:
        with app.test_request_context(f"/{lang}/"), force_locale(lang):
            made["invoice", lang] = invoice_pdf(invoice)
            made["receipt", lang] = receipt_pdf(receipt)
    yield made
    app.extensions["payment_gateway"].close()


@pytest.fixture(scope="module")
def texts(documents):
    """{(kind, lang): each page's text (pypdf), white space made plain}: read once."""
    return {key: [re.sub(r"\s+", " ", page.extract_text()) for page in pypdf.PdfReader(io.BytesIO(data)).pages]
            for key, data in documents.items()}


@pytest.mark.parametrize("kind", ["invoice", "receipt"])
@pytest.mark.parametrize("lang", LANGS)
def test_i30_the_pdf_passes_the_pdfua_checks(documents, kind, lang):
    """Scope and registered ids, headers of every data cell, labels paired with their
    values, nothing outside the tree that is not an artifact, one attachment entry."""
    assert problems(documents[kind, lang]) == []


@pytest.mark.parametrize("lang", LANGS)
def test_i30_a_1000_line_invoice_is_one_table_with_its_totals_once_at_the_end(documents, texts, lang):
    data, pages = documents["invoice", lang], texts["invoice", lang]
    assert len(pages) >= 30
    assert sum(text.count(AMOUNT_DUE[lang]) for text in pages) == 1
    assert AMOUNT_DUE[lang] in pages[-1] or AMOUNT_DUE[lang] in pages[-2]
    with open_pdf(data) as pdf:
        (table,) = elements(pdf.Root.StructTreeRoot, "/Table")
        groups = [str(group.S) for group in kids(table)]
        assert groups == ["/Caption", "/THead", "/TBody", "/TFoot"]  # the totals last, once
        assert len(kids(kids(table)[2])) == LINES
        head = kids(kids(kids(table)[1])[0])
        assert [str(th.A.Scope) for th in head] == ["/Column"] * 3
        first_line = kids(kids(table)[2])[0]
        th, *tds = kids(first_line)
        assert th.A.Scope == "/Row"
        assert [list(map(str, td.A.Headers)) for td in tds] == [[str(th.ID), str(head[1].ID)],
                                                                [str(th.ID), str(head[2].ID)]]


@pytest.mark.parametrize("lang", LANGS)
def test_i30_later_pages_have_a_running_header_and_repeated_headings_as_artifacts(documents, texts, lang):
    data, pages = documents["invoice", lang], texts["invoice", lang]
    assert RUNNING[lang].format(1, len(pages)) not in pages[0]
    for number, text in enumerate(pages[1:], start=2):
        assert RUNNING[lang].format(number, len(pages)) in text
    with open_pdf(data) as pdf:
        assert page_marks(pdf, 0)[1] == 0  # page 1: no running header, nothing repeated
        assert page_marks(pdf, 1)[1] == 1 + 3  # the running header and the three column headings
        assert page_marks(pdf, len(pages) - 1)[1] >= 1


@pytest.mark.parametrize("lang", LANGS)
def test_i30_a_long_receipt_has_the_running_header_too(texts, lang):
    pages = texts["receipt", lang]
    assert len(pages) >= 2
    word = {"sv": "Kvitto P-000123 · sida 2 av", "en": "Receipt P-000123 · page 2 of"}[lang]
    assert word in pages[1] and word not in pages[0]


@pytest.mark.parametrize("kind", ["invoice", "receipt"])
def test_i30_label_and_value_are_one_list_item(documents, kind):
    """From/To, the invoice details and the remittance details: "Organisationsnummer"
    and "556677-8899" are read as one item, the label first."""
    with open_pdf(documents[kind, "sv"]) as pdf:
        lists = elements(pdf.Root.StructTreeRoot, "/L")
        items = [item for listing in lists for item in kids(listing)]
        assert len(items) >= (16 if kind == "invoice" else 5)
        assert {tuple(str(k.S) for k in kids(item)) for item in items} == {("/Lbl", "/LBody")}
        assert all(listing.A.ListNumbering == "/None" for listing in lists)


def test_i30_the_xml_is_attached_once_and_the_pdf_stays_pdfa_3b(documents):
    with open_pdf(documents["invoice", "en"]) as pdf:
        assert len(pdf.Root.AF) == 1 and str(pdf.Root.AF[0].UF) == "factur-x.xml"
        assert len(pdf.attachments) == 1
        with pdf.open_metadata() as meta:
            assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("3", "B")
            assert meta["pdfuaid:part"] == "1"  # PDF/UA-1, declared with its extension schema:
            xmp = str(pdf.Root.Metadata.read_bytes().decode())
            assert xmp.count("<pdfaExtension:schemas>") == 1 and "<pdfaSchema:prefix>pdfuaid<" in xmp
            assert xmp.startswith("<?xpacket begin=") and xmp.rstrip().endswith("?>")
        assert str(pdf.Root.Lang) == "en" and bool(pdf.Root.MarkInfo.Marked)


def test_i30_the_checks_find_what_weasyprint_leaves(monkeypatch):
    """The checks can fail: WeasyPrint's own tags (without portal/pdf_tags.py) break the
    rules above — and its table, over two pages, is two tables."""
    monkeypatch.setattr(weasy_tags, "_build_box_tree", pdf_tags._weasy_build_box_tree)
    html = ("<html lang=sv><head><title>t</title></head><body><dl><div><dt>a</dt><dd>b</dd></div></dl>"
            "<table><thead><tr><th>x</th><th>y</th></tr></thead><tbody>"
            + "".join(f"<tr><th scope=row>{n}</th><td>{n}</td></tr>" for n in range(120))
            + "</tbody></table></body></html>")
    raw = HTML(string=html).write_pdf(stylesheets=[pdf_tags.running_header_css(f"t {pdf_tags.PAGE}")],
                                      pdf_variant=pdf_tags.PDF_VARIANT, pdf_tags=True)
    found = " | ".join(problems(raw))
    for problem in ("without /Scope", "not in /IDTree", "not a list item", "outside the tree"):
        assert problem in found, found
    with open_pdf(raw) as pdf:
        assert len(elements(pdf.Root.StructTreeRoot, "/Table")) > 1
