"""Small builders for billing scenarios, used by the rule tests."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import count

from sqlalchemy import insert, select

from portal.billing.accounts.balances import recount_outstanding
from portal.billing.gateway import CardDetails
from portal.models import (FIRST_INVOICE_NUMBER, INVOICE_SERIES, AccountKind, BillingAccount, BillingProfile,
                           Charge, ChargeStatus, InvoiceNumberSeries, MethodKind, Payment, PaymentMethod,
                           PaymentPurpose, Role,
                           RoleAssignment, Subscription, SubscriptionStatus, User)

APPROVE = "4242424242424242"
INSUFFICIENT_FUNDS = "4000000000009995"
DECLINE = "4000000000000002"

_ids = count(1)


def user(b, role: Role | None = None, account=None, profile=None, locale="sv") -> User:
    n = next(_ids)
    u = User(email=f"user{n}@example.com", name=f"User {n}", password_hash="x", locale=locale)
    b.session.add(u)
    b.session.flush()
    if role is not None:
        b.session.add(RoleAssignment(user_id=u.id, account_id=account.id,
                                     billing_profile_id=profile.id if profile else None, role=role))
        b.session.flush()
    return u


def account(b, kind=AccountKind.PAY_AS_YOU_GO, currency="SEK") -> BillingAccount:
    a = BillingAccount(kind=kind, name=f"Account {next(_ids)}", currency=currency,
                       notification_email=f"billing{next(_ids)}@example.com", created_on=date(2025, 1, 1))
    b.session.add(a)
    b.session.flush()
    return a


def card(b, acc, number=APPROVE) -> PaymentMethod:
    token = b.gateway.tokenize(CardDetails(number, 12, 2030, "123", "Holder"))
    m = PaymentMethod(account_id=acc.id, kind=MethodKind.CARD, brand=token.brand, last4=token.last4,
                      exp_month=12, exp_year=2030, holder_name="Holder", gateway_token=token.token,
                      created_at=b.clock.now())
    b.session.add(m)
    b.session.flush()
    return m


def wire(b, acc) -> PaymentMethod:
    m = PaymentMethod(account_id=acc.id, kind=MethodKind.CHECK_WIRE, created_at=b.clock.now())
    b.session.add(m)
    b.session.flush()
    return m


def subscription(b, acc, method, status=SubscriptionStatus.ACTIVE, fee=100_00, profile=None,
                 past_due_since=None, disabled_on=None, name=None, started_on=date(2025, 1, 1)) -> Subscription:
    s = Subscription(account_id=acc.id, name=name or f"Sub {next(_ids)}", status=status,
                     payment_method_id=method.id if method else None, monthly_fee_minor=fee,
                     started_on=started_on, billing_profile_id=profile.id if profile else None,
                     past_due_since=past_due_since, disabled_on=disabled_on)
    b.session.add(s)
    b.session.flush()
    return s


def charge(b, sub, amount=100_00, months_ago=1, status=ChargeStatus.OUTSTANDING, currency=None) -> Charge:
    start = date(2026, 11, 1) - timedelta(days=31 * months_ago)
    start = start.replace(day=1)
    c = Charge(subscription_id=sub.id, amount_minor=amount, currency=currency or sub.account.currency,
               period_start=start, period_end=start + timedelta(days=27), status=status,
               failed_on=date(2026, 11, 2) if status == ChargeStatus.OUTSTANDING else None)
    b.session.add(c)
    b.session.flush()
    recount_outstanding(b.session, Subscription.id == sub.id)
    return c


def past_due(b, acc, method, charges=(100_00,), **kw) -> Subscription:
    s = subscription(b, acc, method, SubscriptionStatus.PAST_DUE,
                     past_due_since=kw.pop("past_due_since", date(2026, 11, 2)), **kw)
    for i, amount in enumerate(charges):
        charge(b, s, amount, months_ago=i + 1)
    return s


def profile(b, acc, default=None, check_wire_approved=False) -> BillingProfile:
    p = BillingProfile(account_id=acc.id, name=f"Profile {next(_ids)}",
                       default_payment_method_id=default.id if default else None,
                       check_wire_approved=check_wire_approved)
    b.session.add(p)
    b.session.flush()
    return p


def payments(b, acc, method, count: int, key: str, per_second: int = 1,
             start: datetime = datetime(2026, 1, 1, 8)) -> None:
    """`count` settle payments of 100 kr, inserted in bulk, `per_second` of them in each
    second from `start` (ties of created_at, ordered by id): a large account's Payments."""
    b.session.execute(insert(Payment), [
        {"idempotency_key": f"{key}-{n}", "account_id": acc.id, "payment_method_id": method.id,
         "purpose": PaymentPurpose.SETTLE, "amount_minor": 100_00, "currency": "SEK", "gateway_reference": "sbx",
         "created_at": start + timedelta(seconds=n // per_second)} for n in range(count)])


def commit(b) -> None:
    b.session.commit()


def snapshot(b, *models) -> dict:
    """Every column of every row of the given models, to prove nothing changed."""
    b.session.expire_all()
    result = {}
    for model in models:
        rows = b.session.scalars(select(model).order_by(model.id)).all()
        result[model.__tablename__] = [
            {c.key: getattr(r, c.key) for c in model.__table__.columns} for r in rows]
    return result


def empty_database(b) -> None:
    """Every row gone, and the gateway's ledger emptied (between the examples of a
    property-based test)."""
    from portal.extensions import db
    from tests.databases import empty_tables
    b.session.rollback()
    empty_tables(b.session.connection(), db.metadata.sorted_tables)
    b.session.execute(InvoiceNumberSeries.__table__.insert().values(  # as a new schema starts it
        name=INVOICE_SERIES, next_number=FIRST_INVOICE_NUMBER))
    b.session.commit()
    b.gateway.clear_ledger()  # ids start again: keys derived from them must too
