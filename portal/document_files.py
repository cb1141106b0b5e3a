"""Documents as files: an invoice as an archival, accessible PDF (PDF/A-3b, tagged,
with its language and title) made by WeasyPrint from the same template part as the
invoice page (templates/invoices/_document.html), with its EN 16931 data inside
(Factur-X, profile EN16931), and the same data as UBL 2.1 XML. Every XML is checked
against the standard's schema (XSD) before it leaves. Pages and emails both stand on
this module."""
from __future__ import annotations

from importlib.metadata import version

import pikepdf
from facturx import generate_xml, xml_check_xsd
from facturx.facturx import generate_xmp_bytes
from flask import render_template
from flask_babel import get_locale, gettext as _
from lxml import etree
from weasyprint import CSS, Attachment

from portal.billing.invoicing.documents import InvoiceDocument, ReceiptDocument
from portal.billing.invoicing.einvoice import CREDIT_TRANSFER, DIRECT_DEBIT, PEPPOL_BILLING, en16931_terms
from portal.config import ROOT
from portal.models import Invoice
from portal.pdf_tags import PAGE, PAGES, page_of_pages, running_header_css, tagged_pdf

STYLESHEET = ROOT / "static" / "css" / "invoice-pdf.css"


UBL, FACTUR_X = "ubl-2.1", "factur-x"

# What made a stored file (portal/document_store.py keeps it with the bytes): bump the
# first part when a template or this module changes what a document looks like.
RENDERER = f"portal-documents/5 weasyprint/{version('weasyprint')} factur-x/{version('factur-x')}"


def invoice_xml(doc: InvoiceDocument, flavor: str = UBL) -> bytes:
    """The invoice's EN 16931 data as UBL 2.1 (or Factur-X CII), schema-checked. (The
    library's schematron check needs a Saxon server; tests/web/test_i30_einvoice_rules.py
    runs the official EN 16931 and Peppol rules over every kind of invoice instead.)

    The UBL is the Peppol BIS Billing 3.0 document: its specification identifier
    (BT-24) is Peppol's. The CII inside the PDF keeps Factur-X's own ("urn:cen.eu:
    en16931:2017", which Factur-X readers take the profile from; Peppol's would make it
    no Factur-X EN 16931 file), so Peppol's PEPPOL-EN16931-R004 is the one rule it
    cannot meet: it is never the document sent through Peppol. Both carry the bankgiro
    beside the IBAN, which the library cannot write — or, an invoice Autogiro draws
    (B23), the direct debit instead (code 49, BG-19: the mandate reference)."""
    xml = generate_xml(en16931_terms(doc), flavor=flavor, level="en16931", check_xsd=True,
                       check_schematron=False)
    root = etree.fromstring(xml)
    (_peppol_ubl if flavor == UBL else _bankgiro_cii)(root, doc)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    xml_check_xsd(xml, flavor=flavor, level="en16931")
    return xml


_UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
_CII = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


def _element(parent, tag: str, text: str | None = None, **attributes):
    prefix, local = tag.split(":")
    child = etree.SubElement(parent, f"{{{({**_UBL, **_CII})[prefix]}}}{local}", attributes)
    child.text = text
    return child


def _bankgiro_digits(doc: InvoiceDocument) -> str:
    return doc.remittance.bankgiro.replace("-", "")


def _peppol_ubl(root, doc: InvoiceDocument) -> None:
    """BT-24 for Peppol; "TAX" as the scheme of the seller's F-tax registration (BT-32,
    Peppol's usage); the bankgiro as the first credit transfer account: code 30 with
    branch SE:BANKGIRO (SE-R-008, SE-R-009, SE-R-011)."""
    root.find("cbc:CustomizationID", _UBL).text = PEPPOL_BILLING
    for scheme in root.iterfind("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cac:TaxScheme/cbc:ID", _UBL):
        if scheme.text == "LOC":
            scheme.text = "TAX"
    iban = root.find("cac:PaymentMeans", _UBL)
    if doc.direct_debit is not None:
        _direct_debit_ubl(root, iban, doc)
        return
    means = etree.Element(iban.tag)
    _element(means, "cbc:PaymentMeansCode", CREDIT_TRANSFER, name="Bankgiro")
    _element(means, "cbc:PaymentID", doc.remittance.ocr)
    account = _element(means, "cac:PayeeFinancialAccount")
    _element(account, "cbc:ID", _bankgiro_digits(doc))
    _element(_element(account, "cac:FinancialInstitutionBranch"), "cbc:ID", "SE:BANKGIRO")
    iban.addprevious(means)


def _direct_debit_ubl(root, iban, doc: InvoiceDocument) -> None:
    """B23: drawn by Autogiro — code 49 (direct debit) in place of the credit transfer
    means (EN 16931 has one means of payment: UBL-SR-47, all codes equal), with the OCR,
    the mandate reference (BT-89, PEPPOL-EN16931-R061) and the debited account (BT-91).
    No BT-90: a bank assigned creditor identifier is SEPA's (schemeID SEPA), Autogiro has
    none, and only the German rules (DE-R-030) ask for one. Should it not be drawn, the
    customer pays to the remittance details the PDF gives in words."""
    means = etree.Element(iban.tag)
    _element(means, "cbc:PaymentMeansCode", DIRECT_DEBIT, name="Autogiro")
    _element(means, "cbc:PaymentID", doc.remittance.ocr)
    mandate = _element(means, "cac:PaymentMandate")
    _element(mandate, "cbc:ID", doc.direct_debit.mandate_reference)
    _element(_element(mandate, "cac:PayerFinancialAccount"), "cbc:ID", doc.direct_debit.debited_account)
    iban.addprevious(means)
    for old in root.findall("cac:PaymentMeans", _UBL)[1:]:
        root.remove(old)


def _bankgiro_cii(root, doc: InvoiceDocument) -> None:
    """The bankgiro as a second credit transfer account (BG-17 repeats): CII has no
    SE:BANKGIRO branch, so its payment means text (BT-82) says "Bankgiro"."""
    iban = root.find(".//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans", _CII)
    if doc.direct_debit is not None:
        _direct_debit_cii(root, iban, doc)
        return
    means = etree.Element(iban.tag)
    _element(means, "ram:TypeCode", CREDIT_TRANSFER)
    _element(means, "ram:Information", "Bankgiro")
    _element(_element(means, "ram:PayeePartyCreditorFinancialAccount"), "ram:ProprietaryID", _bankgiro_digits(doc))
    iban.addprevious(means)


def _direct_debit_cii(root, iban, doc: InvoiceDocument) -> None:
    """B23 in CII: code 49 in place of the credit transfer means (CII-SR-467), the
    mandate reference in the payment terms (BT-89, ram:DirectDebitMandateID). The
    debited account (BT-91) is an IBAN in CII (ram:IBANID), which a Swedish clearing
    and account number is not: the UBL carries it."""
    means = etree.Element(iban.tag)
    _element(means, "ram:TypeCode", DIRECT_DEBIT)
    _element(means, "ram:Information", "Autogiro")
    iban.addprevious(means)
    for old in root.findall(".//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans",
                            _CII)[1:]:
        old.getparent().remove(old)
    terms = root.find(".//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradePaymentTerms", _CII)
    _element(terms, "ram:DirectDebitMandateID", doc.direct_debit.mandate_reference)


def invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice in the current language (the request's, or the recipient's under
    force_locale), as PDF/A-3b bytes with the Factur-X XML attached (/AF, Data).

    WeasyPrint writes the PDF, its tags and the attachment in one pass; the Factur-X
    extension schema (from the factur-x library) is then added to the document's XMP
    with pikepdf. (factur-x's own generate_from_binary rewrites the whole file with
    pypdf: a second longer than this for a 1,000-line invoice.)"""
    title = _("Invoice %(number)s", number=doc.number)
    html = render_template("documents/invoice.html", doc=doc, lang=str(get_locale() or "sv"), title=title)
    attachment = Attachment(string=invoice_xml(doc, FACTUR_X), name=FACTUR_X_FILENAME,
                            description="Factur-X (EN 16931)", relationship="Data")

    def factur_x_xmp(opened: pikepdf.Pdf) -> None:
        xmp = opened.Root.Metadata.read_bytes().decode()
        opened.Root.Metadata.write(xmp.replace("</rdf:RDF>", _FACTUR_X_XMP + "</rdf:RDF>", 1).encode())

    return tagged_pdf(html, [CSS(filename=str(STYLESHEET))], attachments=[attachment], then=factur_x_xmp,
                      running_header=page_of_pages(title))


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
    title = (_("Payment confirmation %(reference)s", reference=doc.reference) if doc.confirms_invoice_payment
             else _("Receipt %(reference)s", reference=doc.reference))
    html = render_template("documents/receipt.html", doc=doc, lang=str(get_locale() or "sv"), title=title)
    return tagged_pdf(html, [CSS(filename=str(STYLESHEET))],
                      running_header=page_of_pages(title))


def invoice_filename(doc: InvoiceDocument | Invoice, word: str, extension: str = "pdf") -> str:
    """e.g. faktura-10001.pdf: the word for "invoice" in the document's language (of
    the read model, or of the invoice itself: only its number is used)."""
    return f"{word.lower()}-{doc.number}.{extension}"


def statement_pdf(statement, seller, buyer, payment_request=None, bankgiro: str = "") -> bytes:
    """An account statement (issue 30) in the current language, as a tagged PDF/A-3b
    made like the invoice's: the seller, the buyer, the period, page numbers."""
    # Translators: the page number at the foot of a statement's PDF pages: "Sida 2 av 5".
    numbering = running_header_css(_("Page %(page)s of %(pages)s", page=PAGE, pages=PAGES), "bottom-right",
                                   first_page=True)
    html = render_template("documents/statement.html", statement=statement, doc={"seller": seller, "buyer": buyer},
                           lang=str(get_locale() or "sv"), payment_request=payment_request, bankgiro=bankgiro)
    # Numbered on every page (a statement is read page by page), through the same tagging as
    # invoices and receipts (PDF/UA: headers scoped, label/value pairs, margins as artifacts).
    return tagged_pdf(html, [CSS(filename=str(STYLESHEET)), numbering])
