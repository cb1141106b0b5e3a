"""Documents as files: an invoice as an archival, accessible PDF (PDF/A-3b, tagged,
with its language and title) made by WeasyPrint from the same template part as the
invoice page (templates/invoices/_document.html), with its EN 16931 data inside
(Factur-X, profile EN16931), and the same data as UBL 2.1 XML. Every XML is checked
against the standard's schema (XSD) before it leaves. Pages and emails both stand on
this module."""
from __future__ import annotations

from facturx import generate_from_binary, generate_xml
from flask import render_template
from flask_babel import get_locale, gettext
from weasyprint import CSS, HTML

from portal.billing.documents import InvoiceDocument, ReceiptDocument
from portal.billing.einvoice import en16931_terms
from portal.config import ROOT

STYLESHEET = ROOT / "static" / "css" / "invoice-pdf.css"

PDF_VARIANT = "pdf/a-3b"  # archival (bookkeeping: 7 years), room for the EN 16931 XML later


UBL, FACTUR_X = "ubl-2.1", "factur-x"


def invoice_xml(doc: InvoiceDocument, flavor: str = UBL) -> bytes:
    """The invoice's EN 16931 data as UBL 2.1 (or Factur-X CII), schema-checked. (The
    library's schematron check needs a Saxon server; the sums it would check are
    proven by tests/web/test_invoice_documents.py instead.)"""
    return generate_xml(en16931_terms(doc), flavor=flavor, level="en16931", check_xsd=True,
                        check_schematron=False)


def invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice in the current language (the request's, or the recipient's under
    force_locale), as PDF/A-3b bytes with the Factur-X XML attached."""
    lang = str(get_locale() or "sv")
    html = render_template("documents/invoice.html", doc=doc, lang=lang)
    pdf = HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))],
                                      pdf_variant=PDF_VARIANT, pdf_tags=True)
    title = gettext("Invoice %(number)s", number=doc.number)
    metadata = {"title": f"{title} – {doc.seller.name}", "author": doc.seller.name,
                "subject": gettext("Invoice %(number)s to %(buyer)s", number=doc.number, buyer=doc.buyer.name),
                "keywords": "EN16931, Factur-X"}
    return generate_from_binary(pdf, invoice_xml(doc, FACTUR_X), flavor=FACTUR_X, level="en16931",
                                check_xsd=True, check_schematron=False, lang=lang, pdf_metadata=metadata)


def receipt_pdf(doc: ReceiptDocument) -> bytes:
    """A payment's receipt in the current language, as PDF/A-3b bytes (tagged)."""
    html = render_template("documents/receipt.html", doc=doc, lang=str(get_locale() or "sv"))
    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))],
                                       pdf_variant=PDF_VARIANT, pdf_tags=True)


def invoice_filename(doc: InvoiceDocument, word: str, extension: str = "pdf") -> str:
    """e.g. faktura-10001.pdf: the word for "invoice" in the document's language."""
    return f"{word.lower()}-{doc.number}.{extension}"
