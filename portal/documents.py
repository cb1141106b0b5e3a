"""Documents as files: an invoice as an archival, accessible PDF (PDF/A-3b, tagged,
with its language and title) made by WeasyPrint from the same template part as the
invoice page (templates/invoices/_document.html), with its EN 16931 data inside
(Factur-X, profile EN16931), and the same data as UBL 2.1 XML. Every XML is checked
against the standard's schema (XSD) before it leaves. Pages and emails both stand on
this module."""
from __future__ import annotations

import io
from importlib.metadata import version

import pikepdf
from facturx import generate_xml
from facturx.facturx import generate_xmp_bytes
from flask import render_template
from flask_babel import get_locale
from weasyprint import CSS, HTML, Attachment

from portal.billing.documents import InvoiceDocument, ReceiptDocument
from portal.billing.einvoice import en16931_terms
from portal.config import ROOT
from portal.models import Invoice

STYLESHEET = ROOT / "static" / "css" / "invoice-pdf.css"

PDF_VARIANT = "pdf/a-3b"  # archival (bookkeeping: 7 years), room for the EN 16931 XML later


UBL, FACTUR_X = "ubl-2.1", "factur-x"

# What made a stored file (portal/document_store.py keeps it with the bytes): bump the
# first part when a template or this module changes what a document looks like.
RENDERER = f"portal-documents/3 weasyprint/{version('weasyprint')} factur-x/{version('factur-x')}"


def invoice_xml(doc: InvoiceDocument, flavor: str = UBL) -> bytes:
    """The invoice's EN 16931 data as UBL 2.1 (or Factur-X CII), schema-checked. (The
    library's schematron check needs a Saxon server; the sums it would check are
    proven by tests/web/test_invoice_documents.py instead.)"""
    return generate_xml(en16931_terms(doc), flavor=flavor, level="en16931", check_xsd=True,
                        check_schematron=False)


def invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice in the current language (the request's, or the recipient's under
    force_locale), as PDF/A-3b bytes with the Factur-X XML attached (/AF, Data).

    WeasyPrint writes the PDF, its tags and the attachment in one pass; the Factur-X
    extension schema (from the factur-x library) is then added to the document's XMP
    with pikepdf. (factur-x's own generate_from_binary rewrites the whole file with
    pypdf: a second longer than this for a 1,000-line invoice.)"""
    html = render_template("documents/invoice.html", doc=doc, lang=str(get_locale() or "sv"))
    attachment = Attachment(string=invoice_xml(doc, FACTUR_X), name=FACTUR_X_FILENAME,
                            description="Factur-X (EN 16931)", relationship="Data")
    pdf = HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))], pdf_variant=PDF_VARIANT,
                                      pdf_tags=True, attachments=[attachment])
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        xmp = opened.Root.Metadata.read_bytes().decode()
        opened.Root.Metadata.write(xmp.replace("</rdf:RDF>", _FACTUR_X_XMP + "</rdf:RDF>", 1).encode())
        out = io.BytesIO()
        opened.save(out)
    return out.getvalue()


def _factur_x_xmp() -> str:
    """The Factur-X part of a PDF's XMP (its PDF/A extension schema and the fx: values,
    profile EN16931), taken from the factur-x library's own XMP."""
    packet = generate_xmp_bytes(FACTUR_X, "en16931", None, {}).decode()
    start = packet.index("<rdf:Description>\n      <pdfaExtension:schemas>")
    part = packet[start:packet.index("</rdf:RDF>")]
    return part.replace("<rdf:Description>", '<rdf:Description rdf:about="" '
                        'xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" '
                        'xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" '
                        'xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#" '
                        'xmlns:fx="urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#">')


FACTUR_X_FILENAME = "factur-x.xml"
_FACTUR_X_XMP = _factur_x_xmp()


def receipt_pdf(doc: ReceiptDocument) -> bytes:
    """A payment's receipt in the current language, as PDF/A-3b bytes (tagged)."""
    html = render_template("documents/receipt.html", doc=doc, lang=str(get_locale() or "sv"))
    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))],
                                       pdf_variant=PDF_VARIANT, pdf_tags=True)


def invoice_filename(doc: InvoiceDocument | Invoice, word: str, extension: str = "pdf") -> str:
    """e.g. faktura-10001.pdf: the word for "invoice" in the document's language (of
    the read model, or of the invoice itself: only its number is used)."""
    return f"{word.lower()}-{doc.number}.{extension}"
