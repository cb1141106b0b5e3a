"""The demo data of SPEC.md: every state a person trying the portal should see.

Dates are relative to the day it is seeded, so the demo never goes stale.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from portal.billing.balances import recount_outstanding
from portal.billing.context import Billing
from portal.billing.gateway import CardDetails
from portal.billing.periods import previous_month
from portal.billing.transaction import write_transaction
from portal.models import (AccountKind, BillingAccount, BillingProfile, Charge, ChargeStatus,
                           Credit, CreditApplication, Invoice, InvoiceLine, InvoiceStatus,
                           MethodKind, Notice, Payment, PaymentMethod, PaymentPurpose, Role,
                           RoleAssignment, Subscription, SubscriptionStatus, User)

DEMO_PASSWORD = "demo-password"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    locale: str
    role: Role
    what: str


PAYG_USERS = (
    DemoUser("anna@example.com", "Anna Lindqvist", "sv", Role.ACCOUNT_ADMIN,
             "account administrator: settles the past-due balance"),
    DemoUser("erik@example.com", "Erik Berg", "sv", Role.ACCOUNT_USER,
             "sees the account, may not settle (R02)"),
)
AGREEMENT_USERS = (
    DemoUser("olivia@example.com", "Olivia Holm", "sv", Role.OWNER, "billing profile owner"),
    DemoUser("david@example.com", "David Nilsson", "en", Role.CONTRIBUTOR, "contributor: may pay"),
    DemoUser("ines@example.com", "Ines Sandberg", "sv", Role.INVOICE_MANAGER, "invoice manager: may pay"),
    DemoUser("rasmus@example.com", "Rasmus Ek", "sv", Role.READER, "reader: sees, may not pay (R19)"),
)
DEMO_USERS = PAYG_USERS + AGREEMENT_USERS


def _month_back(day: date, months: int) -> tuple[date, date]:
    start, end = day, day
    for _ in range(months):
        start, end = previous_month(start)
    return start, end


def seed_demo(b: Billing, password_method: str = "scrypt") -> bool:
    """Seed the demo once; returns False (and changes nothing) if users exist."""
    session = b.session
    with write_transaction(session):
        if session.scalars(select(User.id)).first() is not None:
            return False
        today = b.clock.today()
        users = {u.email: User(email=u.email, name=u.name, locale=u.locale,
                               password_hash=generate_password_hash(DEMO_PASSWORD, method=password_method))
                 for u in DEMO_USERS}
        session.add_all(users.values())
        _seed_pay_as_you_go(b, session, today, users)
        _seed_agreement(b, session, today, users)
    return True


def _card(b: Billing, account: BillingAccount, number: str, holder: str, exp=(12, 2030)) -> PaymentMethod:
    token = b.gateway.tokenize(CardDetails(number, exp[0], exp[1], "123", holder))
    method = PaymentMethod(account_id=account.id, kind=MethodKind.CARD, brand=token.brand,
                           last4=token.last4, exp_month=token.exp_month, exp_year=token.exp_year,
                           holder_name=holder, gateway_token=token.token, created_at=b.clock.now())
    b.session.add(method)
    b.session.flush()
    return method


def _seed_pay_as_you_go(b: Billing, session: Session, today: date, users: dict[str, User]) -> None:
    account = BillingAccount(kind=AccountKind.PAY_AS_YOU_GO, name="Nordlund Konsult AB",
                             currency="SEK", notification_email="anna@example.com",
                             created_on=today - timedelta(days=400))
    session.add(account)
    session.flush()
    for u in PAYG_USERS:
        session.add(RoleAssignment(user=users[u.email], account_id=account.id, role=u.role))
    # The failed card: the bank now says insufficient funds, so retrying it declines (R10).
    failed = _card(b, account, "4000000000009995", "Anna Lindqvist", (8, 2029))
    # A working card with outstanding charges of its own (R08).
    second = _card(b, account, "5555555555554444", "Anna Lindqvist", (3, 2031))
    # A working card with nothing outstanding.
    spare = _card(b, account, "4242424242424242", "Anna Lindqvist", (11, 2030))
    # A card the gateway declines outright (R10).
    declining = _card(b, account, "4000000000000002", "Nordlund Konsult AB", (5, 2030))

    past_due_since = today - timedelta(days=12)
    start = today - timedelta(days=300)

    def sub(name, method, status, fee, **dates):
        s = Subscription(account_id=account.id, name=name, status=status, payment_method_id=method.id,
                         monthly_fee_minor=fee, started_on=start, **dates)
        session.add(s)
        session.flush()
        return s

    production = sub("Webbshop – produktion", failed, SubscriptionStatus.PAST_DUE, 1_234_50,
                     past_due_since=past_due_since)
    testing = sub("Webbshop – test", failed, SubscriptionStatus.PAST_DUE, 389_00,
                  past_due_since=past_due_since)
    backup = sub("Säkerhetskopiering", second, SubscriptionStatus.PAST_DUE, 249_00,
                 past_due_since=today - timedelta(days=5))
    sub("Intranät", spare, SubscriptionStatus.ACTIVE, 590_00)
    disabled_since = today - timedelta(days=10)
    archive = sub("Arkiv", declining, SubscriptionStatus.DISABLED, 120_00,
                  past_due_since=disabled_since - timedelta(days=b.policy.grace_period_days),
                  disabled_on=disabled_since)

    period_start, period_end = previous_month(today)
    older_start, older_end = _month_back(today, 2)
    for s, periods, code in (
        (production, [(older_start, older_end), (period_start, period_end)], "insufficient_funds"),
        (testing, [(period_start, period_end)], "insufficient_funds"),
        (backup, [(period_start, period_end)], "processing_error"),
        (archive, [_month_back(today, 3), (older_start, older_end)], "generic_decline"),
    ):
        for p_start, p_end in periods:
            session.add(Charge(subscription_id=s.id, amount_minor=s.monthly_fee_minor, currency="SEK",
                               period_start=p_start, period_end=p_end, status=ChargeStatus.OUTSTANDING,
                               failed_on=s.past_due_since, failure_code=code))
    recount_outstanding(session, Subscription.account_id == account.id)
    admin = users["anna@example.com"]
    session.add(Notice(user_id=admin.id, account_id=account.id, kind="payment_failed",
                       payload={"subscription_id": production.id, "subscription": production.name,
                                "reason": "insufficient_funds",
                                "disable_on": b.policy.disable_date(past_due_since).isoformat()},
                       created_at=b.clock.now()))


def _seed_agreement(b: Billing, session: Session, today: date, users: dict[str, User]) -> None:
    account = BillingAccount(kind=AccountKind.CUSTOMER_AGREEMENT, name="Fjällström Logistik AB",
                             currency="SEK", notification_email="olivia@example.com",
                             created_on=today - timedelta(days=500))
    session.add(account)
    session.flush()
    wire = PaymentMethod(account_id=account.id, kind=MethodKind.CHECK_WIRE, created_at=b.clock.now())
    session.add(wire)
    session.flush()
    profile = BillingProfile(account_id=account.id, name="Fjällström Logistik – Sverige",
                             default_payment_method_id=wire.id, check_wire_approved=True)
    session.add(profile)
    session.flush()
    card = _card(b, account, "4242424242424242", "Olivia Holm", (9, 2030))
    for u in AGREEMENT_USERS:
        session.add(RoleAssignment(user=users[u.email], account_id=account.id,
                                   billing_profile_id=profile.id, role=u.role))
    subs = []
    for name, fee in (("Lagersystem", 4_500_00), ("Ruttplanering", 2_750_00), ("Kundportal", 1_390_00)):
        s = Subscription(account_id=account.id, billing_profile_id=profile.id, name=name,
                         status=SubscriptionStatus.ACTIVE, payment_method_id=wire.id,
                         monthly_fee_minor=fee, started_on=today - timedelta(days=450))
        session.add(s)
        subs.append(s)
    session.flush()
    credit = Credit(billing_profile_id=profile.id, description="Startkredit", currency="SEK",
                    original_minor=2_000_00, remaining_minor=500_00,
                    expires_on=today + timedelta(days=180))
    session.add(credit)
    session.flush()
    subtotal = sum(s.monthly_fee_minor for s in subs)
    plan = (  # months back, status, credits applied
        (3, InvoiceStatus.PAID, 0),
        (2, InvoiceStatus.PAST_DUE, 0),
        (1, InvoiceStatus.DUE, 1_500_00),
    )
    for months, status, credits in plan:
        p_start, p_end = _month_back(today, months)
        issued = p_end + timedelta(days=1)
        invoice = Invoice(billing_profile_id=profile.id,
                          number=f"{p_start:%Y%m}{profile.id:06d}", currency="SEK",
                          period_start=p_start, period_end=p_end, issued_on=issued,
                          due_on=issued + timedelta(days=b.policy.invoice_due_days),
                          status=status, subtotal_minor=subtotal, credits_applied_minor=credits)
        session.add(invoice)
        session.flush()
        for s in subs:
            session.add(InvoiceLine(invoice_id=invoice.id, subscription_id=s.id,
                                    description=s.name, amount_minor=s.monthly_fee_minor))
        if credits:
            session.add(CreditApplication(credit_id=credit.id, invoice_id=invoice.id, amount_minor=credits))
        if status == InvoiceStatus.PAID:
            paid_on = issued + timedelta(days=7)
            payment = Payment(idempotency_key=f"demo-paid-{invoice.number}", account_id=account.id,
                              user_id=users["olivia@example.com"].id, payment_method_id=card.id,
                              purpose=PaymentPurpose.INVOICE, amount_minor=invoice.amount_due.minor,
                              currency="SEK", gateway_reference="sbx_ch_demo",
                              created_at=b.clock.now())
            session.add(payment)
            session.flush()
            invoice.payment_id = payment.id
            invoice.paid_on = paid_on
