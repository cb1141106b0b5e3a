"""Issue 30: the seller's registered office (SELLER_REGISTERED_OFFICE, säte) checked at
start; and what the invoice XML carries for Peppol BIS Billing 3.0 and the Swedish
rules — read back from the XML (the official rules themselves run in
tests/web/test_i30_einvoice_rules.py)."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from lxml import etree

from portal.billing.invoicing.documents import Buyer, DocumentLine, InvoiceDocument, vat_included
from portal.billing.invoicing.einvoice import PEPPOL_BILLING, PEPPOL_PROCESS, SPECIFICATION
from portal.billing.seller import InvalidSellerDetails, seller_from_config
from portal.document_files import FACTUR_X, UBL, invoice_xml
from portal.models import InvoiceStatus
from portal.money import Money
from tests.billing.test_invoice_documents import OCT, REMITTANCE, SELLER

SETTINGS = {"SELLER_NAME": "Contoso Cloud AB", "SELLER_STREET": "Box 1234", "SELLER_POSTCODE": "111 22",
            "SELLER_CITY": "Stockholm", "SELLER_ORGNR": "556677-8899", "SELLER_VAT_NUMBER": "SE556677889901",
            "SELLER_EMAIL": "faktura@contoso.example", "SELLER_REGISTERED_OFFICE": "Stockholm"}
NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
      "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"}


@pytest.mark.parametrize("office", ["Stockholm", "Upplands Väsby", "Malung-Sälen", "Östersund"])
def test_i30_a_municipality_is_a_registered_office(office):
    assert seller_from_config({**SETTINGS, "SELLER_REGISTERED_OFFICE": f" {office} "}).registered_office == office


@pytest.mark.parametrize("office", [None, "", "   ", "111 22 Stockholm", "Stockholm!", "-Lund", "x" * 51])
def test_i30_the_portal_refuses_to_start_without_a_registered_office(office):
    config = {key: value for key, value in SETTINGS.items() if key != "SELLER_REGISTERED_OFFICE"}
    if office is not None:
        config["SELLER_REGISTERED_OFFICE"] = office
    with pytest.raises(InvalidSellerDetails) as refused:
        seller_from_config(config)
    assert refused.value.setting == "SELLER_REGISTERED_OFFICE"


def document(buyer: Buyer, f_tax: bool = True) -> InvoiceDocument:
    due = Money(1_250_00, "SEK")
    return InvoiceDocument(
        number="10001", issued_on=date(2026, 11, 1), due_on=date(2026, 12, 1), period_start=OCT[0],
        period_end=OCT[1], status=InvoiceStatus.DUE, paid_on=None,
        seller=dataclasses.replace(SELLER, f_tax=f_tax, registered_office="Stockholm"), buyer=buyer,
        lines=[DocumentLine("Lagersystem", *OCT, due)], subtotal=due, credits=Money(0, "SEK"), amount_due=due,
        vat=[vat_included(due, 0 if buyer.reverse_charge else 25)], remittance=REMITTANCE.for_invoice("10001"),
        payment_terms_days=30)


SWEDISH = Buyer("Fjällström Logistik AB", "P", org_number="556036-0793", vat_number="SE556036079301", city="Göteborg")


def test_i30_the_ubl_is_a_peppol_invoice_with_f_tax_registered_office_addresses_and_bankgiro():
    root = etree.fromstring(invoice_xml(document(SWEDISH), UBL))
    text = lambda path: [n.text for n in root.xpath(path, namespaces=NS)]  # noqa: E731
    seller = "cac:AccountingSupplierParty/cac:Party/"
    assert text("cbc:CustomizationID") == [PEPPOL_BILLING] and text("cbc:ProfileID") == [PEPPOL_PROCESS]
    assert root.find(f"{seller}cbc:EndpointID", NS).attrib == {"schemeID": "0007"}
    assert text(f"{seller}cbc:EndpointID") == ["5566778899"]                      # BT-34 (R020)
    assert text(f"{seller}cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='TAX']/cbc:CompanyID") == ["Godkänd för F-skatt"]
    assert text(f"{seller}cac:PartyLegalEntity/cbc:CompanyLegalForm") == ["Styrelsens säte: Stockholm"]  # BT-33
    assert text(f"{seller}cac:Contact/cbc:ElectronicMail") == ["faktura@contoso.example"]
    assert text("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID") == ["5560360793"]  # BT-49 (R010)
    means = root.findall("cac:PaymentMeans", NS)
    assert [(m.findtext("cac:PayeeFinancialAccount/cbc:ID", namespaces=NS),
             m.findtext("cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID", namespaces=NS),
             m.findtext("cbc:PaymentID", namespaces=NS)) for m in means] == [
        ("50501055", "SE:BANKGIRO", REMITTANCE.for_invoice("10001").ocr),
        ("SE4550000000058398257466", "ESSESESS", REMITTANCE.for_invoice("10001").ocr)]


def test_i30_the_factur_x_cii_keeps_its_profile_and_carries_the_same_parties():
    root = etree.fromstring(invoice_xml(document(SWEDISH), FACTUR_X))
    text = lambda path: [n.text for n in root.xpath(path, namespaces=NS)]  # noqa: E731
    context = "rsm:ExchangedDocumentContext/"
    assert text(f"{context}ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [SPECIFICATION]
    assert text(f"{context}ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == [PEPPOL_PROCESS]
    seller = ".//ram:SellerTradeParty/"
    assert text(f"{seller}ram:Description") == ["Styrelsens säte: Stockholm"]
    assert text(f"{seller}ram:SpecifiedTaxRegistration/ram:ID[@schemeID='FC']") == ["Godkänd för F-skatt"]
    assert text(f"{seller}ram:URIUniversalCommunication/ram:URIID[@schemeID='0007']") == ["5566778899"]
    assert text(".//ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID[@schemeID='0007']") == ["5560360793"]
    assert text(".//ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/*") == [
        "50501055", "SE4550000000058398257466"]
    assert text(".//ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID") == ["ESSESESS"]


@pytest.mark.parametrize("buyer, address", [
    (SWEDISH, ("0007", "5560360793")),
    (Buyer("Köpare AB", "P", vat_number="SE556036079301"), ("0007", "5560360793")),
    (Buyer("F GmbH", "P", vat_number="DE136695976", country="DE", reverse_charge=True), ("9930", "DE136695976")),
    (Buyer("D A/S", "P", vat_number="DK13585628", country="DK", reverse_charge=True), ("0184", "13585628")),
    (Buyer("I SpA", "P", vat_number="IT00743110157", country="IT", reverse_charge=True), ("0211", "00743110157")),
    (Buyer("Kunde", "P", email="ap@kunde.example"), ("EM", "ap@kunde.example")),  # not reachable by Peppol
])
def test_i30_the_buyer_has_an_electronic_address(buyer, address):
    endpoint = etree.fromstring(invoice_xml(document(buyer), UBL)).find(
        "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS)
    assert (endpoint.get("schemeID"), endpoint.text) == address


def test_i30_a_seller_without_f_tax_states_none():
    xml = invoice_xml(document(SWEDISH, f_tax=False), UBL).decode()
    assert "F-skatt" not in xml and "<cbc:ID>TAX</cbc:ID>" not in xml
