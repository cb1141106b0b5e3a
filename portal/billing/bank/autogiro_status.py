"""What the customer sees of Autogiro (issue 34, Deliver 4; B23): the mandates and their
next draws on Payment methods, an invoice's draw date on its page, the mandate's status
and the next draw on Overview, each open invoice's draw date on the Invoices list, and
the payment means an invoice's PDF and XML state (EN 16931 BG-19: direct debit,
UNCL4461 code 49, the mandate reference: read by invoicing.documents.direct_debit, which
stands below this package).

Issue 28: each read is one statement at most, run only where a mandate can be —
Overview of a customer agreement (of a pay-as-you-go account: one, when a subscription
shown pays by Autogiro), the Invoices list
and a document only when a billing profile pays by an Autogiro method. Decisions:
docs/autogiro.md."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import bindparam, func, select

from portal.billing.accounts.balances import IS_OUTSTANDING
from portal.billing.bank.autogiro import banking_day_from
from portal.billing.context import Billing
from portal.billing.periods import billing_day
from portal.billing.transaction import reader
from portal.models import (AccountKind, AutogiroMandate, AutogiroOrder, BillingAccount, BillingProfile, Charge,
                           DrawStatus, Invoice, InvoiceStatus, MandateStatus, MethodKind, Subscription)

ON_ITS_WAY = (DrawStatus.WAITING, DrawStatus.SENT)


# --- Payment methods and the invoice page --------------------------------------------

_ORDERED = select(func.min(AutogiroOrder.draw_on)).where(  # the invoice page asks on every view
    AutogiroOrder.invoice_id == bindparam("invoice_id"), AutogiroOrder.status.in_((DrawStatus.WAITING, DrawStatus.SENT)))


def draw_date(b: Billing, invoice: Invoice) -> date | None:
    """When Autogiro draws this invoice (B23): its order's day, or — not ordered yet — the
    banking day from its due date when its profile pays by an active mandate; else None."""
    if not invoice.is_open:
        return None
    ordered = reader(b.session).scalar(_ORDERED, {"invoice_id": invoice.id})
    if ordered is not None:
        return ordered
    default = invoice.billing_profile.default_payment_method
    if default is None or default.kind != MethodKind.AUTOGIRO:  # no mandate pays it: no second read
        return None
    active = b.session.scalar(select(AutogiroMandate.id).join(
        BillingProfile, BillingProfile.default_payment_method_id == AutogiroMandate.payment_method_id).where(
        BillingProfile.id == invoice.billing_profile_id, AutogiroMandate.status == MandateStatus.ACTIVE))
    if active is None or invoice.status != InvoiceStatus.DUE or invoice.due_on < b.clock.today():
        return None
    return banking_day_from(invoice.due_on)


def next_draws(b: Billing, account_id: int, pay_as_you_go: bool = False) -> dict[int, date]:
    """Each active mandate's next draw (by its payment method's id), for Payment methods:
    the earliest order on its way, or the banking day from the earliest due date of what
    it pays not ordered yet — a profile's invoices, or (`pay_as_you_go`) its
    subscriptions' charges."""
    draws: dict[int, date] = {}
    for method_id, day in b.session.execute(
            select(AutogiroMandate.payment_method_id, func.min(AutogiroOrder.draw_on)).join(AutogiroOrder)
            .where(AutogiroMandate.account_id == account_id,
                   AutogiroOrder.status.in_((DrawStatus.WAITING, DrawStatus.SENT)))
            .group_by(AutogiroMandate.payment_method_id)):
        draws[method_id] = day
    for method_id, due in b.session.execute(
            select(AutogiroMandate.payment_method_id, func.min(Invoice.due_on))
            .join(BillingProfile, BillingProfile.default_payment_method_id == AutogiroMandate.payment_method_id)
            .join(Invoice, Invoice.billing_profile_id == BillingProfile.id)
            .where(AutogiroMandate.account_id == account_id, AutogiroMandate.status == MandateStatus.ACTIVE,
                   Invoice.status == InvoiceStatus.DUE, Invoice.due_on >= b.clock.today(),
                   ~select(AutogiroOrder.id).where(AutogiroOrder.invoice_id == Invoice.id).exists())
            .group_by(AutogiroMandate.payment_method_id)):
        if due is not None:
            day = banking_day_from(due)
            draws[method_id] = min(draws.get(method_id, day), day)
    if pay_as_you_go:
        for method_id, due in charges_not_ordered(b, AutogiroMandate.account_id == account_id):
            day = banking_day_from(due)
            draws[method_id] = min(draws.get(method_id, day), day)
    return draws


def _due_of(b: Billing, period_end: date) -> date:
    """A charge's due day from its period's end (autogiro_charges.due_on, R03)."""
    return b.policy.due_date(billing_day(period_end))


def charges_not_ordered(b: Billing, *where) -> list[tuple[int, date]]:
    """(the mandate's payment method id, the earliest due date) of the outstanding
    charges not ordered yet that active mandates of `where` will draw: one statement."""
    rows = b.session.execute(select(AutogiroMandate.payment_method_id, _first_unordered_end(b)).where(
        *where, AutogiroMandate.status == MandateStatus.ACTIVE))
    return [(method_id, _due_of(b, end)) for method_id, end in rows if end is not None]


def _first_unordered_end(b: Billing):
    """The earliest period end of the outstanding charges not ordered yet, not due before
    today, of the subscriptions paying by AutogiroMandate's method (a scalar subquery)."""
    return (select(func.min(Charge.period_end))
            .join(Subscription, Charge.subscription_id == Subscription.id)
            .where(Subscription.payment_method_id == AutogiroMandate.payment_method_id, IS_OUTSTANDING,
                   Charge.failed_on.is_(None),
                   Charge.period_end >= b.clock.today() - timedelta(days=b.policy.invoice_due_days + 1),
                   ~select(AutogiroOrder.id).where(AutogiroOrder.charge_id == Charge.id).exists())
            .scalar_subquery())


def for_methods_page(b: Billing, account: BillingAccount, kinds: Iterable[str] = ()
                     ) -> tuple[dict[int, AutogiroMandate], dict[int, date]]:
    """What Payment methods shows of Autogiro: the mandates by method id, and each active
    one's next draw — read only where there can be any (a customer agreement's profiles
    give mandates; a pay-as-you-go account's only when `kinds`, those of the methods the
    page lists, has Autogiro; issue 28: no page reads what it cannot show)."""
    payg = account.kind == AccountKind.PAY_AS_YOU_GO
    if payg and MethodKind.AUTOGIRO not in set(kinds):
        return {}, {}
    mandates = mandates_of(b, account.id)
    return mandates, (next_draws(b, account.id, payg) if mandates else {})


def mandates_of(b: Billing, account_id: int) -> dict[int, AutogiroMandate]:
    """The account's mandates by their payment method's id (what Payment methods shows)."""
    return {m.payment_method_id: m for m in b.session.scalars(
        select(AutogiroMandate).where(AutogiroMandate.account_id == account_id))}


# --- Overview, the Invoices list and the documents ------------------------------------

@dataclass(frozen=True)
class MandateState:
    """A mandate as Overview says it: its status (and why it ended), the bank account,
    and — active — the day Autogiro next draws an invoice of it."""
    status: str
    reason: str | None
    bank_name: str
    last4: str
    next_draw: date | None = None


@dataclass(frozen=True)
class OverviewAutogiro:
    by_profile: dict[int, MandateState]   # the mandate each billing profile pays by (pending or active)
    ended: MandateState | None = None     # the newest mandate that ended, while no other is given


NONE = OverviewAutogiro({})


def _pays_by_autogiro(profile: BillingProfile) -> bool:
    method = profile.default_payment_method   # loaded with the profile (joined)
    return method is not None and method.kind == MethodKind.AUTOGIRO


def _unordered_draw(invoice: Invoice, today: date) -> date | None:
    """When an open invoice not ordered yet is drawn: the banking day from its due date."""
    if invoice.status != InvoiceStatus.DUE or invoice.due_on < today:
        return None
    return banking_day_from(invoice.due_on)


def for_overview(b: Billing, account: BillingAccount, open_invoices: dict[int, list[Invoice]]) -> OverviewAutogiro:
    """Overview's Autogiro (B23): per billing profile shown (`open_invoices`: its open
    invoices, which Overview has read already) the mandate it pays by and, active, the
    next draw — the earliest order on its way, or the banking day from the earliest due
    date not ordered yet; and the account's newest mandate that ended (rejected by the
    bank, cancelled) while no other is pending or active, so the customer sees why
    invoices are no longer drawn. One statement, for a customer agreement only."""
    if account.kind != AccountKind.CUSTOMER_AGREEMENT:
        return NONE
    next_order = (select(func.min(AutogiroOrder.draw_on))
                  .where(AutogiroOrder.mandate_id == AutogiroMandate.id, AutogiroOrder.status.in_(ON_ITS_WAY))
                  .scalar_subquery())
    rows = b.session.execute(select(AutogiroMandate, next_order).where(AutogiroMandate.account_id == account.id)
                             .order_by(AutogiroMandate.id)).all()
    if not rows:
        return NONE
    today = b.clock.today()
    by_method = {mandate.payment_method_id: (mandate, ordered) for mandate, ordered in rows}
    by_profile: dict[int, MandateState] = {}
    for profile in account.profiles:
        if profile.id not in open_invoices or not _pays_by_autogiro(profile):
            continue
        found = by_method.get(profile.default_payment_method_id)
        if found is None:
            continue
        mandate, ordered = found
        draw = None
        if mandate.status == MandateStatus.ACTIVE:
            days = [d for d in (_unordered_draw(i, today) for i in open_invoices[profile.id]) if d is not None]
            draw = min(days + ([ordered] if ordered is not None else []), default=None)
        by_profile[profile.id] = _state(mandate, draw)
    given = any(m.status in (MandateStatus.PENDING, MandateStatus.ACTIVE) for m, _ in rows)
    newest = rows[-1][0]
    ended = None if given or newest.status not in (MandateStatus.REJECTED, MandateStatus.CANCELLED) else _state(newest)
    return OverviewAutogiro(by_profile, ended)


def for_subscriptions(b: Billing, subscriptions: Iterable[Subscription]) -> dict[int, MandateState]:
    """Overview of a pay-as-you-go account (issue 34 Deliver 1): the mandate each
    subscription shown pays by, by its payment method's id — its status and, active, the
    next draw (the earliest order on its way, or the banking day from the earliest due
    date of a charge not ordered yet). One statement when a subscription shown pays by
    Autogiro (its method is loaded with it), none otherwise."""
    method_ids = {s.payment_method_id for s in subscriptions
                  if s.payment_method is not None and s.payment_method.kind == MethodKind.AUTOGIRO}
    if not method_ids:
        return {}
    next_order = (select(func.min(AutogiroOrder.draw_on))
                  .where(AutogiroOrder.mandate_id == AutogiroMandate.id, AutogiroOrder.status.in_(ON_ITS_WAY))
                  .scalar_subquery())
    states = {}
    for mandate, ordered, unordered_end in b.session.execute(select(
            AutogiroMandate, next_order, _first_unordered_end(b)).where(
            AutogiroMandate.payment_method_id.in_(method_ids))):
        days = [d for d in (ordered, banking_day_from(_due_of(b, unordered_end)) if unordered_end else None) if d]
        draw = min(days, default=None) if mandate.status == MandateStatus.ACTIVE else None
        states[mandate.payment_method_id] = _state(mandate, draw)
    return states


def _state(mandate: AutogiroMandate, draw: date | None = None) -> MandateState:
    return MandateState(str(mandate.status), mandate.reason, mandate.bank_name, mandate.account_number[-4:], draw)


def draw_dates(b: Billing, profiles: Iterable[BillingProfile], invoices: Iterable[Invoice]) -> dict[int, date]:
    """The Invoices list's "Drawn by Autogiro on …" (B23): for each open invoice of the
    page, the day Autogiro draws it — its order on its way, or (its profile paying by an
    active mandate) the banking day from its due date. One statement, and none unless
    a profile of the list pays by Autogiro."""
    autogiro_profiles = {p.id: p.default_payment_method_id for p in profiles if _pays_by_autogiro(p)}
    shown = [i for i in invoices if i.is_open and i.billing_profile_id in autogiro_profiles]
    if not shown:
        return {}
    ordered = (select(func.min(AutogiroOrder.draw_on))
               .where(AutogiroOrder.invoice_id == Invoice.id, AutogiroOrder.status.in_(ON_ITS_WAY))
               .scalar_subquery())
    active = (select(AutogiroMandate.id)
              .join(BillingProfile, BillingProfile.default_payment_method_id == AutogiroMandate.payment_method_id)
              .where(BillingProfile.id == Invoice.billing_profile_id, AutogiroMandate.status == MandateStatus.ACTIVE)
              .exists())
    today = b.clock.today()
    dates: dict[int, date] = {}
    by_id = {i.id: i for i in shown}
    for invoice_id, order_day, is_active in b.session.execute(
            select(Invoice.id, ordered, active).where(Invoice.id.in_(list(by_id)))):
        day = order_day if order_day is not None else (_unordered_draw(by_id[invoice_id], today) if is_active else None)
        if day is not None:
            dates[invoice_id] = day
    return dates
