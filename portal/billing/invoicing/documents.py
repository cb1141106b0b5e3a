"""The invoice as a document (B6): one read model, `invoice_document`, from which the
invoice page and its PDF are both made, so their figures can never differ.

VAT (Mervärdesskattelagen): prices are VAT-inclusive — what a subscription costs is
what is charged — at the standard rate of 25 %. Credits lower the price (they are
discounts, not prepayments), so VAT is on what is charged: the amount due. Per invoice
and rate, the VAT is the amount due × rate / (100 + rate), rounded half up to a whole
öre; the taxable amount is the rest. Money stays in integer minor units throughout.

Reverse charge (ML 16 kap. 17 §, mervärdesskattedirektivet 2006/112/EG art. 196): a
business in another EU country with a valid VAT number (details.reverse_charge) is
charged the price without Swedish VAT — on an invoice and paying as you go alike
(docs/vat.md) — and its documents say "Omvänd betalningsskyldighet" with that
reference and its VAT number. A receipt of a payment of invoices is a payment
confirmation, not a VAT document: the VAT is on the invoices it paid (ML 16 kap. 23 §:
whoever states VAT on a document owes it)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import object_session

from portal.billing import ids
from portal.billing.invoicing.remittance import RemittanceDetails
from portal.billing.seller import Seller
from portal.billing.accounts.details import reverse_charge
from portal.models import (AutogiroMandate, BillingDetails, Invoice, InvoicePayment, InvoiceStatus, MandateStatus,
                           MethodKind)
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
    amount: Money                 # what the line costs: VAT-inclusive (Swedish buyer), net (reverse charge)
    net: Money | None = None      # its unit price excluding VAT (one unit: a month's service)


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

    @property
    def vat_rate_percent(self) -> int:
        """The rate of Swedish VAT this buyer pays: none under reverse charge."""
        return 0 if self.reverse_charge else VAT_RATE_PERCENT


@dataclass(frozen=True)
class DirectDebit:
    """EN 16931 BG-19 of an invoice drawn by Autogiro: the mandate reference (BT-89, the
    payer number Bankgirot keys the mandate by) and the debited account (BT-91:
    clearing and account number), with the bank's name for the PDF's words."""
    mandate_reference: str
    debited_account: str
    bank_name: str
    last4: str


def direct_debit(invoice: Invoice) -> DirectDebit | None:
    """The direct debit an invoice states (its PDF and XML, B6): when its billing profile
    pays by an active mandate — read only then (one statement); else None (it is paid
    by transfer, to the remittance details)."""
    profile = invoice.billing_profile
    method = profile.default_payment_method if profile is not None else None  # loaded with it (joined)
    if method is None or method.kind != MethodKind.AUTOGIRO:
        return None
    session = object_session(invoice)
    mandate = session.scalar(select(AutogiroMandate).where(
        AutogiroMandate.payment_method_id == profile.default_payment_method_id,
        AutogiroMandate.status == MandateStatus.ACTIVE)) if session is not None else None
    if mandate is None:
        return None
    return DirectDebit(mandate.payer_number, f"{mandate.clearing}{mandate.account_number}", mandate.bank_name,
                       mandate.account_number[-4:])


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
    # B23: drawn by Autogiro (an active mandate pays its profile) — the PDF says so in
    # words, the XML as direct debit (BG-19); None: paid by transfer (direct_debit below).
    direct_debit: DirectDebit | None = None


def vat_included(amount: Money, rate_percent: int = VAT_RATE_PERCENT) -> VatBreakdown:
    """The VAT inside a VAT-inclusive amount, rounded half up to a whole minor unit."""
    vat_minor = (amount.minor * rate_percent * 2 + (100 + rate_percent)) // (2 * (100 + rate_percent))
    return VatBreakdown(rate_percent, Money(amount.minor - vat_minor, amount.currency),
                        Money(vat_minor, amount.currency))


def price_for(amount: Money, reverse: bool) -> Money:
    """What a buyer is charged for a list price (prices are VAT-inclusive): the price,
    or — reverse charge, on either account kind — the price without Swedish VAT, the
    same net price every buyer pays (docs/vat.md)."""
    return vat_included(amount).taxable if reverse else amount


def line_nets(amounts: list[Money], credits: Money, vat: VatBreakdown) -> list[Money]:
    """Each line's amount without VAT (EN 16931's line net amount, the PDF's unit price
    excl. VAT): the VAT inside it taken out line by line; the öre separate rounding
    leaves over go to the last line when there are no credits (with credits, the
    XML's allowance takes them), so the lines add up to the taxable amount exactly —
    the same figures as the e-invoice (billing/invoicing/einvoice.py)."""
    if not amounts:
        return []
    nets = [vat_included(amount, vat.rate_percent).taxable.minor for amount in amounts]
    if not credits.minor:
        nets[-1] -= sum(nets) - vat.taxable.minor
    return [Money(net, amount.currency) for net, amount in zip(nets, amounts)]


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
    """Seller and buyer as they are now, to keep on an invoice being issued or a payment
    being recorded (B17: its receipt shows them, whenever it is made)."""
    return {"seller": dataclasses.asdict(seller) if seller is not None else None,
            "buyer": dataclasses.asdict(buyer)}


def kept_parties(parties: dict | None, seller: Seller, buyer: Buyer) -> tuple[Seller, Buyer]:
    """The seller and buyer kept with a document (`frozen_parties`), or the given ones
    (today's) for what was made before they were kept. A seller field added since it
    was kept (a new SELLER_* setting) is today's value; keys no longer known are left."""
    if not parties:
        return seller, buyer
    if parties.get("seller"):
        fields = {f.name for f in dataclasses.fields(Seller)}
        seller = Seller(**{**dataclasses.asdict(seller),
                           **{k: v for k, v in parties["seller"].items() if k in fields}})
    if parties.get("buyer"):
        fields = {f.name for f in dataclasses.fields(Buyer)}
        buyer = Buyer(**{k: v for k, v in parties["buyer"].items() if k in fields})
    return seller, buyer


def invoice_document(invoice: Invoice, seller: Seller, remittance: RemittanceDetails) -> InvoiceDocument:
    """The document of an invoice the caller may see (accounts.invoice_of): with the
    seller and buyer it was issued with (`seller`, today's, only for invoices issued
    before parties were kept), and — its profile paying by an active Autogiro mandate
    when it is made — the direct debit (B23)."""
    currency = invoice.currency
    account = invoice.billing_profile.account
    seller, buyer = kept_parties(invoice.parties, seller, buyer_of(account.name, invoice.billing_profile.name, None,
                                                                   account.notification_email))
    vat = vat_included(invoice.amount_due, buyer.vat_rate_percent)
    amounts = [Money(line.amount_minor, currency) for line in invoice.lines]
    nets = line_nets(amounts, Money(invoice.credits_applied_minor, currency), vat)
    return InvoiceDocument(
        number=invoice.number, issued_on=invoice.issued_on, due_on=invoice.due_on,
        period_start=invoice.period_start, period_end=invoice.period_end,
        status=invoice.status, paid_on=invoice.paid_on, seller=seller,
        buyer=buyer,
        lines=[DocumentLine(line.description, invoice.period_start, invoice.period_end, amount, net)
               for line, amount, net in zip(invoice.lines, amounts, nets)],
        subtotal=Money(invoice.subtotal_minor, currency),
        credits=Money(invoice.credits_applied_minor, currency),
        amount_due=invoice.amount_due,
        vat=[vat],
        remittance=remittance.for_invoice(invoice.number),
        payment_terms_days=(invoice.due_on - invoice.issued_on).days,
        direct_debit=direct_debit(invoice))


class ReceiptLine(NamedTuple):
    """A subscription a payment settled: its name, first and last period, what it cost
    and, on a VAT receipt, that without VAT."""
    description: str
    period_start: date
    period_end: date
    amount: Money
    net: Money | None = None


@dataclass(frozen=True)
class ReceiptDocument:
    """A payment's receipt as a document, with the parties of the day it was paid (B17).

    Pay-as-you-go (`vat` set): the receipt is the VAT document of what it paid —
    Swedish VAT inside the amount for a Swedish (or non-business) buyer, none under
    reverse charge. A payment of invoices (`vat` None): a payment confirmation naming
    the invoiced buyer and each invoice with what was paid of it; no VAT (it is on the
    invoices)."""
    reference: str
    paid_on: date
    seller: Seller
    buyer: Buyer
    amount: Money
    vat: VatBreakdown | None
    method: str | None                   # "Visa ending in 4242", in the current language; None: check/wire transfer
    subscriptions: list[ReceiptLine]     # settled (pay-as-you-go), the first RECEIPT_LINES
    invoices: list[tuple[str, Money]]    # paid invoices' numbers and what this payment paid of each
    more_subscriptions: int = 0          # settled but not listed (issue 28: a page of names, the rest summed)
    more_amount: Money | None = None

    @property
    def confirms_invoice_payment(self) -> bool:
        return self.vat is None


def invoices_paid(session, payment) -> tuple[list[tuple[str, Money]], dict | None]:
    """What a payment of invoices paid of each (number, share), in number order, and the
    buyer the newest of them was made out to (kept at issue; None if it predates that)."""
    rows = session.execute(select(Invoice.number, InvoicePayment.amount_minor, Invoice.parties)
                           .join(InvoicePayment, InvoicePayment.invoice_id == Invoice.id)
                           .where(InvoicePayment.payment_id == payment.id).order_by(Invoice.id)).all()
    buyer = next((parties["buyer"] for _, _, parties in reversed(rows) if parties and parties.get("buyer")), None)
    return [(number, Money(minor, payment.currency)) for number, minor, _ in rows], buyer


def receipt_document(payment, seller: Seller, details: BillingDetails | None, paid_on: date, method: str | None,
                     subscriptions: list, invoices: list[tuple[str, Money]], more: tuple[int, Money] = (0, None),
                     invoiced_buyer: dict | None = None) -> ReceiptDocument:
    """The receipt of a payment the caller may see (accounts.payment_of), with the
    parties kept with it at payment (`payment.parties`; `details`, today's billing
    details, only for payments recorded before they were kept). A payment of invoices
    names the buyer the invoices were made out to (`invoiced_buyer`, kept with the
    newest of them). `subscriptions`: (name, first period day, last, amount)."""
    account = payment.payment_method.account
    profile = payment.billing_profile.name if payment.billing_profile is not None else ""
    seller, buyer = kept_parties(payment.parties, seller, buyer_of(account.name, profile, details))
    amount = Money(payment.amount_minor, payment.currency)
    if payment.billing_profile_id is not None or invoices:
        _, buyer = kept_parties({"buyer": invoiced_buyer}, seller, buyer)
        return ReceiptDocument(reference=ids.payment_reference(payment.id), paid_on=paid_on, seller=seller,
                               buyer=buyer, amount=amount, vat=None, method=method, subscriptions=[],
                               invoices=invoices)
    # Pay-as-you-go: what was paid is priced for this buyer (lifecycle.price_for):
    # VAT-inclusive for a Swedish buyer, net under reverse charge.
    vat = vat_included(amount, buyer.vat_rate_percent)
    lines = [ReceiptLine(name, first, last, line_amount, vat_included(line_amount, buyer.vat_rate_percent).taxable)
             for name, first, last, line_amount in subscriptions]
    return ReceiptDocument(reference=ids.payment_reference(payment.id), paid_on=paid_on, seller=seller, buyer=buyer,
                           amount=amount, vat=vat, method=method, subscriptions=lines, invoices=[],
                           more_subscriptions=more[0], more_amount=more[1])
