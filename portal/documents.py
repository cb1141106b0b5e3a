"""Documents as files: an invoice as an archival, accessible PDF (PDF/A-3b, tagged,
with its language and title), made by WeasyPrint from the same template part as the
invoice page (templates/invoices/_document.html). Pages and emails both stand on it."""
from __future__ import annotations

from flask import render_template
from flask_babel import get_locale
from weasyprint import CSS, HTML

from portal.billing.documents import InvoiceDocument
from portal.config import ROOT

STYLESHEET = ROOT / "static" / "css" / "invoice-pdf.css"

PDF_VARIANT = "pdf/a-3b"  # archival (bookkeeping: 7 years), room for the EN 16931 XML later


def invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice in the current language (the request's, or the recipient's under
    force_locale), as PDF bytes."""
    html = render_template("documents/invoice.html", doc=doc, lang=str(get_locale() or "sv"))
    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))],
                                       pdf_variant=PDF_VARIANT, pdf_tags=True)


def invoice_filename(doc: InvoiceDocument, word: str) -> str:
    """e.g. faktura-202610000001.pdf: the word for "invoice" in the document's language."""
    return f"{word.lower()}-{doc.number}.pdf"
