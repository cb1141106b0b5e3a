"""The demo data of SPEC.md: every state a person trying the portal should see.

Dates are relative to the day it is seeded (`flask demo seed --today`, default the
real today), and every one is where the rules put it on that day: charges fail the
day their period is billed or later, statuses follow the due, disable and deletion
days (periods.is_past_due, BillingPolicy), so the billing cycle run on the seed day
changes no status the demo shows (tests/test_calendar.py proves it for any day).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from portal.billing.accounts.balances import recount_outstanding
from portal.billing.accounts.people import INVITATION_DAYS
from portal.billing.bank import autogiro
from portal.billing.bank.bgmax import Transfer, build_file
from portal.billing.context import Billing
from portal.billing.gateway import CardDetails
from portal.billing.invoicing.documents import buyer_of, frozen_parties, price_for
from portal.billing.cycle.invoices import next_invoice_number
from portal.money import Money
from portal.billing.periods import billing_day, is_past_due, months_back
from portal.billing.invoicing import payment_requests
from portal.billing.invoicing.remittance import ocr_reference
from portal.billing.transaction import write_transaction
from portal.billing.usage import rated
from portal.models import (AccountKind, AutogiroMandate, AutogiroOrder, BillingAccount, BillingDetails,
                           BillingProfile, Charge, ChargeStatus, Credit, CreditApplication, DrawStatus, Invoice,
                           Invitation, InvoiceLine, InvoicePayment, InvoiceStatus, MandateStatus, MethodKind, Notice, Payment, PaymentMethod, PaymentPurpose, PaymentRequest,
                           PaymentRequestInvoice, Role,
                           RoleAssignment, SpendingAlert, Subscription, SubscriptionStatus, UsageLine, User)

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
EU_USERS = (
    DemoUser("jonas@example.com", "Jonas Brandt", "en", Role.ACCOUNT_ADMIN,
             "account administrator of an EU business paying as you go: reverse charge on its receipts"),
)
AUTOGIRO_USERS = (
    DemoUser("sara@example.com", "Sara Sjöberg", "sv", Role.OWNER,
             "owner of a customer agreement whose invoices Autogiro draws (B23): an active mandate"),
)
DEMO_USERS = PAYG_USERS + AGREEMENT_USERS + EU_USERS + AUTOGIRO_USERS


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
        _seed_eu_business(b, session, today, users)
        _seed_autogiro(b, session, today, users)
    return True


def _card(b: Billing, account: BillingAccount, number: str, holder: str, month: int, years: int) -> PaymentMethod:
    """A saved card expiring in `month` of the year `years` after the seed day's."""
    token = b.gateway.tokenize(CardDetails(number, month, b.clock.today().year + years, "123", holder))
    method = PaymentMethod(account_id=account.id, kind=MethodKind.CARD, brand=token.brand,
                           last4=token.last4, exp_month=token.exp_month, exp_year=token.exp_year,
                           holder_name=holder, gateway_token=token.token, created_at=b.clock.now())
    b.session.add(method)
    b.session.flush()
    return method


def _account(session: Session, kind: AccountKind, name: str, email: str, created_on: date) -> BillingAccount:
    account = BillingAccount(kind=kind, name=name, currency="SEK", notification_email=email,
                             created_on=created_on)
    session.add(account)
    session.flush()
    return account


def _seed_pay_as_you_go(b: Billing, session: Session, today: date, users: dict[str, User]) -> None:
    account = _account(session, AccountKind.PAY_AS_YOU_GO, "Nordlund Konsult AB", "anna@example.com",
                       today - timedelta(days=400))
    details = BillingDetails(  # B7: the account's own (pay-as-you-go has no billing profiles)
        account_id=account.id, company_name="Nordlund Konsult AB", org_number="559123-4561",
        street="Storgatan 3", postcode="903 26", city="Umeå", country="SE", reference="Anna Lindqvist",
        recipients=[], invoice_language="sv", updated_at=b.clock.now())
    session.add(details)
    for u in PAYG_USERS:
        session.add(RoleAssignment(user=users[u.email], account_id=account.id, role=u.role))
    # The failed card: the bank now says insufficient funds, so retrying it declines (R10).
    failed = _card(b, account, "4000000000009995", "Anna Lindqvist", 8, 3)
    # A working card with outstanding charges of its own (R08).
    second = _card(b, account, "5555555555554444", "Anna Lindqvist", 3, 5)
    # A working card with nothing outstanding.
    spare = _card(b, account, "4242424242424242", "Anna Lindqvist", 11, 4)
    # A card the gateway declines outright (R10).
    declining = _card(b, account, "4000000000000002", "Nordlund Konsult AB", 5, 4)

    past_due_since = today - timedelta(days=12)
    start = today - timedelta(days=300)
    # R12: disabled 10 days ago, so past due since the grace period before that.
    disabled_on = today - timedelta(days=10)

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
    intranet = sub("Intranät", spare, SubscriptionStatus.ACTIVE, 590_00)
    # B8: a card nothing uses that expires this month (the reminder, and a card to remove).
    _card(b, account, "4000056655665556", "Anna Lindqvist", today.month, 0)
    archive = sub("Arkiv", declining, SubscriptionStatus.DISABLED, 120_00,
                  past_due_since=disabled_on - timedelta(days=b.policy.grace_period_days),
                  disabled_on=disabled_on)

    # Each past-due subscription owes the months that ended before it went past due
    # (a charge fails on its billing day or later, never before its period ends).
    for s, months, code in ((production, 2, "insufficient_funds"), (testing, 1, "insufficient_funds"),
                            (backup, 1, "processing_error"), (archive, 2, "generic_decline")):
        for back in range(months, 0, -1):
            p_start, p_end = months_back(s.past_due_since, back)
            session.add(Charge(subscription_id=s.id, amount_minor=s.monthly_fee_minor, currency="SEK",
                               period_start=p_start, period_end=p_end, status=ChargeStatus.OUTSTANDING,
                               failed_on=s.past_due_since, failure_code=code))
    # B9: the months Intranät was charged automatically, for the Payments page.
    for back in range(3, 0, -1):
        p_start, p_end = months_back(today, back)
        payment = Payment(idempotency_key=f"demo-auto-{intranet.id}-{p_end.isoformat()}", account_id=account.id,
                          payment_method_id=spare.id, purpose=PaymentPurpose.AUTO_CHARGE,
                          amount_minor=intranet.monthly_fee_minor, currency="SEK", gateway_reference="sbx_ch_demo",
                          created_at=datetime.combine(billing_day(p_end), time(3, 0)),
                          parties=frozen_parties(b.policy.seller, buyer_of(account.name, "", details)))
        session.add(payment)
        session.flush()
        session.add(Charge(subscription_id=intranet.id, amount_minor=intranet.monthly_fee_minor, currency="SEK",
                           period_start=p_start, period_end=p_end, status=ChargeStatus.PAID, payment_id=payment.id))
    recount_outstanding(session, Subscription.account_id == account.id)
    admin = users["anna@example.com"]
    session.add(Notice(user_id=admin.id, account_id=account.id, kind="payment_failed",
                       payload={"subscription_id": production.id, "subscription": production.name,
                                "reason": "insufficient_funds",
                                "disable_on": b.policy.disable_date(past_due_since).isoformat()},
                       created_at=b.clock.now()))


def _seed_agreement(b: Billing, session: Session, today: date, users: dict[str, User]) -> None:
    account = _account(session, AccountKind.CUSTOMER_AGREEMENT, "Fjällström Logistik AB", "olivia@example.com",
                       today - timedelta(days=500))
    wire = PaymentMethod(account_id=account.id, kind=MethodKind.CHECK_WIRE, created_at=b.clock.now())
    session.add(wire)
    session.flush()
    profile = BillingProfile(account_id=account.id, name="Fjällström Logistik – Sverige",
                             default_payment_method_id=wire.id, check_wire_approved=True)
    session.add(profile)
    session.flush()
    card = _card(b, account, "4242424242424242", "Olivia Holm", 9, 4)
    details = BillingDetails(  # B7: a Swedish company, with its VAT number and a reference
        account_id=account.id, billing_profile_id=profile.id, company_name="Fjällström Logistik AB",
        org_number="556036-0793", vat_number="SE556036079301", street="Hamngatan 12", postcode="411 14",
        city="Göteborg", country="SE", reference="Olivia Holm", recipients=["leverantorsfakturor@example.com"],
        invoice_language="sv", updated_at=b.clock.now())
    session.add(details)
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
    # Issue 33: one cancelled at the end of this month (its page offers to undo it).
    subs[-1].cancel_at = b.policy.cancel_date(today)
    session.flush()
    # Issue 31: a second owner Olivia invited today, not accepted yet (Access lists it, to
    # send again or withdraw). Its link is nobody's: "Send again" emails a real one.
    now = b.clock.now()
    session.add(Invitation(account_id=account.id, billing_profile_id=profile.id, email="per@example.com",
                           role=Role.OWNER, locale="sv", token_hash=secrets.token_hex(32),
                           invited_by_user_id=users["olivia@example.com"].id, created_at=now, sent_at=now,
                           expires_at=now + timedelta(days=INVITATION_DAYS)))
    credit = Credit(billing_profile_id=profile.id, description="Startkredit", currency="SEK",
                    original_minor=2_000_00, remaining_minor=500_00,
                    expires_on=today + timedelta(days=180))
    session.add(credit)
    session.flush()
    subtotal = sum(s.monthly_fee_minor for s in subs)
    # Each month issued on its billing day and due `invoice_due_days` later; its status
    # is what the calendar makes it today. The newest month already past due (two
    # months back, or three early in a month: an invoice due 1 December is not past
    # due on 1 December) is unpaid, the month before it paid, every later one due;
    # last month's has the credits applied (R16).
    def due_on(months: int) -> date:
        return b.policy.due_date(billing_day(months_back(today, months)[1]))

    newest_past_due = next(m for m in range(2, 24) if is_past_due(due_on(m), today))
    owed = []
    for months in range(newest_past_due + 1, 0, -1):
        p_start, p_end = months_back(today, months)
        issued, credits = billing_day(p_end), 1_500_00 if months == 1 else 0
        status = (InvoiceStatus.PAID if months > newest_past_due else
                  InvoiceStatus.PAST_DUE if is_past_due(due_on(months), today) else InvoiceStatus.DUE)
        invoice = Invoice(billing_profile_id=profile.id,
                          number=next_invoice_number(session), parties=frozen_parties(b.policy.seller, buyer_of(account.name, profile.name, details, account.notification_email)),
                          currency="SEK",
                          period_start=p_start, period_end=p_end, issued_on=issued,
                          due_on=due_on(months), status=status, subtotal_minor=subtotal,
                          credits_applied_minor=credits)
        session.add(invoice)
        session.flush()
        if status != InvoiceStatus.PAID:
            owed.append(invoice)
        for s in subs:
            session.add(InvoiceLine(invoice_id=invoice.id, subscription_id=s.id,
                                    description=s.name, amount_minor=s.monthly_fee_minor))
        if credits:
            session.add(CreditApplication(credit_id=credit.id, invoice_id=invoice.id, amount_minor=credits))
        if status == InvoiceStatus.PAID:
            paid_on = issued + timedelta(days=7)
            payment = Payment(idempotency_key=f"demo-paid-{invoice.number}", account_id=account.id,
                              billing_profile_id=invoice.billing_profile_id,
                              user_id=users["olivia@example.com"].id, payment_method_id=card.id,
                              purpose=PaymentPurpose.INVOICE, amount_minor=invoice.amount_due.minor,
                              currency="SEK", gateway_reference="sbx_ch_demo",
                              created_at=datetime.combine(paid_on, time(10, 0)),
                              parties=invoice.parties)
            session.add(payment)
            session.flush()
            invoice.payment_id = payment.id
            invoice.paid_on = paid_on
            invoice.paid_minor = payment.amount_minor
            session.add(InvoicePayment(invoice_id=invoice.id, payment_id=payment.id, amount_minor=payment.amount_minor))
    # B22: Olivia asked for one OCR reference for the open invoices (the demo file pays it).
    session.add(PaymentRequest(account_id=account.id, billing_profile_id=profile.id,
                               created_by_user_id=users["olivia@example.com"].id, created_at=b.clock.now(),
                               amount_minor=sum(i.left.minor for i in owed), currency="SEK",
                               items=[PaymentRequestInvoice(invoice_id=i.id, amount_minor=i.left.minor) for i in owed]))


def _seed_eu_business(b: Billing, session: Session, today: date, users: dict[str, User]) -> None:
    """B17: a VAT-registered business in another EU country paying as you go — charged
    the price without Swedish VAT, its receipts under reverse charge (docs/vat.md)."""
    account = _account(session, AccountKind.PAY_AS_YOU_GO, "Brandt Software GmbH", "jonas@example.com",
                       today - timedelta(days=200))
    details = BillingDetails(
        account_id=account.id, company_name="Brandt Software GmbH", org_number="HRB 98765 B",
        vat_number="DE136695976", street="Friedrichstraße 68", postcode="10117", city="Berlin", country="DE",
        reference="Jonas Brandt", recipients=[], invoice_language="en", updated_at=b.clock.now())
    session.add(details)
    for u in EU_USERS:
        session.add(RoleAssignment(user=users[u.email], account_id=account.id, role=u.role))
    card = _card(b, account, "4242424242424242", "Jonas Brandt", 6, 3)
    hosting = Subscription(account_id=account.id, name="Cloud hosting", status=SubscriptionStatus.ACTIVE,
                           payment_method_id=card.id, monthly_fee_minor=990_00,
                           started_on=today - timedelta(days=150))
    session.add(hosting)
    session.flush()
    buyer = buyer_of(account.name, "", details)
    price = price_for(Money(hosting.monthly_fee_minor, account.currency), buyer.reverse_charge)
    for back in range(2, 0, -1):  # charged automatically, each with its receipt's parties kept
        p_start, p_end = months_back(today, back)
        payment = Payment(idempotency_key=f"demo-auto-{hosting.id}-{p_end.isoformat()}", account_id=account.id,
                          payment_method_id=card.id, purpose=PaymentPurpose.AUTO_CHARGE, amount_minor=price.minor,
                          currency="SEK", gateway_reference="sbx_ch_demo",
                          created_at=datetime.combine(billing_day(p_end), time(3, 0)),
                          parties=frozen_parties(b.policy.seller, buyer))
        session.add(payment)
        session.flush()
        session.add(Charge(subscription_id=hosting.id, amount_minor=price.minor, currency="SEK",
                           period_start=p_start, period_end=p_end, status=ChargeStatus.PAID, payment_id=payment.id))
    # Issue 32: what the provider posted of this month's use so far (Overview's "Used this
    # month", the subscription's page); the billing day bills it with the month.
    month_start = today.replace(day=1)
    for description, quantity, unit, unit_price_minor in (("Outbound traffic", "412.5", "GB", 90),
                                                          ("Block storage", "250", "GB-month", 120)):
        session.add(UsageLine(subscription_id=hosting.id, period_start=month_start, period_end=today,
                              quantity=quantity, unit=unit, unit_price_minor=unit_price_minor,
                              amount_minor=rated(Decimal(quantity), unit_price_minor), description=description,
                              created_at=b.clock.now()))
    # Issue 33: a spending alert Jonas set for the whole account, above its month's costs
    # (so no billing day warns of it): the Costs page shows it.
    session.add(SpendingAlert(account_id=account.id, amount_minor=3_000_00, currency="SEK",
                              set_by_user_id=users["jonas@example.com"].id, set_at=b.clock.now()))
    recount_outstanding(session, Subscription.account_id == account.id)


def _seed_autogiro(b: Billing, session: Session, today: date, users: dict[str, User]) -> None:
    """B23: a customer agreement paying by Autogiro — a mandate Bankgirot approved long
    ago (given, sent and answered as the files would have done it), each invoice due
    before today drawn on the banking day from its due date and paid through an order,
    the newer ones due and drawn when they fall due (`flask autogiro export` orders each
    the banking day before: docs/autogiro.md)."""
    account = _account(session, AccountKind.CUSTOMER_AGREEMENT, "Sjöberg Bygg AB", "sara@example.com",
                       today - timedelta(days=150))
    bank = autogiro.bank_account("6000", "806967498")   # the banks' rules, as the page checks them
    method = PaymentMethod(account_id=account.id, kind=MethodKind.AUTOGIRO, brand=bank.bank_name[:60],
                           last4=bank.number[-4:], holder_name=bank.bank_name, created_at=b.clock.now())
    session.add(method)
    session.flush()
    given = today - timedelta(days=140)
    mandate = AutogiroMandate(account_id=account.id, payment_method_id=method.id, payer_number="pending",
                              clearing=bank.clearing, account_number=bank.number, bank_name=bank.bank_name,
                              payer_id=autogiro.payer_identity("556703-7485"), status=MandateStatus.ACTIVE,
                              created_at=datetime.combine(given, time(9, 0)), sent_on=given,
                              answered_on=autogiro.next_banking_day(given))
    session.add(mandate)
    session.flush()
    mandate.payer_number = str(autogiro.PAYER_NUMBER_BASE + mandate.id)
    profile = BillingProfile(account_id=account.id, name="Sjöberg Bygg", default_payment_method_id=method.id)
    session.add(profile)
    session.flush()
    details = BillingDetails(
        account_id=account.id, billing_profile_id=profile.id, company_name="Sjöberg Bygg AB",
        org_number="556703-7485", vat_number="SE556703748501", street="Kungsgatan 44", postcode="753 21",
        city="Uppsala", country="SE", reference="Sara Sjöberg", recipients=[], invoice_language="sv",
        updated_at=b.clock.now())
    session.add(details)
    for u in AUTOGIRO_USERS:
        session.add(RoleAssignment(user=users[u.email], account_id=account.id, billing_profile_id=profile.id,
                                   role=u.role))
    subs = [Subscription(account_id=account.id, billing_profile_id=profile.id, name=name,
                         status=SubscriptionStatus.ACTIVE, payment_method_id=method.id, monthly_fee_minor=fee,
                         started_on=today - timedelta(days=130)) for name, fee in (("Projektverktyg", 2_450_00),
                                                                                   ("Dokumentarkiv", 890_00))]
    session.add_all(subs)
    session.flush()
    parties = frozen_parties(b.policy.seller, buyer_of(account.name, profile.name, details, account.notification_email))
    for months in range(3, 0, -1):
        p_start, p_end = months_back(today, months)
        issued = billing_day(p_end)
        invoice = Invoice(billing_profile_id=profile.id, number=next_invoice_number(session), parties=parties,
                          currency="SEK", period_start=p_start, period_end=p_end, issued_on=issued,
                          due_on=b.policy.due_date(issued), status=InvoiceStatus.DUE,
                          subtotal_minor=sum(s.monthly_fee_minor for s in subs), credits_applied_minor=0)
        session.add(invoice)
        session.flush()
        session.add_all(InvoiceLine(invoice_id=invoice.id, subscription_id=s.id, description=s.name,
                                    amount_minor=s.monthly_fee_minor) for s in subs)
        if invoice.due_on < today:   # drawn on its day (a due day on a weekend: the next banking day)
            _drawn_by_autogiro(session, account, mandate, invoice, min(autogiro.banking_day_from(invoice.due_on), today))


def _drawn_by_autogiro(session: Session, account: BillingAccount, mandate: AutogiroMandate, invoice: Invoice,
                       drawn_on: date) -> None:
    """An invoice paid as an imported payment result records it: the order, the payment
    (purpose autogiro), the invoice's share."""
    order = AutogiroOrder(mandate_id=mandate.id, invoice_id=invoice.id, draw_on=drawn_on,
                          amount_minor=invoice.amount_due.minor, currency="SEK", reference=ocr_reference(invoice.number),
                          status=DrawStatus.DRAWN, created_at=datetime.combine(drawn_on, time(6, 0)),
                          sent_on=_banking_day_before(drawn_on), answered_on=drawn_on)
    session.add(order)
    session.flush()
    payment = Payment(idempotency_key=f"demo-autogiro-{order.id}", account_id=account.id,
                      billing_profile_id=invoice.billing_profile_id, payment_method_id=mandate.payment_method_id,
                      purpose=PaymentPurpose.AUTOGIRO, amount_minor=order.amount_minor, currency="SEK",
                      gateway_reference=f"autogiro:{mandate.payer_number}-{order.id}",
                      created_at=datetime.combine(drawn_on, time(6, 0)), parties=invoice.parties)
    session.add(payment)
    session.flush()
    order.payment_id = payment.id
    invoice.status, invoice.payment_id, invoice.paid_on = InvoiceStatus.PAID, payment.id, drawn_on
    invoice.paid_minor = payment.amount_minor
    session.add(InvoicePayment(invoice_id=invoice.id, payment_id=payment.id, amount_minor=payment.amount_minor))


def _banking_day_before(day: date) -> date:
    day -= timedelta(days=1)
    while not autogiro.is_banking_day(day):
        day -= timedelta(days=1)
    return day


def bgmax_paying_the_demo(b: Billing, our_bankgiro: str) -> bytes:
    """B11: a Bankgirot file as the bank would send it today: Fjällström Logistik pays its
    open invoices with one transfer and its payment request's OCR (B22) — or, when that
    request is no longer valid, its past-due invoice with the invoice's OCR — and someone
    sends 100 kr with a reference that names nothing (it waits in `flask billing transfers`)."""
    request = b.session.scalars(select(PaymentRequest).where(PaymentRequest.closed_at.is_(None))
                                .order_by(PaymentRequest.id.desc()).limit(1)).first()
    view = payment_requests.view_of(request) if request is not None else None
    if view is not None and view.is_open:
        return build_file([[Transfer(view.reference, view.total.minor, name="Fjällström Logistik AB"),
                            Transfer("4711", 100_00, name="Okänd betalare")]], our_bankgiro, b.clock.today())
    past_due = b.session.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.PAST_DUE)
                                 .order_by(Invoice.id)).all()
    if not past_due:
        raise LookupError("the demo has no past-due invoice (seed it first, or it is already paid)")
    transfers = [Transfer(ocr_reference(i.number), i.left.minor, name="Fjällström Logistik AB") for i in past_due]
    transfers.append(Transfer("4711", 100_00, name="Okänd betalare"))
    return build_file([transfers], our_bankgiro, b.clock.today())
