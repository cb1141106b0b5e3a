"""B23 (issue 34, Deliver 4): an invoice Autogiro draws says so in its XML — EN 16931's
direct debit (BG-19): payment means code 49 (UNCL4461), the mandate reference
(BT-89, PEPPOL-EN16931-R061) and, in UBL, the debited account (BT-91) — in place of the
credit transfer means (EN 16931 has one means of payment). Which invoices: those whose
billing profile pays by an active mandate when the document is made. (The official
rules run over such an invoice in tests/web/test_i30_einvoice_rules.py.)"""
from __future__ import annotations

import dataclasses
from datetime import date

from lxml import etree

from portal.billing.bank import autogiro
from portal.billing.invoicing import documents
from portal.document_files import FACTUR_X, UBL, invoice_xml
from portal.models import AccountKind, Invoice, MandateStatus
from tests import factories as f
from tests.billing.test_i30_seller_and_xml import NS, SWEDISH, document

DEBIT = documents.DirectDebit("10000007", "6000806967498", "Handelsbanken", "7498")


def test_b23_the_ubl_of_an_invoice_autogiro_draws_is_a_direct_debit_with_the_mandate():
    root = etree.fromstring(invoice_xml(dataclasses.replace(document(SWEDISH), direct_debit=DEBIT), UBL))
    means = root.findall("cac:PaymentMeans", NS)
    codes = [m.findtext("cbc:PaymentMeansCode", namespaces=NS) for m in means]
    assert codes == ["49"]   # one means of payment (UBL-SR-47): drawn, not transferred
    debit = means[0]
    assert debit.find("cbc:PaymentMeansCode", NS).get("name") == "Autogiro"
    assert debit.findtext("cac:PaymentMandate/cbc:ID", namespaces=NS) == "10000007"                        # BT-89
    assert debit.findtext("cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID", namespaces=NS) == DEBIT.debited_account
    assert debit.findtext("cbc:PaymentID", namespaces=NS) == document(SWEDISH).remittance.ocr
    plain = etree.fromstring(invoice_xml(document(SWEDISH), UBL))
    assert [m.findtext("cbc:PaymentMeansCode", namespaces=NS) for m in plain.findall("cac:PaymentMeans", NS)] == [
        "30", "30"]


def test_b23_the_factur_x_of_an_invoice_autogiro_draws_names_the_mandate_in_its_payment_terms():
    root = etree.fromstring(invoice_xml(dataclasses.replace(document(SWEDISH), direct_debit=DEBIT), FACTUR_X))
    text = lambda path: [n.text for n in root.xpath(path, namespaces=NS)]  # noqa: E731
    assert text(".//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == ["49"]
    assert text(".//ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID") == ["10000007"]
    plain = etree.fromstring(invoice_xml(document(SWEDISH), FACTUR_X))
    assert plain.xpath(".//ram:DirectDebitMandateID", namespaces=NS) == []


def test_b23_an_invoice_states_the_direct_debit_only_while_an_active_mandate_pays_its_profile(b):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc)
    invoice = Invoice(billing_profile_id=profile.id, number="2026000000991", currency="SEK",
                      period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), issued_on=date(2026, 11, 1),
                      due_on=date(2026, 12, 1), subtotal_minor=1_000_00, credits_applied_minor=0)
    b.session.add(invoice)
    f.commit(b)
    assert documents.direct_debit(invoice) is None          # paid by transfer
    mandate = autogiro.give_mandate(b, None, acc.id, "6000", "806967498", "556036-0793", profile_id=profile.id)
    assert documents.direct_debit(invoice) is None          # pending: the bank has not said yes
    mandate.status = MandateStatus.ACTIVE
    f.commit(b)
    assert documents.direct_debit(invoice) == documents.DirectDebit(
        mandate.payer_number, "6000806967498", "Handelsbanken", "7498")
    autogiro.cancel_mandate(b, None, mandate.id)
    assert documents.direct_debit(invoice) is None          # cancelled: paid by transfer again
