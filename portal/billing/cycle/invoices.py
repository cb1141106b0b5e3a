"""Customer agreement invoices: generation with credits applied first (R16), the
automatic card charge when an invoice is generated (R18), and the due → past due step."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from portal.billing import events
from portal.billing.accounts import credit, notify, pauses
from portal.billing.context import Billing
from portal.billing.accounts.details import details_for
from portal.billing.invoicing.documents import buyer_of, frozen_parties, price_for
from portal.billing.invoicing import payment_requests
from portal.errors import InvalidAmount
from portal.billing.payments import mark_invoices_paid, method_summary, record_payment
from portal.billing.periods import billed_part, enabled_parts, prorated
from portal.billing.usage import usage_lines
from portal.billing.transaction import Progress, each_under_its_account_lock, write_transaction
from portal.money import Money
from portal.models import (INVOICE_SERIES, AutogiroOrder, BillingProfile, Credit, CreditApplication, Invoice, InvoiceLine,
                           InvoiceNumberSeries, InvoiceStatus, MethodKind, PaymentPurpose, Subscription,
                           SubscriptionStatus, DrawStatus)

BILLABLE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


def next_invoice_number(session: Session) -> str:
    """B6: the next number of the one gap-free series. Taken with an UPDATE that holds
    the series row's lock until the issuing transaction ends, so a rollback gives the
    number back (no gaps) and issuing on several machines takes turns (no doubles).
    Digits only: it doubles as the base of the OCR reference."""
    taken = session.execute(
        update(InvoiceNumberSeries).where(InvoiceNumberSeries.name == INVOICE_SERIES)
        .values(next_number=InvoiceNumberSeries.next_number + 1)
        .returning(InvoiceNumberSeries.next_number)).scalar_one()
    return str(taken - 1)


def _request_of(b: Billing, profile_id: int) -> dict:
    """B22: the profile's valid payment request, for the invoice email to carry (one
    transfer for the invoices it covers; the new invoice is not among them)."""
    request = payment_requests.current(b, profile_id)
    if request is None or not request.is_open:
        return {}
    return {"request_reference": request.reference, "request_minor": request.total.minor,
            "request_invoices": [invoice.number for invoice, _amount in request.items]}


def apply_credits(b: Billing, invoice: Invoice) -> int:
    """R16: use the profile's credits, soonest-expiring first, before anything is
    charged. Returns the minor units applied."""
    if invoice.subtotal_minor < 0:
        raise InvalidAmount("negative invoice")
    credits = b.session.scalars(
        select(Credit).where(Credit.billing_profile_id == invoice.billing_profile_id,
                             Credit.currency == invoice.currency,
                             Credit.remaining_minor > 0,
                             (Credit.expires_on.is_(None)) | (Credit.expires_on >= invoice.period_end))
        .order_by(Credit.expires_on.is_(None), Credit.expires_on, Credit.id))
    remaining_due = invoice.subtotal_minor - invoice.credits_applied_minor
    applied = 0
    for credit in credits:
        if remaining_due <= 0:
            break
        use = min(credit.remaining_minor, remaining_due)
        credit.remaining_minor -= use
        remaining_due -= use
        applied += use
        b.session.add(CreditApplication(credit_id=credit.id, invoice_id=invoice.id, amount_minor=use))
    invoice.credits_applied_minor += applied
    return applied


def _fee_for_days(sub: Subscription, period_start: date, period_end: date,
                  paused: list[tuple[date, date | None]]) -> int | None:
    """The month's fee of `sub` for its days in service (pro rata by day), None when it
    had none (paused the whole month)."""
    end = min(period_end, sub.cancel_at - timedelta(days=1)) if sub.cancel_at else period_end
    start, end = billed_part(sub.started_on, period_start, end)
    if not paused:
        return prorated(sub.monthly_fee_minor, start, end)
    parts = enabled_parts(start, end, paused)
    if not parts:
        return None
    return prorated(sub.monthly_fee_minor, parts[0][0], parts[-1][1],
                    days=sum((last - first).days + 1 for first, last in parts))


def generate_invoice(b: Billing, profile: BillingProfile, period_start: date,
                     period_end: date) -> Invoice | None:
    """Create the period's invoice once (unique per profile and period), apply
    credits, and charge a default card automatically (R18). None if it exists."""
    exists = b.session.scalars(select(Invoice.id).where(
        Invoice.billing_profile_id == profile.id, Invoice.period_start == period_start)).first()
    if exists is not None:
        return None
    subscriptions = b.session.scalars(select(Subscription).where(
        Subscription.billing_profile_id == profile.id,
        or_(Subscription.status.in_(BILLABLE),
            Subscription.status.in_((SubscriptionStatus.CANCELLED, SubscriptionStatus.PAUSED))),
        or_(Subscription.cancel_at.is_(None), Subscription.cancel_at > period_start),  # issue 33
        Subscription.started_on <= period_end).order_by(Subscription.id)).all()
    if not subscriptions:
        return None
    today = b.clock.today()
    account = profile.account
    details = details_for(b.session, account.id, profile.id)
    buyer = buyer_of(account.name, profile.name, details, account.notification_email)
    # A subscription that started mid-month pays for the days from its start.
    # Issue 33: one cancelled pays up to the day before it ends; B21: none of the days it was paused.
    paused = pauses.profile_pauses(b, profile.id, period_start, subscriptions)
    fees = [(s, fee) for s in subscriptions
            if (fee := _fee_for_days(s, period_start, period_end, paused.get(s.id, []))) is not None]
    amounts = [fee for _, fee in fees]
    # Prices include Swedish VAT, which a reverse-charge buyer does not pay (docs/vat.md).
    amounts = [price_for(Money(a, account.currency), buyer.reverse_charge).minor for a in amounts]
    # Issue 32: what the provider posted as used in the period, a line each.
    used = [(line, price_for(Money(line.amount_minor, account.currency), buyer.reverse_charge).minor)
            for line in usage_lines(b.session, [s.id for s in subscriptions], period_start, period_end)]
    if not fees and not used:  # B21: every one paused all month, nothing used
        return None
    invoice = Invoice(
        billing_profile_id=profile.id, number=next_invoice_number(b.session),
        parties=frozen_parties(b.policy.seller, buyer),
        currency=account.currency, period_start=period_start, period_end=period_end,
        issued_on=today, due_on=b.policy.due_date(today),
        status=InvoiceStatus.DUE, credits_applied_minor=0,
        subtotal_minor=sum(amounts) + sum(amount for _, amount in used))
    b.session.add(invoice)
    b.session.flush()
    for (sub, _), amount in zip(fees, amounts):
        b.session.add(InvoiceLine(invoice_id=invoice.id, subscription_id=sub.id,
                                  description=sub.name, amount_minor=amount))
    for line, amount in used:
        b.session.add(InvoiceLine(invoice_id=invoice.id, subscription_id=line.subscription_id,
                                  description=line.description, amount_minor=amount))
    apply_credits(b, invoice)
    credit.apply_to_invoice(b, invoice, account.id)  # B15: the profile's credit balance, too
    payload = {"invoice_id": invoice.id, "number": invoice.number,
               "amount_minor": invoice.left.minor, "currency": invoice.currency,  # after credit (B15)
               "due_on": invoice.due_on.isoformat(), "profile_id": profile.id}
    events.emit(b.session, b.clock, "invoice.issued", {**payload, "account_id": account.id,
                                                        "period_start": period_start, "period_end": period_end})
    if invoice.is_open and invoice.amount_due.minor == 0:  # credits covered it all
        mark_invoices_paid(b, [invoice], None)
    mail = {**payload, **_request_of(b, profile.id)} if invoice.is_open else payload
    notify.queue_email(b.session, b.clock, account, "invoice_ready", mail)
    for address in details.recipients if details else []:  # B7: e.g. the accounts payable inbox
        if address != account.notification_email:
            notify.queue_email(b.session, b.clock, account, "invoice_ready", mail, to_address=address,
                               locale=details.invoice_language)
    notify.notify_users(b.session, b.clock, account, "invoice_ready", payload)
    method = profile.default_payment_method
    if invoice.is_open and method is not None and method.kind == MethodKind.CARD:
        _auto_charge(b, profile, invoice, payload)
    return invoice


def _auto_charge(b: Billing, profile: BillingProfile, invoice: Invoice, payload: dict) -> None:
    """R18: charge the default card. The key is derived from the invoice's period so a
    rerun after a crash asks the gateway again under the same key: never twice."""
    method = profile.default_payment_method
    key = f"auto-invoice-{profile.id}-{invoice.period_start:%Y%m}"
    result = b.gateway.charge(method.gateway_token, invoice.left, key, off_session=True)  # B13
    account = profile.account
    if result.approved:
        payment = record_payment(b, account, None, method, invoice.left,
                                  result.reference, key, PaymentPurpose.AUTO_CHARGE, profile.id)
        mark_invoices_paid(b, [invoice], payment)
        notify.queue_email(b.session, b.clock, account, "auto_charge_succeeded",
                           {**payload, "method": method_summary(method), "payment_id": payment.id})
        notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id,
                     profile_id=profile.id, purpose="auto_charge", payment_id=payment.id,
                     invoices=[invoice.number], method=method_summary(method),
                     amount_minor=payment.amount_minor, currency=payment.currency)
    else:
        invoice.auto_charge_failure_code = str(result.decline_code)
        notify.queue_email(b.session, b.clock, account, "auto_charge_failed",
                           {**payload, "reason": str(result.decline_code),
                            "method": method_summary(method)})
        notify.notify_users(b.session, b.clock, account, "auto_charge_failed",
                            {**payload, "reason": str(result.decline_code)})
        notify.audit(b.session, b.clock, "payment.declined", account_id=account.id,
                     profile_id=profile.id, purpose="auto_charge", reason=str(result.decline_code),
                     invoices=[invoice.number], method=method_summary(method),
                     amount_minor=invoice.amount_due.minor, currency=invoice.currency)


def generate_invoices(b: Billing, period_start: date, period_end: date, progress: Progress | None = None) -> int:
    """Each profile in its own transaction, so one failure does not undo the rest."""
    profile_ids = b.session.scalars(select(BillingProfile.id).order_by(BillingProfile.id)).all()
    return each_under_its_account_lock(
        b.session, BillingProfile, profile_ids,
        lambda profile: generate_invoice(b, profile, period_start, period_end), progress)


def mark_past_due_invoices(b: Billing, today: date) -> int:
    """Invoices still open after their due date are past due (M4); due through the
    due day itself (M7, periods.is_past_due). Not one Autogiro is drawing (B23): its
    order's answer decides (portal/billing/bank/autogiro.py)."""
    drawing = select(AutogiroOrder.id).where(AutogiroOrder.invoice_id == Invoice.id,
                                             AutogiroOrder.status.in_((DrawStatus.WAITING, DrawStatus.SENT)))
    with write_transaction(b.session):
        overdue = b.session.scalars(select(Invoice).where(
            Invoice.status == InvoiceStatus.DUE, Invoice.due_on < today, ~drawing.exists())).all()
        for invoice in overdue:
            invoice.status = InvoiceStatus.PAST_DUE
            account = invoice.billing_profile.account
            payload = {"invoice_id": invoice.id, "number": invoice.number,  # what is left of it (B12)
                       "amount_minor": invoice.left.minor, "currency": invoice.currency,
                       "due_on": invoice.due_on.isoformat(), "profile_id": invoice.billing_profile_id}
            notify.queue_email(b.session, b.clock, account, "invoice_past_due", payload)
            notify.notify_users(b.session, b.clock, account, "invoice_past_due", payload)
        return len(overdue)
