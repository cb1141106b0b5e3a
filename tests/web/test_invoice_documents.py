"""B6: the invoice as a document — read back from the PDF the customer downloads:
every field Swedish law asks for (ESV, "Vad en faktura ska innehålla"; ML 17 kap.),
in Swedish and English; archival and accessible (PDF/A-3b, tagged, language, title);
the same figures as the invoice page; the invoice as issued, whatever is paid later."""
from __future__ import annotations

import io
import re

import pikepdf
import pypdf
import pytest
from flask_babel import force_locale
from facturx import get_xml_from_pdf, xml_check_xsd
from hypothesis import given, strategies as st
from lxml import etree
from sqlalchemy import select

from portal.billing import payments
from portal.billing.invoicing.documents import VAT_RATE_PERCENT, vat_included
from portal.billing.payments import UseSavedCard
from portal.billing.invoicing.remittance import ocr_reference
from portal.models import Invoice, PaymentMethod, User
from portal.i18n import money
from portal.money import Money
from tests.pdfua import problems
from tests.web.conftest import sign_in_as

SWEDISH = ["Från", "Till", "Contoso Cloud AB", "Box 1234", "111 22 Stockholm", "Organisationsnummer",
           "556677-8899", "Momsregistreringsnummer", "SE556677889901", "Godkänd för F-skatt",
           "Fjällström Logistik AB", "Fakturanummer", "Fakturadatum", "Förfallodatum", "Period",
           "Betalningsvillkor", "30 dagar netto", "Belopp inkl. moms", "Underlag för moms 25 %", "Moms 25 %",
           "Delsumma", "Belopp att betala", "Bankgiro", "5050-1055", "IBAN", "BIC", "OCR-nummer"]
ENGLISH = ["From", "To", "Contoso Cloud AB", "Organisation number", "556677-8899", "VAT registration number",
           "SE556677889901", "Approved for F-tax", "Fjällström Logistik AB", "Invoice number", "Invoice date",
           "Due date", "Payment terms", "30 days net", "Amount incl. VAT", "Taxable amount at 25 % VAT",
           "VAT 25 %", "Subtotal", "Amount due", "Bankgiro", "OCR reference"]


MONEY = re.compile(r"(?<![\d,])(?<!\d )\d{1,3}(?: \d{3})*,\d\d kr")  # "1 234,50 kr", spaces made plain


def pdf_of(browser, demo, invoice_id, lang):
    response = browser.get(f"/{lang}/accounts/{demo.agreement}/invoices/{invoice_id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return response


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize("lang, words, filename", [("sv", SWEDISH, "faktura-"), ("en", ENGLISH, "invoice-")])
def test_b6_the_pdf_holds_every_field_the_law_asks_for(browser, demo, b, lang, words, filename):
    sign_in_as(browser, "olivia@example.com", lang)
    invoice = b.session.get(Invoice, demo.due)
    response = pdf_of(browser, demo, demo.due, lang)
    assert f'filename="{filename}{invoice.number}.pdf"' in response.headers["Content-Disposition"]
    text = text_of(response.data)
    missing = [w for w in words + [invoice.number, ocr_reference(invoice.number)] if w not in text]
    assert missing == [], text
    for line in invoice.lines:
        assert line.description in text


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b6_the_pdf_is_archival_tagged_and_in_the_pages_language(browser, demo, b, lang):
    sign_in_as(browser, "olivia@example.com", lang)
    number = b.session.get(Invoice, demo.due).number
    with pikepdf.open(io.BytesIO(pdf_of(browser, demo, demo.due, lang).data)) as pdf:
        assert str(pdf.Root.Lang) == lang
        assert "/StructTreeRoot" in pdf.Root and bool(pdf.Root.MarkInfo.Marked)  # tagged
        with pdf.open_metadata() as meta:
            assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("3", "B")  # PDF/A-3b
            assert number in meta["dc:title"]
        assert number in str(pdf.docinfo["/Title"])
        # The tags say what each part is: headings and a table, not just text.
        kinds = {str(node.get("/S")) for node in _struct_nodes(pdf.Root.StructTreeRoot)}
        assert {"/H1", "/H2", "/Table", "/TH", "/TD"} <= kinds, kinds
    assert problems(pdf_of(browser, demo, demo.due, lang).data) == []  # PDF/UA's rules (tests/pdfua.py)


def _struct_nodes(node, depth=0):
    kids = node.get("/K")
    if kids is None or depth > 40:
        return
    for kid in (kids if isinstance(kids, pikepdf.Array) else [kids]):
        if isinstance(kid, pikepdf.Dictionary):
            yield kid
            yield from _struct_nodes(kid, depth + 1)


def test_b6_page_and_pdf_show_the_same_figures(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.agreement}/invoices/{demo.due}").get_data(as_text=True)
    text = text_of(pdf_of(browser, demo, demo.due, "sv").data)
    amounts = set(MONEY.findall(re.sub(r"\s+", " ", page)))
    assert len(amounts) >= 7  # three lines, subtotal, credits, taxable amount, VAT (and amount due)
    plain_text = re.sub(r"\s+", " ", text)
    assert [a for a in amounts if a not in plain_text] == []


def test_i28_paying_an_invoice_leaves_its_pdf_as_issued(browser, demo, b):
    """The PDF is the invoice as issued (issue 28: made once, never changed): paying it
    changes the page's status, not one byte of the file; the receipt proves the payment."""
    sign_in_as(browser, "olivia@example.com", "en")
    before = pdf_of(browser, demo, demo.due, "en").data
    owner = b.session.scalars(select(User).where(User.email == "olivia@example.com")).one()
    card = b.session.scalars(select(PaymentMethod.id).where(PaymentMethod.account_id == demo.agreement,
                                                             PaymentMethod.kind == "card")).first()
    quote = payments.quote_invoices(b, owner, demo.profile, [demo.due])
    payments.pay_invoices(b, owner, demo.profile, [demo.due], UseSavedCard(card), quote.total.minor, "b6-pay-0001")
    assert "Paid" in browser.get(f"/en/accounts/{demo.agreement}/invoices/{demo.due}").get_data(as_text=True)
    assert pdf_of(browser, demo, demo.due, "en").data == before
    assert "Paid" not in text_of(before) and "Due" not in text_of(before).splitlines()


def test_b6_r19_only_people_of_the_account_get_its_invoices(browser, demo):
    sign_in_as(browser, "rasmus@example.com", "en")  # a reader: may see, and download
    assert pdf_of(browser, demo, demo.due, "en").status_code == 200
    sign_in_as(browser, "anna@example.com", "en")  # another customer: it does not exist
    assert browser.get(f"/en/accounts/{demo.agreement}/invoices/{demo.due}/pdf").status_code == 404


def test_b6_every_invoice_row_links_its_pdf(browser, demo):
    sign_in_as(browser, "olivia@example.com", "sv")
    listing = browser.get(f"/sv/accounts/{demo.agreement}/invoices").get_data(as_text=True)
    for invoice_id in (demo.due, demo.past_due, demo.paid):
        assert f"/invoices/{invoice_id}/pdf" in listing
    assert listing.count("Ladda ner faktura (PDF)") == 3


@given(st.integers(0, 10**12))
def test_b6_vat_is_inside_the_amount_and_rounded_to_the_nearest_ore(minor):
    part = vat_included(Money(minor, "SEK"))
    assert part.taxable.minor + part.vat.minor == minor
    exact = minor * VAT_RATE_PERCENT / (100 + VAT_RATE_PERCENT)
    assert abs(part.vat.minor - exact) <= 0.5


# --- the EN 16931 data: UBL 2.1 to download, Factur-X inside the PDF ------------------

UBL_NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
          "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}


def cents(node) -> int:
    whole, _, fraction = node.text.partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2]) * (-1 if whole.startswith("-") else 1)


@pytest.mark.parametrize("invoice", ["due", "past_due", "paid"])
def test_b6_the_ubl_xml_validates_and_its_sums_add_up_to_the_page(browser, demo, b, invoice):
    sign_in_as(browser, "olivia@example.com", "en")
    invoice_id = getattr(demo, invoice)
    response = browser.get(f"/en/accounts/{demo.agreement}/invoices/{invoice_id}/ubl")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert xml_check_xsd(response.data, flavor="ubl-2.1", level="en16931")  # the standard's own schema
    root = etree.fromstring(response.data)
    one = lambda path: root.find(path, UBL_NS)  # noqa: E731
    stored = b.session.get(Invoice, invoice_id)
    assert one("cbc:ID").text == stored.number and one("cbc:IssueDate").text == stored.issued_on.isoformat()
    assert one("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID").text == "SE556677889901"
    lines = [cents(n) for n in root.findall("cac:InvoiceLine/cbc:LineExtensionAmount", UBL_NS)]
    allowances = sum(cents(n) for n in root.findall("cac:AllowanceCharge/cbc:Amount", UBL_NS))
    totals = {tag: cents(one(f"cac:LegalMonetaryTotal/cbc:{tag}")) for tag in
              ("LineExtensionAmount", "TaxExclusiveAmount", "TaxInclusiveAmount", "PayableAmount")}
    vat = cents(one("cac:TaxTotal/cbc:TaxAmount"))
    taxable = cents(one("cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount"))
    assert totals["LineExtensionAmount"] == sum(lines)                      # BR-CO-10
    assert totals["TaxExclusiveAmount"] == sum(lines) - allowances == taxable  # BR-CO-13
    assert totals["TaxInclusiveAmount"] == taxable + vat                    # BR-CO-15
    assert totals["PayableAmount"] == stored.amount_due.minor              # what the page says is due
    assert vat == vat_included(stored.amount_due).vat.minor
    assert abs(vat - taxable * VAT_RATE_PERCENT / 100) <= 1                 # BR-CO-17, to the öre
    assert one("cac:PaymentMeans/cbc:PaymentID").text == ocr_reference(stored.number)


def test_b6_the_pdf_carries_the_same_data_as_factur_x(browser, demo, b):
    sign_in_as(browser, "olivia@example.com", "sv")
    pdf = pdf_of(browser, demo, demo.due, "sv").data
    filename, xml = get_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    root = etree.fromstring(xml)
    ns = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
    due = root.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount", ns)
    assert cents(due) == b.session.get(Invoice, demo.due).amount_due.minor
    with pikepdf.open(io.BytesIO(pdf)) as opened:  # still archival and tagged with the XML inside
        assert str(opened.Root.Lang) == "sv" and bool(opened.Root.MarkInfo.Marked)
        with opened.open_metadata() as meta:
            assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("3", "B")
            assert meta["dc:title"].startswith("Faktura ")
            fx = "{urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#}"
            assert (meta[f"{fx}DocumentType"], meta[f"{fx}ConformanceLevel"]) == ("INVOICE", "EN 16931")
        assert str(opened.Root.AF[0].AFRelationship) == "/Data"


# --- pay-as-you-go: a receipt PDF per payment ---------------------------------------------

@pytest.mark.parametrize("lang, words", [
    ("sv", ["Kvitto", "Contoso Cloud AB", "556677-8899", "Godkänd för F-skatt", "Nordlund Konsult AB", "559123-4561",
            "Webbshop – produktion", "Webbshop – test", "Moms 25 %", "Betalt belopp", "Visa som slutar på 4242"]),
    ("en", ["Receipt", "Contoso Cloud AB", "Approved for F-tax", "Nordlund Konsult AB", "Webbshop – produktion",
            "VAT 25 %", "Amount paid", "Visa ending in 4242"]),
])
def test_b6_a_settlement_has_a_receipt_pdf_in_the_pages_language(app, browser, demo, b, lang, words):
    anna = b.session.scalars(select(User).where(User.email == "anna@example.com")).one()
    quote = payments.quote_settlement(b, anna, demo.production, demo.spare_card)
    payment = payments.settle_balance(b, anna, demo.production, UseSavedCard(demo.spare_card), quote.total.minor,
                                      f"receipt-pdf-{lang}-01")
    sign_in_as(browser, "anna@example.com", lang)
    page = browser.get(f"/{lang}/accounts/{demo.payg}/payments/{payment.id}").get_data(as_text=True)
    assert f"/payments/{payment.id}/pdf" in page
    response = browser.get(f"/{lang}/accounts/{demo.payg}/payments/{payment.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = re.sub(r"\s+", " ", text_of(response.data))
    assert [w for w in words if w not in text] == [], text
    vat = vat_included(Money(payment.amount_minor, "SEK"))
    with app.test_request_context(f"/{lang}/"), force_locale(lang):
        shown = money(vat.vat)
    assert re.sub(r"\s", " ", shown) in text  # the VAT inside what was paid
    with pikepdf.open(io.BytesIO(response.data)) as pdf:
        assert str(pdf.Root.Lang) == lang and "/StructTreeRoot" in pdf.Root
        with pdf.open_metadata() as meta:
            assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("3", "B")
    sign_in_as(browser, "olivia@example.com", lang)  # another customer: no such receipt
    assert browser.get(f"/{lang}/accounts/{demo.payg}/payments/{payment.id}/pdf").status_code == 404
