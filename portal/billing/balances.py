"""What is owed: the outstanding balance per payment method (R04, R07, R08) and the
open invoices of a billing profile (R20)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from portal.billing.errors import NotFound
from portal.billing.money import Money, total
from portal.models import (BillingProfile, Charge, ChargeStatus, Invoice, InvoiceStatus,
                           PaymentMethod, Subscription, SubscriptionStatus)

SETTLEABLE = (SubscriptionStatus.PAST_DUE, SubscriptionStatus.DISABLED)  # B1


def outstanding_charges(session: Session, method_id: int) -> list[Charge]:
    """R07: the outstanding charges of every subscription that uses the method."""
    return list(session.scalars(
        select(Charge).join(Charge.subscription).options(contains_eager(Charge.subscription))
        .where(Subscription.payment_method_id == method_id,
               Charge.status == ChargeStatus.OUTSTANDING)
        .order_by(Subscription.id, Charge.period_start)))


@dataclass(frozen=True)
class SettlementQuote:
    """Everything the customer must see before pressing Pay (R08, WCAG 3.3.4)."""
    failed_method: PaymentMethod
    chosen_method: PaymentMethod | None
    failed_method_charges: list[Charge]   # R04/R07: all of them, at once
    chosen_method_charges: list[Charge]   # R08: the chosen method's own, added
    currency: str

    @property
    def charges(self) -> list[Charge]:
        return self.failed_method_charges + self.chosen_method_charges

    @property
    def failed_method_total(self) -> Money:
        return total((c.amount for c in self.failed_method_charges), self.currency)

    @property
    def chosen_method_total(self) -> Money:
        return total((c.amount for c in self.chosen_method_charges), self.currency)

    @property
    def total(self) -> Money:
        return self.failed_method_total + self.chosen_method_total

    @property
    def subscriptions(self) -> list[Subscription]:
        """Each subscription whose charges are in the total, once, in order."""
        return list({c.subscription.id: c.subscription for c in self.charges}.values())


def settlement_quote(session: Session, subscription: Subscription,
                     chosen_method: PaymentMethod | None) -> SettlementQuote:
    failed_method = subscription.payment_method
    if failed_method is None:
        raise NotFound("payment method")
    failed = outstanding_charges(session, failed_method.id)
    chosen: list[Charge] = []
    if chosen_method is not None and chosen_method.id != failed_method.id:
        chosen = outstanding_charges(session, chosen_method.id)
    return SettlementQuote(failed_method, chosen_method, failed, chosen,
                           subscription.account.currency)


@dataclass(frozen=True)
class InvoiceQuote:
    profile: BillingProfile
    invoices: list[Invoice]
    currency: str

    @property
    def total(self) -> Money:
        return total((i.amount_due for i in self.invoices), self.currency)


def open_invoices(session: Session, profile_id: int) -> list[Invoice]:
    return list(session.scalars(
        select(Invoice).where(Invoice.billing_profile_id == profile_id,
                              Invoice.status.in_((InvoiceStatus.DUE, InvoiceStatus.PAST_DUE)))
        .order_by(Invoice.due_on, Invoice.id)))


def invoice_quote(session: Session, profile: BillingProfile,
                  invoice_ids: list[int] | None = None) -> InvoiceQuote:
    """R20: the open invoices of the profile (or the given ones: B4's per-invoice Pay
    now). An id that is not an open invoice of this profile is NotFound."""
    invoices = open_invoices(session, profile.id)
    if invoice_ids is not None:
        by_id = {i.id: i for i in invoices}
        if not invoice_ids or any(i not in by_id for i in invoice_ids):
            raise NotFound("invoice")
        invoices = [by_id[i] for i in sorted(set(invoice_ids))]
    return InvoiceQuote(profile, invoices, profile.account.currency)
