"""Pay invoices, customer agreement (R19–R22, B4, B12): the profile's open invoices
(or the chosen ones), whole or a part of them, the oldest due first."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from portal.billing.accounts import access, notify
from portal.billing.accounts.access import Action
from portal.billing import ids
from portal.billing.accounts.balances import InvoiceQuote, invoice_quote
from portal.billing.context import Billing
from portal.errors import InvalidPart, NothingToPay, NotFound
from portal.money import Money
from portal.billing.accounts.notify import refusals_audited
from portal.billing.transaction import lock_account
from portal.models import (BillingAccount, BillingProfile, Invoice, InvoiceStatus, Payment, PaymentMethod,
                           PaymentPurpose, UnconfirmedPayment, User)
from portal.billing.payments.cards import MethodChoice
from portal.billing.payments.attempts import Allocation, Attempt, resolve_choice
from portal.billing.payments.ledger import Applied, oldest_first_shares, receipt_details
from portal.billing.payments.engine import FLOWS, check_expected, pay


# B12: the least part of an invoice payment (in minor units of the account's currency:
# 100 kr). A total of less than twice this is paid whole.
MINIMUM_PART_MINOR = 100_00


@refusals_audited
def payable_profile(b: Billing, user: User, profile_id: int, account_id: int | None = None) -> BillingProfile:
    """The billing profile, if the user may pay its invoices (R19); with `account_id`,
    a profile of any other account is NotFound before any role is looked at."""
    profile = ids.get(b.session, BillingProfile, profile_id)
    if profile is None or account_id is not None and profile.account_id != account_id:
        raise NotFound("billing profile")
    access.require(b.session, user, profile.account, Action.PAY_INVOICES, profile.id)  # R19
    return profile


@refusals_audited
def quote_invoices(b: Billing, user: User, profile_id: int,
                   invoice_ids: list[int] | None = None) -> InvoiceQuote:
    return invoices_to_pay(b, payable_profile(b, user, profile_id), invoice_ids)


def invoices_to_pay(b: Billing, profile: BillingProfile, invoice_ids: list[int] | None = None) -> InvoiceQuote:
    """The Pay now page, for a profile `payable_profile` gave (R19 checked once, for
    the page): what paying would charge (read only)."""
    _refuse_paid(b, profile, invoice_ids)
    return invoice_quote(b.session, profile, invoice_ids)


def _refuse_paid(b: Billing, profile: BillingProfile, invoice_ids: list[int] | None) -> None:
    """Paying an invoice of this profile that is already paid is NothingToPay, not
    NotFound: the customer (second tab) should hear 'already paid'."""
    if not invoice_ids:
        return
    if not all(ids.is_id(i) for i in invoice_ids):
        raise NotFound("invoice")
    paid = b.session.scalars(select(Invoice.id).where(
        Invoice.id.in_(invoice_ids), Invoice.billing_profile_id == profile.id,
        Invoice.status == InvoiceStatus.PAID)).first()
    if paid is not None:
        raise NothingToPay()


def can_pay_part(quote: InvoiceQuote) -> bool:
    """B12: whether paying only part now is offered: the whole is at least twice the minimum."""
    return quote.total.minor >= 2 * MINIMUM_PART_MINOR


def part_to_pay(quote: InvoiceQuote, part_minor: int) -> Money:
    """B12 (Azure's split payment): a part of the quote's total, paid now — the rest
    later, with this or another card. At least MINIMUM_PART_MINOR, less than the whole."""
    if not can_pay_part(quote) or not MINIMUM_PART_MINOR <= part_minor < quote.total.minor:
        raise InvalidPart(MINIMUM_PART_MINOR, quote.total.minor)
    return Money(part_minor, quote.currency)


@refusals_audited
def pay_invoices(b: Billing, user: User, profile_id: int, invoice_ids: list[int] | None,
                 choice: MethodChoice, expected_total_minor: int, idempotency_key: str,
                 part_minor: int | None = None) -> Payment:
    """R21/R22: pay the profile's open invoices (or the given ones) with a saved or a
    new card; each becomes Paid with its payment date and method (B4). With
    `part_minor`, only that much of `expected_total_minor` now, the oldest due first
    (B12). An unfinished attempt of the account is finished first (M5)."""
    invoice_ids = list(invoice_ids) if invoice_ids else None
    return pay(b, user, _InvoicePayment(b, user, profile_id, invoice_ids, choice, expected_total_minor,
                                         Attempt(PaymentPurpose.INVOICE, idempotency_key,
                                                  profile_id=profile_id, invoice_ids=invoice_ids),
                                         part_minor))


@dataclass
class _InvoicePayment:
    """Paying invoices, in the steps of `pay`."""
    b: Billing
    user: User
    profile_id: int
    invoice_ids: list[int] | None
    choice: MethodChoice
    expected_total_minor: int
    attempt: Attempt
    part_minor: int | None = None  # B12: only this much of the total, now

    def authorize_and_lock(self) -> BillingAccount:
        profile = payable_profile(self.b, self.user, self.profile_id)  # R19
        return lock_account(self.b.session, profile.account_id)

    def price(self, account: BillingAccount) -> tuple[str, Money]:
        quote = invoices_to_pay(self.b, self.b.session.get(BillingProfile, self.profile_id), self.invoice_ids)
        check_expected(self.expected_total_minor, quote.total)
        amount = quote.total
        if self.part_minor is not None:
            amount, self.attempt.part_of = part_to_pay(quote, self.part_minor), quote.total
        _method, token, _new_card = resolve_choice(self.b, account, self.choice, self.attempt)
        self.attempt.allocation = Allocation(invoices=oldest_first_shares(quote.invoices, amount.minor)[0])
        return token, amount

    def record(self, account: BillingAccount, method: PaymentMethod, payment: Payment, applied: Applied) -> None:
        b = self.b
        details = receipt_details(payment, method, applied, invoices=[i.number for i in applied.invoices])
        if self.part_minor is not None:  # B12: what is left of what the payer saw
            details["left_minor"] = _left_to_pay(b, self.profile_id, self.invoice_ids)
        notify.queue_receipt(b.session, b.clock, account, self.user, details)
        notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id,
                     actor=self.user, profile_id=self.profile_id, purpose="invoice", **details)


def _left_to_pay(b: Billing, profile_id: int, invoice_ids: list[int] | None) -> int:
    """What is left to pay of the profile's open invoices (or of these)."""
    which = [Invoice.id.in_(invoice_ids)] if invoice_ids else []
    return int(b.session.scalar(select(func.coalesce(func.sum(
        Invoice.subtotal_minor - Invoice.credits_applied_minor - Invoice.paid_minor), 0)).where(
        Invoice.billing_profile_id == profile_id, Invoice.status != InvoiceStatus.PAID, *which)))


def _from_attempt(b: Billing, row: UnconfirmedPayment, owner: User | None,
                  choice: MethodChoice) -> _InvoicePayment:
    is_part = row.part_of_minor is not None
    return _InvoicePayment(b, owner, row.billing_profile_id, row.invoice_ids, choice,
                           row.part_of_minor if is_part else row.amount_minor,
                           Attempt(row.purpose, row.idempotency_key, profile_id=row.billing_profile_id,
                                   invoice_ids=row.invoice_ids),
                           row.amount_minor if is_part else None)


FLOWS[PaymentPurpose.INVOICE] = _from_attempt
