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

from portal.billing import ids
from portal.billing.remittance import RemittanceDetails
from portal.billing.seller import Seller
from portal.billing.details import reverse_charge
from portal.models import BillingDetails, Invoice, InvoiceStatus
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
class Buyer:
    """Who the invoice is made out to, as it was when issued (B7's billing details, or
    the account's name where none were given)."""
    name: str
    profile: str                  # the billing profile (customer agreement) it is for
    org_number: str = ""
    vat_number: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""
    country: str = "SE"
    reference: str = ""           # "Er referens" / purchase order
    reverse_charge: bool = False  # another EU country, VAT number given: no Swedish VAT
    email: str = ""               # where the invoice is emailed: its electronic address (BT-49) when no registry id is known

    @property
    def address(self) -> tuple[str, ...]:
        return tuple(line for line in (self.street, f"{self.postcode} {self.city}".strip()) if line)


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
    buyer: Buyer
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


def buyer_of(account_name: str, profile_name: str, details: BillingDetails | None, email: str = "") -> Buyer:
    """The buyer as it is now: the billing details given (B7), else the account's name;
    `profile_name` is the billing profile's (customer agreement), "" for pay-as-you-go;
    `email` the account's billing address, unless the details name invoice recipients."""
    if details is None:
        return Buyer(name=account_name, profile=profile_name, email=email)
    return Buyer(name=details.company_name, profile=profile_name, org_number=details.org_number,
                 vat_number=details.vat_number, street=details.street, postcode=details.postcode,
                 city=details.city, country=details.country, reference=details.reference,
                 reverse_charge=reverse_charge(details), email=(details.recipients or [email])[0])


def frozen_parties(seller: Seller | None, buyer: Buyer) -> dict:
    """Seller and buyer as they are now, to keep on an invoice being issued."""
    return {"seller": dataclasses.asdict(seller) if seller is not None else None,
            "buyer": dataclasses.asdict(buyer)}


def invoice_document(invoice: Invoice, seller: Seller, remittance: RemittanceDetails) -> InvoiceDocument:
    """The document of an invoice the caller may see (accounts.invoice_of): with the
    seller and buyer it was issued with (`seller`, today's, only for invoices issued
    before parties were kept)."""
    currency = invoice.currency
    account = invoice.billing_profile.account
    parties = invoice.parties or frozen_parties(None, buyer_of(account.name, invoice.billing_profile.name, None,
                                                                    account.notification_email))
    if parties.get("seller"):
        seller = Seller(**parties["seller"])
    buyer = Buyer(**parties["buyer"])
    return InvoiceDocument(
        number=invoice.number, issued_on=invoice.issued_on, due_on=invoice.due_on,
        period_start=invoice.period_start, period_end=invoice.period_end,
        status=invoice.status, paid_on=invoice.paid_on, seller=seller,
        buyer=buyer,
        lines=[DocumentLine(line.description, invoice.period_start, invoice.period_end,
                            Money(line.amount_minor, currency)) for line in invoice.lines],
        subtotal=Money(invoice.subtotal_minor, currency),
        credits=Money(invoice.credits_applied_minor, currency),
        amount_due=invoice.amount_due,
        vat=[vat_included(invoice.amount_due, 0 if buyer.reverse_charge else VAT_RATE_PERCENT)],
        remittance=remittance.for_invoice(invoice.number),
        payment_terms_days=(invoice.due_on - invoice.issued_on).days)


@dataclass(frozen=True)
class ReceiptDocument:
    """A payment's receipt as a document (B6 for pay-as-you-go): who was paid, by whom,
    when, how much (with the VAT inside it) and for what."""
    reference: str
    paid_on: date
    seller: Seller
    buyer: Buyer
    amount: Money
    vat: VatBreakdown
    method: str                          # "Visa ending in 4242", in the current language
    subscriptions: list[tuple[str, date, date, Money]]  # settled: name, first and last period, amount
    invoices: list[str]                  # paid invoices' numbers
    more_subscriptions: int = 0          # settled but not listed (issue 28: a page of names, the rest summed)
    more_amount: Money | None = None


def receipt_document(payment, seller: Seller, details: BillingDetails | None, paid_on: date, method: str,
                     subscriptions: list, invoices: list[str], more: tuple[int, Money] = (0, None)) -> ReceiptDocument:
    """The receipt of a payment the caller may see (accounts.payment_of)."""
    account = payment.payment_method.account
    buyer = buyer_of(account.name, "", details)
    amount = Money(payment.amount_minor, payment.currency)
    # What was paid carried Swedish VAT: pay-as-you-go charges are billed at the
    # VAT-inclusive price whoever the buyer is (reverse charge applies to invoices).
    return ReceiptDocument(reference=ids.payment_reference(payment.id), paid_on=paid_on, seller=seller, buyer=buyer,
                           amount=amount, vat=vat_included(amount), method=method,
                           subscriptions=subscriptions, invoices=invoices, more_subscriptions=more[0],
                           more_amount=more[1])

