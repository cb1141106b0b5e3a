"""The data model (SQLAlchemy 2 typed mappings). Money columns are integer minor
units beside an ISO 4217 currency (M1), 64-bit (MinorUnits); the billing rules live in
portal/billing/."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Computed, event, Date, DateTime, Enum, Float, ForeignKey, Index,
                        Integer, LargeBinary, String, Text, TypeDecorator, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import figures
from portal.money import Money
from portal.extensions import db


class MinorUnits(TypeDecorator):
    """A money column: integer minor units, 64-bit (issue 27), since a 32-bit column ends
    at 21 474 836,47 kr. What comes in is bounded by money.MAX_MINOR. PostgreSQL sums a
    bigint as numeric, which arrives as a Decimal; any sum or coalesce of these columns
    is read back as an int, as Money wants."""
    impl = BigInteger
    cache_ok = True

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)


def _enum(cls: type[enum.Enum]) -> Enum:
    # Store the value (readable in SQL, stable across renames of the Python name).
    return Enum(cls, values_callable=lambda e: [m.value for m in e], native_enum=False,
                length=32, validate_strings=True)


class AccountKind(enum.StrEnum):
    PAY_AS_YOU_GO = "pay_as_you_go"
    CUSTOMER_AGREEMENT = "customer_agreement"


class Role(enum.StrEnum):
    # Pay-as-you-go account
    ACCOUNT_ADMIN = "account_admin"
    ACCOUNT_USER = "account_user"  # sees the account, may not settle (R02)
    # Customer agreement, per billing profile
    OWNER = "owner"
    CONTRIBUTOR = "contributor"
    INVOICE_MANAGER = "invoice_manager"
    READER = "reader"


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    DISABLED = "disabled"
    DELETED = "deleted"


class MethodKind(enum.StrEnum):
    CARD = "card"
    CHECK_WIRE = "check_wire"


class ChargeStatus(enum.StrEnum):
    OUTSTANDING = "outstanding"
    PAID = "paid"


class InvoiceStatus(enum.StrEnum):
    DUE = "due"
    PAST_DUE = "past_due"
    PAID = "paid"


class PaymentPurpose(enum.StrEnum):
    SETTLE = "settle"          # pay-as-you-go: settle a past-due balance
    INVOICE = "invoice"        # customer agreement: Pay now
    AUTO_CHARGE = "auto_charge"  # billing cycle: card charged automatically
    TRANSFER = "transfer"      # money that arrived by bank (Bankgirot's BgMax file, B11)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"    # waiting for `flask mail send` (again, after next_attempt_at)
    SENDING = "sending"    # claimed by one sender; handed to the mail server, not yet marked
    SENT = "sent"
    FAILED = "failed"      # given up: refused, malformed, out of attempts, or outcome unknown


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(8), default="sv")
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Raised at sign-out: every session cookie issued before (copies included) ends.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    roles: Mapped[list[RoleAssignment]] = relationship(back_populates="user")

    # Flask-Login protocol, kept here so the model needs no mixin import.
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        """Flask-Login's alternative id: the user and the generation of their sessions,
        so a cookie from before the last sign-out no longer names anyone."""
        return f"{self.id}-{self.session_generation or 0}"


class BillingAccount(db.Model):
    __tablename__ = "billing_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AccountKind] = mapped_column(_enum(AccountKind))
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    # R11: where billing notifications go; the account administrator can change it.
    notification_email: Mapped[str] = mapped_column(String(254))
    created_on: Mapped[date] = mapped_column(Date)

    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="account", order_by="Subscription.id")
    profiles: Mapped[list[BillingProfile]] = relationship(back_populates="account", order_by="BillingProfile.id")
    payment_methods: Mapped[list[PaymentMethod]] = relationship(back_populates="account", order_by="PaymentMethod.id")


class BillingProfile(db.Model):
    """Customer agreement: invoices and a default payment method belong to a profile."""
    __tablename__ = "billing_profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    default_payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id", use_alter=True))
    # R15: check/wire transfer as default needs approval.
    check_wire_approved: Mapped[bool] = mapped_column(Boolean, default=False)

    account: Mapped[BillingAccount] = relationship(back_populates="profiles")
    default_payment_method: Mapped[PaymentMethod | None] = relationship(
        foreign_keys=[default_payment_method_id], lazy="joined")  # shown wherever the profile is


class BillingDetails(db.Model):
    """B7: who the customer is on its invoices — per billing profile (customer
    agreement) or per account (pay-as-you-go, billing_profile_id NULL). The customer's
    to keep; an invoice copies them when it is issued (Invoice.parties)."""
    __tablename__ = "billing_details"
    __table_args__ = (UniqueConstraint("account_id", "billing_profile_id", name="uq_billing_details_owner"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    company_name: Mapped[str] = mapped_column(String(200))
    org_number: Mapped[str] = mapped_column(String(40), default="")      # organisationsnummer
    vat_number: Mapped[str] = mapped_column(String(20), default="")      # momsregistreringsnummer
    street: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))                      # ISO 3166-1 alpha-2
    reference: Mapped[str] = mapped_column(String(100), default="")      # "Er referens", PO number
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)    # invoice emails, e.g. accounts payable
    invoice_language: Mapped[str] = mapped_column(String(8), default="sv")
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class RoleAssignment(db.Model):
    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "account_id", "billing_profile_id", name="uq_role_assignments_scope"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    # Set for customer-agreement roles, which are per billing profile.
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    role: Mapped[Role] = mapped_column(_enum(Role))

    user: Mapped[User] = relationship(back_populates="roles")
    account: Mapped[BillingAccount] = relationship()
    billing_profile: Mapped[BillingProfile | None] = relationship()


class PaymentMethod(db.Model):
    """A card is kept as the gateway's token plus what a person needs to recognise it:
    never the full number, never the CVC."""
    __tablename__ = "payment_methods"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    kind: Mapped[MethodKind] = mapped_column(_enum(MethodKind))
    brand: Mapped[str | None] = mapped_column(String(20))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    holder_name: Mapped[str | None] = mapped_column(String(200))
    gateway_token: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # B8: removed by the customer. Kept (payments name it), never offered again.
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # B8: the "expires soon" reminder was given (once per card: a renewed card is a new row).
    expiry_reminded_on: Mapped[date | None] = mapped_column(Date)

    account: Mapped[BillingAccount] = relationship(back_populates="payment_methods")

    @property
    def is_card(self) -> bool:
        return self.kind == MethodKind.CARD


STATUS_RANK_SQL = ("CASE status WHEN 'past_due' THEN 0 WHEN 'disabled' THEN 0 WHEN 'active' THEN 1 "
                   "ELSE 2 END")


class Subscription(db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (
        # The Overview: count, order (settleable first), banner dates and what is owed
        # of one account's subscriptions from the index alone (SQLite: the rowid is in it).
        Index("ix_subscriptions_account_status", "account_id", "status", "past_due_since", "disabled_on",
              "outstanding_minor"),
        # Settle balance (R04, R07): what is owed on one payment method, counted,
        # summed and listed in id order from the index alone, at any size.
        Index("ix_subscriptions_method_outstanding", "payment_method_id", "id", "outstanding_charges",
              "outstanding_minor"),
        # The Overview's banners: the earliest past-due and disabled dates, one row each.
        # Partial, so a subscription that becomes active (a settlement) adds no entry.
        *(Index(f"ix_subscriptions_{day}", "account_id", day, postgresql_where=text(f"status = '{status}'"),
                sqlite_where=text(f"status = '{status}'"))
          for day, status in (("past_due_since", "past_due"), ("disabled_on", "disabled"))),
        # The Overview's order (settleable first, then by id), read a page at a time by
        # key from this index: no sort of every subscription (issue 28).
        Index("ix_subscriptions_account_rank", "account_id", "status_rank", "id"),
        # A billing profile's subscriptions (customer agreement): partial, so a
        # pay-as-you-go subscription (no profile) has no entry to rewrite when a
        # settlement updates it (issue 28).
        Index("ix_subscriptions_billing_profile_id", "billing_profile_id",
              postgresql_where=text("billing_profile_id IS NOT NULL"), sqlite_where=text("billing_profile_id IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[SubscriptionStatus] = mapped_column(_enum(SubscriptionStatus), default=SubscriptionStatus.ACTIVE)
    # Where the status puts it on the Overview (B1): past due and disabled (they carry
    # the Settle balance link) 0, active 1, deleted 2. Computed by the database from
    # the status, so no write can forget it; stored on PostgreSQL, virtual on SQLite
    # (which cannot add a stored column to a table), indexed on both.
    status_rank: Mapped[int] = mapped_column(Integer, Computed(STATUS_RANK_SQL, persisted=True))
    # Pay-as-you-go: each subscription has one active payment method (R05).
    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    monthly_fee_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    started_on: Mapped[date] = mapped_column(Date)
    # Lifecycle dates (R12); the disable and deletion dates are derived from these.
    past_due_since: Mapped[date | None] = mapped_column(Date)
    disabled_on: Mapped[date | None] = mapped_column(Date)
    deleted_on: Mapped[date | None] = mapped_column(Date)
    # Its outstanding charges, counted and summed: derived data, recounted from the
    # charges in every transaction that changes them (balances.recount_outstanding),
    # so the Settle balance page need not read every charge on a card.
    outstanding_charges: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    outstanding_minor: Mapped[int] = mapped_column(MinorUnits, default=0, server_default="0")
    # B14: automatic retries of a failed card charge (portal/billing/cycle/retries.py).
    retry_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_retry_on: Mapped[date | None] = mapped_column(Date)

    account: Mapped[BillingAccount] = relationship(back_populates="subscriptions")
    payment_method: Mapped[PaymentMethod | None] = relationship()
    charges: Mapped[list[Charge]] = relationship(back_populates="subscription", order_by="Charge.period_start")


class SubscriptionFigure(db.Model):
    """Kept figures (issue 28): one account's subscriptions with one payment method (0:
    none), status and owing (outstanding_charges > 0), counted, with their outstanding
    charges summed. Written only by the database's triggers on subscriptions
    (portal/figures.py), so every writer keeps them; read-only here."""
    __tablename__ = "subscription_figures"
    __table_args__ = (
        # The triggers delete a figure that falls to zero: found without a scan.
        Index("ix_subscription_figures_empty", "account_id", postgresql_where=text("subscriptions = 0"),
              sqlite_where=text("subscriptions = 0")),
        {"info": {"kept_by_triggers": True}},
    )
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    payment_method_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[SubscriptionStatus] = mapped_column(_enum(SubscriptionStatus), primary_key=True)
    owing: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    subscriptions: Mapped[int] = mapped_column(Integer)
    outstanding_charges: Mapped[int] = mapped_column(BigInteger)
    outstanding_minor: Mapped[int] = mapped_column(MinorUnits)


# Created before subscriptions (whose triggers write it) and emptied after them.
Subscription.__table__.add_is_dependent_on(SubscriptionFigure.__table__)


@event.listens_for(Subscription.__table__, "after_create")
def _keep_figures(table, connection, **_) -> None:
    """A schema made without the migrations (tests) keeps the figures as they do."""
    figures.create_triggers(connection)


# The conditions of charges' partial indexes, written as literals in the queries that
# use them (balances.IS_OUTSTANDING) so that every plan, a prepared one too, can.
OUTSTANDING_SQL = "status = 'outstanding'"
UNRECEIVED_SQL = "status = 'outstanding' AND failed_on IS NULL"


class Charge(db.Model):
    """Pay-as-you-go: a subscription's charge for one billing period."""
    __tablename__ = "charges"
    __table_args__ = (
        UniqueConstraint("subscription_id", "period_start", name="uq_charges_subscription_period"),
        # Partial on status = 'outstanding' (issue 28): a charge a payment marks paid
        # leaves them and adds no entry, so settling 200,000 charges writes no entry in
        # either. Settle balance, retries and a settlement's allocation: a subscription's
        # outstanding charges, counted and summed from the index alone.
        Index("ix_charges_outstanding", "subscription_id", "currency", "amount_minor", "id",
              postgresql_where=text(OUTSTANDING_SQL), sqlite_where=text(OUTSTANDING_SQL)),
        # R01 "not received": the outstanding check/wire charges never failed, by period end.
        Index("ix_charges_unreceived", "period_end", postgresql_where=text(UNRECEIVED_SQL),
              sqlite_where=text(UNRECEIVED_SQL)),
        # A payment's charges, and the receipt's list of the subscriptions it paid, in
        # id order a page at a time (issue 28).
        Index("ix_charges_payment_subscription", "payment_id", "subscription_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[ChargeStatus] = mapped_column(_enum(ChargeStatus), default=ChargeStatus.OUTSTANDING)
    # The last failed attempt (R01): when and why.
    failed_on: Mapped[date | None] = mapped_column(Date)
    failure_code: Mapped[str | None] = mapped_column(String(40))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))

    subscription: Mapped[Subscription] = relationship(back_populates="charges")
    payment: Mapped[Payment | None] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class Invoice(db.Model):
    """Customer agreement: a billing profile's invoice for one period."""
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("billing_profile_id", "period_start", name="uq_invoices_profile_period"),
        # The Invoices list, newest first, with and without its status filter, read a
        # page at a time by key (issue 28).
        Index("ix_invoices_profile_period_id", "billing_profile_id", "period_start", "id"),
        Index("ix_invoices_profile_status_period_id", "billing_profile_id", "status", "period_start", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    billing_profile_id: Mapped[int] = mapped_column(ForeignKey("billing_profiles.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[InvoiceStatus] = mapped_column(_enum(InvoiceStatus), default=InvoiceStatus.DUE)
    subtotal_minor: Mapped[int] = mapped_column(MinorUnits)
    credits_applied_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    # R18: result of the automatic card charge when the invoice was generated.
    auto_charge_failure_code: Mapped[str | None] = mapped_column(String(40))
    paid_on: Mapped[date | None] = mapped_column(Date)
    # The payment that paid it in full (the last one, when it was paid in parts).
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    # B12: received so far, summed from its allocations (InvoicePayment) in the
    # transaction that adds one; amount_due - paid_minor is what is left to pay.
    paid_minor: Mapped[int] = mapped_column(MinorUnits, default=0, server_default="0")
    # B6: seller and buyer as they were when the invoice was issued; an issued invoice
    # never changes (bookkeeping law), whatever the configuration or the customer's
    # details say later. None for invoices issued before this was kept.
    parties: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    billing_profile: Mapped[BillingProfile] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(back_populates="invoice", order_by="InvoiceLine.id")
    credit_applications: Mapped[list[CreditApplication]] = relationship(back_populates="invoice")
    payment: Mapped[Payment | None] = relationship()
    payments_received: Mapped[list[InvoicePayment]] = relationship(order_by="InvoicePayment.id", viewonly=True)

    @property
    def amount_due(self) -> Money:
        return Money(self.subtotal_minor - self.credits_applied_minor, self.currency)

    @property
    def left(self) -> Money:
        """What is still to pay (B12): the amount due less what has been received."""
        return Money(self.subtotal_minor - self.credits_applied_minor - (self.paid_minor or 0), self.currency)

    @property
    def is_open(self) -> bool:
        return self.status != InvoiceStatus.PAID

    @property
    def is_partly_paid(self) -> bool:
        return self.is_open and (self.paid_minor or 0) > 0


class InvoicePayment(db.Model):
    """B12: how much of a payment went to an invoice. An invoice paid at once has one;
    one paid in parts has one per payment; a payment of several invoices has one each."""
    __tablename__ = "invoice_payments"
    __table_args__ = (UniqueConstraint("invoice_id", "payment_id", name="uq_invoice_payments_invoice_payment"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)

    invoice: Mapped[Invoice] = relationship()
    payment: Mapped[Payment] = relationship()


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    description: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class Credit(db.Model):
    """Customer agreement credits (R16), used up oldest-expiring first."""
    __tablename__ = "credits"
    id: Mapped[int] = mapped_column(primary_key=True)
    billing_profile_id: Mapped[int] = mapped_column(ForeignKey("billing_profiles.id"), index=True)
    description: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    original_minor: Mapped[int] = mapped_column(MinorUnits)
    remaining_minor: Mapped[int] = mapped_column(MinorUnits)
    expires_on: Mapped[date | None] = mapped_column(Date)


class CreditApplication(db.Model):
    __tablename__ = "credit_applications"
    __table_args__ = (UniqueConstraint("credit_id", "invoice_id", name="uq_credit_applications_credit_invoice"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("credits.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)

    credit: Mapped[Credit] = relationship()
    invoice: Mapped[Invoice] = relationship(back_populates="credit_applications")


class Payment(db.Model):
    """A successful payment. The unique idempotency key is what makes a double click,
    a retry or a second tab unable to pay twice (M3)."""
    __tablename__ = "payments"
    __table_args__ = (
        # B9: an account's payments, newest first, a period and a page at a time.
        Index("ix_payments_account_created", "account_id", "created_at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    # Customer agreement: the billing profile whose invoices it paid (who may see it).
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    purpose: Mapped[PaymentPurpose] = mapped_column(_enum(PaymentPurpose))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    gateway_reference: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The seller and the buyer (with its VAT treatment) when it was recorded, for its
    # receipt (B17: frozen at payment); None for payments recorded before they were kept.
    parties: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    payment_method: Mapped[PaymentMethod] = relationship()
    billing_profile: Mapped[BillingProfile | None] = relationship()
    charges: Mapped[list[Charge]] = relationship(back_populates="payment", order_by="Charge.id")
    # Every invoice it paid, in full or in part (B12).
    invoices: Mapped[list[Invoice]] = relationship(secondary="invoice_payments", order_by="Invoice.id",
                                                   viewonly=True)

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class OutboxMessage(db.Model):
    """Email written in the same transaction as the event that causes it (M2);
    delivered later by `flask mail send` (portal/mail/outbox.py), which claims a row
    (status sending, claimed_by) before handing it to the mail server."""
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_id", "status", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(60))
    to_address: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Stable for the life of the message: the Message-ID's left part, the same on
    # every attempt, so a copy sent again (after an operator's requeue) is recognisable.
    message_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Not before this instant (exponential backoff after a temporary failure).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Which sender run holds the message, since when (status sending).
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Notice(db.Model):
    """An in-portal notice for one user (R01, B3)."""
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_user_dismissed", "user_id", "dismissed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime)


class SupportRequest(db.Model):
    __tablename__ = "support_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    subscription: Mapped[Subscription | None] = relationship()


class DisableWarning(db.Model):
    """R12: a "will be disabled on …" warning given for a subscription, N days before
    its disable date; unique, so the billing cycle warns once however often it runs."""
    __tablename__ = "disable_warnings"
    __table_args__ = (UniqueConstraint("subscription_id", "disable_on", "days_before",
                                       name="uq_disable_warnings_subscription_date_days"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    disable_on: Mapped[date] = mapped_column(Date)
    days_before: Mapped[int] = mapped_column(Integer)
    warned_on: Mapped[date] = mapped_column(Date)


class DisabledSpan(db.Model):
    """B16: a past stretch of days a subscription was disabled: from `disabled_on` to
    the day before `enabled_on`, the day settling re-enabled it (R13). Those days are
    not charged. The stretch a subscription is in now is its own `disabled_on` (while
    it is disabled or deleted); a row is written when that stretch ends."""
    __tablename__ = "disabled_spans"
    __table_args__ = (Index("ix_disabled_spans_subscription_enabled", "subscription_id", "enabled_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    disabled_on: Mapped[date] = mapped_column(Date)
    enabled_on: Mapped[date] = mapped_column(Date)


class InvoiceNumberSeries(db.Model):
    """B6: the one gap-free series invoice numbers come from. A number is taken in the
    transaction that issues the invoice, holding this row's lock until it commits: a
    rollback gives the number back, and billing runs on several machines take turns."""
    __tablename__ = "invoice_number_series"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer)


INVOICE_SERIES, FIRST_INVOICE_NUMBER = "invoices", 10001  # as the migration starts it


@event.listens_for(InvoiceNumberSeries.__table__, "after_create")
def _start_the_series(table, connection, **_) -> None:
    """A schema made without the migrations (tests) starts the series as they do."""
    connection.execute(table.insert().values(name=INVOICE_SERIES, next_number=FIRST_INVOICE_NUMBER))


class BilledPeriod(db.Model):
    """A calendar month the billing cycle has billed in full (every subscription and
    billing profile), so a late run catches up every month since, none twice (M7)."""
    __tablename__ = "billed_periods"
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_end: Mapped[date] = mapped_column(Date)
    billed_on: Mapped[date] = mapped_column(Date)


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_account_at", "account_id", "at"),
                      # The audit log, newest first, a page at a time by key (issue 28).
                      Index("ix_audit_events_account_id", "account_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("billing_accounts.id"))
    # Set when the event concerns one billing profile: its owners may see it.
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    action: Mapped[str] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()


class AttemptState(enum.StrEnum):
    PENDING = "pending"      # written ahead, committed before the gateway is called
    IN_DOUBT = "in_doubt"    # the gateway did not answer: it may have charged
    AWAITING_ACTION = "awaiting_action"  # B13: the bank wants the cardholder to authenticate first


class TransferToReview(db.Model):
    """B11: money that arrived by bank but matched nothing it could pay whole (unknown
    or invalid OCR, more or less than owed, another currency): kept for a person, never
    dropped. `key` is the payment's key in its file, so a second import adds nothing."""
    __tablename__ = "transfers_to_review"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    sender_bankgiro: Mapped[str] = mapped_column(String(10))
    payer_name: Mapped[str] = mapped_column(String(100))
    paid_on: Mapped[date] = mapped_column(Date)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))  # when the OCR named one
    created_at: Mapped[datetime] = mapped_column(DateTime)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)
    settled_note: Mapped[str | None] = mapped_column(String(500))


class UnconfirmedPayment(db.Model):
    """A payment attempt not yet recorded (M5): written and committed before the
    gateway is asked to charge (`pending`), and deleted in the transaction that
    records its payment, or when the gateway declines it or certainly never got it.
    One left behind — the gateway did not answer (`in_doubt`), or the process died
    after the charge — is finished with the gateway under the same idempotency key
    (which never charges twice) before anything else is charged for the account, by
    "Check the payment", or by `flask payments reconcile`. Holds the gateway token and
    what a person needs to recognise the card: never the number or CVC."""
    __tablename__ = "unconfirmed_payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[AttemptState] = mapped_column(_enum(AttemptState), default=AttemptState.PENDING)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[PaymentPurpose] = mapped_column(_enum(PaymentPurpose))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    invoice_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # A saved card, or a new card's token and display data (saved only once paid).
    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    new_card: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    # B12: set when the attempt pays part of the invoices: the whole the payer saw.
    part_of_minor: Mapped[int | None] = mapped_column(MinorUnits)
    # B13: the gateway's challenge while the cardholder authenticates (awaiting_action).
    challenge: Mapped[str | None] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # in_doubt: why ("no answer from the gateway", or what failed when recording a charge).
    doubt_reason: Mapped[str | None] = mapped_column(String(200))
    # R05 (settle): the failed card whose subscriptions move to the paying card, as priced.
    switch_from_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))

    allocations: Mapped[list[AttemptAllocation]] = relationship(
        primaryjoin="UnconfirmedPayment.id == foreign(AttemptAllocation.attempt_id)",
        order_by="AttemptAllocation.id", viewonly=True)


class AttemptAllocation(db.Model):
    """What an attempt will pay, written ahead with it under the account's lock: one
    row per *subscription* whose outstanding charges it pays — all of them, up to the
    charge id `up_to_charge_id` (the highest it priced), their sum in `amount_minor` —
    or one per invoice (the share of the money it gets, B12). Recording applies exactly
    these rows, whatever moved meanwhile: a subscription's outstanding charges with ids
    up to its mark are the ones priced (charges are created under the account's lock
    with ever larger ids, and never become outstanding again once paid), and money
    that finds them paid becomes credit (B15). Deleted with the attempt (`forget`).

    No foreign keys (issue 28): the rows are made by INSERT … SELECT of rows that exist,
    under the account's lock, from tables whose rows are never deleted (subscriptions,
    charges, invoices), and go with their attempt in the same transaction; a key
    checked per row cost a reseller's settlement seconds and protected nothing.
    tests/billing/test_money_across_flows.py checks no row outlives its attempt."""
    __tablename__ = "attempt_allocations"
    __table_args__ = (
        # An attempt's rows, in subscription order; recording joins them to the charges.
        Index("ix_attempt_allocations_attempt_subscription", "attempt_id", "subscription_id"),
        # "Is this invoice being paid?" (transfers): partial, so a settlement's 100,000
        # subscription rows add no entry. (Whether a subscription is: a scan of the
        # open attempts' rows, which exist only while a payment is at the gateway.)
        Index("ix_attempt_allocations_invoice_id", "invoice_id", postgresql_where=text("invoice_id IS NOT NULL"),
              sqlite_where=text("invoice_id IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(Integer)
    subscription_id: Mapped[int | None] = mapped_column(Integer)
    up_to_charge_id: Mapped[int | None] = mapped_column(Integer)
    invoice_id: Mapped[int | None] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)


class CreditKind(enum.StrEnum):
    SURPLUS = "surplus"    # money received for what was already paid, or more than owed (+)
    APPLIED = "applied"    # used to pay a charge or an invoice (−)
    REFUNDED = "refunded"  # paid back to the customer by a person (−)


class CreditEntry(db.Model):
    """B15: the account's credit balance, as a ledger: each row moves some of one
    payment's money into the balance (surplus) or out of it (applied, refunded). The
    balance is the sum; what is left of one payment's surplus is the sum of its rows.
    Customer agreement: the billing profile whose invoices it may pay."""
    __tablename__ = "credit_entries"
    __table_args__ = (Index("ix_credit_entries_account_payment", "account_id", "payment_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    kind: Mapped[CreditKind] = mapped_column(_enum(CreditKind))
    # surplus: why ("already_paid", "overpaid", "allocation_changed"); refunded: how.
    reason: Mapped[str] = mapped_column(String(40))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)  # signed: + into the balance, − out
    currency: Mapped[str] = mapped_column(String(3))
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"))     # applied to
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))   # applied to
    refund_reference: Mapped[str | None] = mapped_column(String(100))          # the gateway's refund
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))        # who refunded
    created_at: Mapped[datetime] = mapped_column(DateTime)

    payment: Mapped[Payment] = relationship()
    invoice: Mapped[Invoice | None] = relationship()


class RateLimitCounter(db.Model):
    """Sign-in rate-limit counters (Flask-Limiter, fixed windows), in the database so
    that every worker and every instance counts together (portal/web/ratelimit.py)."""
    __tablename__ = "rate_limits"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)  # seconds since the epoch


class StoredDocument(db.Model):
    """An issued document's file, made once and kept (issue 28; bookkeeping law keeps
    them 7 years): an invoice's PDF per language and its UBL XML (language ""), a
    payment's receipt PDF per language. Written once, never updated: the unique keys
    make a second writer find the first one's file (portal/document_store.py)."""
    __tablename__ = "stored_documents"
    __table_args__ = (
        UniqueConstraint("kind", "invoice_id", "language", name="uq_stored_documents_invoice"),
        UniqueConstraint("kind", "payment_id", "language", name="uq_stored_documents_payment"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))          # invoice_pdf, invoice_ubl, receipt_pdf
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    language: Mapped[str] = mapped_column(String(10))      # "" for a file in no language (UBL)
    content_type: Mapped[str] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    renderer: Mapped[str] = mapped_column(String(100))     # what made it (portal/documents.py RENDERER)
    created_at: Mapped[datetime] = mapped_column(DateTime)
