"""Subscriptions and what they cost over time: pay-as-you-go charges, the kept
figures per account (issue 28), disable warnings and spans, billed periods."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Boolean, Computed, event, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import figures
from portal.money import Money
from portal.extensions import db
from portal.models.columns import ChargeStatus, MinorUnits, SubscriptionStatus, _enum

if TYPE_CHECKING:  # relationships' targets, resolved by SQLAlchemy's registry
    from portal.models.accounts import BillingAccount
    from portal.models.payments import Payment, PaymentMethod


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


class BilledPeriod(db.Model):
    """A calendar month the billing cycle has billed in full (every subscription and
    billing profile), so a late run catches up every month since, none twice (M7)."""
    __tablename__ = "billed_periods"
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_end: Mapped[date] = mapped_column(Date)
    billed_on: Mapped[date] = mapped_column(Date)
