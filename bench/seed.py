"""Accounts of a given size for the benchmark, inserted in bulk (Core executemany,
not the ORM one object at a time): 10,000 subscriptions take seconds, not minutes.

For each size N:
- a pay-as-you-go account with N subscriptions: most of them past due on one failed
  card (R04's worst case: the settle page covers them all), one past due on a second
  card that has outstanding charges of its own (R08), one in ten active on a third;
  two monthly charges each (outstanding for past due, paid for active);
- ten payments per subscription on the pay-as-you-go account (100,000 at 10,000), the
  newest of them paying the active subscriptions' charges (B9: the Payments page);
- a customer-agreement account whose one billing profile has N monthly invoices:
  the newest due, the one before past due, all older ones paid by card.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from portal.billing.accounts.balances import recount_outstanding
from portal.billing.periods import previous_month
from portal.models import (AccountKind, BillingAccount, BillingProfile, Charge, ChargeStatus, Invoice,
                           InvoiceLine, InvoiceStatus, MethodKind, Notice, Payment, PaymentMethod,
                           PaymentPurpose, Role, RoleAssignment, Subscription, SubscriptionStatus, User)

PASSWORD = "bench-password"
CHEAP_HASH = "pbkdf2:sha256:1000"  # sign-in is not what is measured


@dataclass(frozen=True)
class Seeded:
    size: int
    payg_email: str
    agreement_email: str
    payg_account: int
    agreement_account: int
    settle_subscription: int   # a past-due subscription on the failed card
    second_card: int           # has outstanding charges of its own (R08)
    profile: int
    invoice: int               # the newest invoice (for the detail page)


def months_back(today: date, count: int) -> list[tuple[date, date]]:
    """The `count` calendar months before `today`'s, newest first."""
    periods, day = [], today
    for _ in range(count):
        start, end = previous_month(day)
        periods.append((start, end))
        day = start
    return periods


def _ids(session: Session, model, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    return list(session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows))


def _card(account_id: int, last4: str, brand: str, now: datetime) -> dict:
    return dict(account_id=account_id, kind=MethodKind.CARD, brand=brand, last4=last4, exp_month=12,
                exp_year=2031, holder_name="Bench Holder", gateway_token=f"bench_tok_{last4}", created_at=now)


def seed_size(session: Session, size: int, today: date, policy) -> Seeded:
    now = datetime.combine(today, datetime.min.time())
    password_hash = generate_password_hash(PASSWORD, method=CHEAP_HASH)
    payg_email, agreement_email = f"payg-{size}@bench.example", f"agreement-{size}@bench.example"
    payg_user, agreement_user = _ids(session, User, [
        dict(email=payg_email, name=f"Bench admin {size}", password_hash=password_hash, locale="sv"),
        dict(email=agreement_email, name=f"Bench owner {size}", password_hash=password_hash, locale="sv")])

    # --- pay-as-you-go -------------------------------------------------------------
    [payg] = _ids(session, BillingAccount, [dict(
        kind=AccountKind.PAY_AS_YOU_GO, name=f"Bench PAYG {size}", currency="SEK",
        notification_email=payg_email, created_on=today - timedelta(days=400))])
    session.execute(insert(RoleAssignment), [dict(user_id=payg_user, account_id=payg, role=Role.ACCOUNT_ADMIN)])
    failed, second, spare = _ids(session, PaymentMethod, [
        _card(payg, "9995", "visa", now), _card(payg, "4444", "mastercard", now), _card(payg, "4242", "visa", now)])
    past_due_since = today - timedelta(days=12)
    subs = []
    for i in range(size):
        active = size > 1 and i % 10 == 9
        method = spare if active else (second if size > 1 and i == 1 else failed)
        subs.append(dict(account_id=payg, name=f"Prenumeration {i + 1:05d}", monthly_fee_minor=100_00 + i % 900,
                         status=SubscriptionStatus.ACTIVE if active else SubscriptionStatus.PAST_DUE,
                         payment_method_id=method, started_on=today - timedelta(days=300),
                         past_due_since=None if active else past_due_since))
    sub_ids = _ids(session, Subscription, subs)
    charges = []
    for sub_id, sub in zip(sub_ids, subs):
        paid = sub["status"] == SubscriptionStatus.ACTIVE
        for start, end in months_back(today, 2):
            charges.append(dict(subscription_id=sub_id, amount_minor=sub["monthly_fee_minor"], currency="SEK",
                                period_start=start, period_end=end,
                                status=ChargeStatus.PAID if paid else ChargeStatus.OUTSTANDING,
                                failed_on=None if paid else past_due_since,
                                failure_code=None if paid else "insufficient_funds"))
    # B9: ten payments per subscription, an hour apart, newest first; the paid charges
    # belong to the newest ones (a settlement's or an automatic charge's subscriptions).
    payments = _ids(session, Payment, [dict(
        idempotency_key=f"bench-payg-{size}-{n}", account_id=payg, payment_method_id=spare,
        purpose=PaymentPurpose.AUTO_CHARGE, amount_minor=100_00 + n % 900, currency="SEK",
        gateway_reference="bench", created_at=now - timedelta(hours=n)) for n in range(10 * size)])
    paid_charges = [c for c in charges if c["status"] == ChargeStatus.PAID]
    for n, c in enumerate(paid_charges):
        c["payment_id"] = payments[n % len(payments)]
    session.execute(insert(Charge), [c for c in charges if "payment_id" not in c])
    if paid_charges:
        session.execute(insert(Charge), paid_charges)
    recount_outstanding(session, Subscription.account_id == payg)
    session.execute(insert(Notice), [dict(
        user_id=payg_user, account_id=payg, kind="payment_failed", created_at=now,
        payload={"subscription_id": sub_ids[0], "subscription": subs[0]["name"], "reason": "insufficient_funds",
                 "disable_on": policy.disable_date(past_due_since).isoformat()})])

    # --- customer agreement --------------------------------------------------------
    [agreement] = _ids(session, BillingAccount, [dict(
        kind=AccountKind.CUSTOMER_AGREEMENT, name=f"Bench agreement {size}", currency="SEK",
        notification_email=agreement_email, created_on=today - timedelta(days=500))])
    wire, card = _ids(session, PaymentMethod, [
        dict(account_id=agreement, kind=MethodKind.CHECK_WIRE, created_at=now),
        _card(agreement, "4242", "visa", now)])
    [profile] = _ids(session, BillingProfile, [dict(
        account_id=agreement, name=f"Bench profile {size}", default_payment_method_id=wire,
        check_wire_approved=True)])
    session.execute(insert(RoleAssignment), [dict(user_id=agreement_user, account_id=agreement,
                                                  billing_profile_id=profile, role=Role.OWNER)])
    lines = (("Lagersystem", 4_500_00), ("Ruttplanering", 2_750_00), ("Kundportal", 1_390_00))
    subtotal = sum(amount for _, amount in lines)
    invoices, statuses = [], []
    for k, (start, end) in enumerate(months_back(today, size)):
        issued = end + timedelta(days=1)
        status = InvoiceStatus.DUE if k == 0 else InvoiceStatus.PAST_DUE if k == 1 else InvoiceStatus.PAID
        statuses.append(status)
        invoices.append(dict(billing_profile_id=profile, number=f"9{size:05d}{k:06d}", currency="SEK",
                             period_start=start, period_end=end, issued_on=issued,
                             due_on=issued + timedelta(days=policy.invoice_due_days), status=status,
                             subtotal_minor=subtotal, credits_applied_minor=0,
                             paid_on=issued + timedelta(days=7) if status == InvoiceStatus.PAID else None))
    invoice_ids = _ids(session, Invoice, invoices)
    session.execute(insert(InvoiceLine), [
        dict(invoice_id=invoice_id, description=name, amount_minor=amount)
        for invoice_id in invoice_ids for name, amount in lines])
    paid = [(invoice_id, inv) for invoice_id, inv, status in zip(invoice_ids, invoices, statuses)
            if status == InvoiceStatus.PAID]
    payment_ids = _ids(session, Payment, [dict(
        idempotency_key=f"bench-{inv['number']}", account_id=agreement, billing_profile_id=profile, user_id=agreement_user,
        payment_method_id=card, purpose=PaymentPurpose.INVOICE, amount_minor=subtotal, currency="SEK",
        gateway_reference="bench", created_at=now) for _invoice_id, inv in paid])
    if paid:
        session.connection().execute(
            update(Invoice.__table__).where(Invoice.__table__.c.id == bindparam("invoice_id"))
            .values(payment_id=bindparam("payment_id")),
            [dict(invoice_id=invoice_id, payment_id=payment_id)
             for (invoice_id, _inv), payment_id in zip(paid, payment_ids)])
    settle_sub = next(sub_id for sub_id, sub in zip(sub_ids, subs) if sub["payment_method_id"] == failed)
    return Seeded(size, payg_email, agreement_email, payg, agreement, settle_sub, second, profile, invoice_ids[0])

