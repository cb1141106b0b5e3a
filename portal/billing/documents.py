"""The invoice as a document (B6): one read model, `invoice_document`, from which the
invoice page and its PDF are both made, so their figures can never differ.

VAT (Mervärdesskattelagen): prices are VAT-inclusive — what a subscription costs is
what is charged — at the standard rate of 25 %. Credits lower the price (they are
discounts, not prepayments), so VAT is on what is charged: the amount due. Per invoice
and rate, the VAT is the amount due × rate / (100 + rate), rounded half up to a whole
öre; the taxable amount is the rest. Money stays in integer minor units throughout."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

from portal.billing.remittance import RemittanceDetails
from portal.billing.seller import Seller
from portal.models import BillingProfile, Invoice, InvoiceStatus
from portal.money import Money

VAT_RATE_PERCENT = 25  # the Swedish standard rate; every line of ours is at it


@dataclass(frozen=True)
class VatBreakdown:
    """One VAT rate's part of an invoice."""
    rate_percent: int
    taxable: Money     # beskattningsunderlag
    vat: Money


@dataclass(frozen=True)
class DocumentLine:
    description: str
    period_start: date
    period_end: date
    amount: Money


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything the invoice shows, in the order it shows it."""
    number: str
    issued_on: date
    due_on: date
    period_start: date
    period_end: date
    status: InvoiceStatus
    paid_on: date | None
    seller: Seller
    buyer_name: str          # the customer (billing account)
    buyer_reference: str     # the billing profile the invoice is for
    lines: list[DocumentLine]
    subtotal: Money
    credits: Money
    amount_due: Money
    vat: list[VatBreakdown]
    remittance: RemittanceDetails  # bankgiro, IBAN, BIC and this invoice's OCR
    payment_terms_days: int


def vat_included(amount: Money, rate_percent: int = VAT_RATE_PERCENT) -> VatBreakdown:
    """The VAT inside a VAT-inclusive amount, rounded half up to a whole minor unit."""
    vat_minor = (amount.minor * rate_percent * 2 + (100 + rate_percent)) // (2 * (100 + rate_percent))
    return VatBreakdown(rate_percent, Money(amount.minor - vat_minor, amount.currency),
                        Money(vat_minor, amount.currency))


def frozen_parties(seller: Seller | None, profile: BillingProfile) -> dict:
    """Seller and buyer as they are now, to keep on an invoice being issued."""
    return {"seller": dataclasses.asdict(seller) if seller is not None else None,
            "buyer": {"name": profile.account.name, "reference": profile.name}}


def invoice_document(invoice: Invoice, seller: Seller, remittance: RemittanceDetails) -> InvoiceDocument:
    """The document of an invoice the caller may see (accounts.invoice_of): with the
    seller and buyer it was issued with (`seller`, today's, only for invoices issued
    before parties were kept)."""
    currency = invoice.currency
    parties = invoice.parties or frozen_parties(None, invoice.billing_profile)
    if parties.get("seller"):
        seller = Seller(**parties["seller"])
    buyer = parties["buyer"]
    return InvoiceDocument(
        number=invoice.number, issued_on=invoice.issued_on, due_on=invoice.due_on,
        period_start=invoice.period_start, period_end=invoice.period_end,
        status=invoice.status, paid_on=invoice.paid_on, seller=seller,
        buyer_name=buyer["name"], buyer_reference=buyer["reference"],
        lines=[DocumentLine(line.description, invoice.period_start, invoice.period_end,
                            Money(line.amount_minor, currency)) for line in invoice.lines],
        subtotal=Money(invoice.subtotal_minor, currency),
        credits=Money(invoice.credits_applied_minor, currency),
        amount_due=invoice.amount_due,
        vat=[vat_included(invoice.amount_due)],
        remittance=remittance.for_invoice(invoice.number),
        payment_terms_days=(invoice.due_on - invoice.issued_on).days)
