"""Subscriptions and what they cost over time: pay-as-you-go charges, the kept
figures per account (issue 28), disable warnings and spans, billed periods."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Boolean, Computed, event, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import figures, payment_links
from portal.money import Money
from portal.extensions import db
from portal.models.changes import ChangeTracked
from portal.models.columns import ChargeStatus, MinorUnits, SubscriptionStatus, _enum

if TYPE_CHECKING:  # relationships' targets, resolved by SQLAlchemy's registry
    from portal.models.accounts import BillingAccount
    from portal.models.payments import Payment, PaymentMethod


STATUS_RANK_SQL = ("CASE status WHEN 'past_due' THEN 0 WHEN 'disabled' THEN 0 WHEN 'active' THEN 1 "
                   "ELSE 2 END")


def status_ranks(statuses) -> list[int]:
    """The ranks (STATUS_RANK_SQL) of these statuses: a condition on an account's
    subscriptions by status that ix_subscriptions_account_rank can serve too."""
    ranks = {"past_due": 0, "disabled": 0, "active": 1}
    return sorted({ranks.get(str(status), 2) for status in statuses})


class Subscription(ChangeTracked, db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (
        # Those that owe anything (R01's "not received" check of every account): partial,
        # so a settlement that leaves one owing nothing adds no entry.
        Index("ix_subscriptions_owing", "id", postgresql_where=text("outstanding_charges > 0"),
              sqlite_where=text("outstanding_charges > 0")),
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
        # B21: an account's paused subscriptions (the Costs page), without a scan of the rest.
        Index("ix_subscriptions_paused", "account_id", "paused_on", postgresql_where=text("paused_on IS NOT NULL"),
              sqlite_where=text("paused_on IS NOT NULL")),
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
    # Pay-as-you-go: each subscription has one active payment method (R05). No foreign
    # key: a settlement's switch rewrites it on every subscription it settled, and the
    # check per row was a quarter of that UPDATE; methods are never deleted (migration
    # a9d3e5f7b1c4 says why).
    payment_method_id: Mapped[int | None] = mapped_column(Integer)
    monthly_fee_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    started_on: Mapped[date] = mapped_column(Date)
    # Lifecycle dates (R12); the disable and deletion dates are derived from these.
    past_due_since: Mapped[date | None] = mapped_column(Date)
    disabled_on: Mapped[date | None] = mapped_column(Date)
    deleted_on: Mapped[date | None] = mapped_column(Date)
    # Issue 33: cancelled at the end of a period — the first day it is no longer in
    # service (the day after its last). The billing cycle ends it on that day (status
    # cancelled) and bills no day from it on; cleared by "Undo cancellation" before.
    cancel_at: Mapped[date | None] = mapped_column(Date)
    # B21: the first day of the pause it is in now (status paused); the days from it are
    # not billed. Resuming writes the stretch down (PausedSpan) and clears it.
    paused_on: Mapped[date | None] = mapped_column(Date)
    # Its outstanding charges, counted and summed: derived data, recounted from the
    # charges in every transaction that changes them (balances.recount_outstanding),
    # so the Settle balance page need not read every charge on a card.
    outstanding_charges: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    outstanding_minor: Mapped[int] = mapped_column(MinorUnits, default=0, server_default="0")
    # B14: automatic retries of a failed card charge (portal/billing/cycle/retries.py).
    retry_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_retry_on: Mapped[date | None] = mapped_column(Date)

    account: Mapped[BillingAccount] = relationship(back_populates="subscriptions")
    payment_method: Mapped[PaymentMethod | None] = relationship(
        primaryjoin="foreign(Subscription.payment_method_id) == PaymentMethod.id")
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


# Whether a charge is outstanding, written as a literal in the queries that ask
# (balances.IS_OUTSTANDING): every plan, a prepared one too, sees the value.
OUTSTANDING_SQL = "status = 'outstanding'"
# Room left in each page of charges on PostgreSQL, so that marking a page's charges paid
# writes each new row version in the same page (a HOT update: no index entry at all).
CHARGES_FILLFACTOR = 50


class Charge(db.Model):
    """Pay-as-you-go: a subscription's charge for one billing period.

    Paying a charge changes `status` and `payment_id` only, and no index holds either
    (not even in a partial index's condition), so on PostgreSQL the update is HOT:
    one new row version in the same page, no index entry (issue 28: a reseller's
    settlement pays 200,000). A payment's charges are found through
    `PaymentSubscription` (payment → subscriptions), then each subscription's charges
    by `uq_charges_subscription_period`; outstanding ones by the same index (a
    subscription has a charge a month) or from the subscriptions' kept figures."""
    __tablename__ = "charges"
    __table_args__ = (
        UniqueConstraint("subscription_id", "period_start", name="uq_charges_subscription_period"),
        {"postgresql_with": {"fillfactor": CHARGES_FILLFACTOR}},
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
    # The payment that paid it. No foreign key and no index (issue 28): a key checked
    # per charge cost a reseller's settlement a second, and an index would make every
    # payment's update of the charge a full one; payments are never deleted, and the
    # id is written in the transaction that writes the payment, under the account's
    # lock. An UPDATE that sets it links the payment to the subscription
    # (`balances.link_payments`; portal/payment_links.py).
    payment_id: Mapped[int | None] = mapped_column(Integer)

    subscription: Mapped[Subscription] = relationship(back_populates="charges")
    payment: Mapped[Payment | None] = relationship(primaryjoin="foreign(Charge.payment_id) == Payment.id",
                                                   viewonly=True)

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class PaymentSubscription(db.Model):
    """A payment paid charges of this subscription (issue 28): how a payment's charges
    are found — its subscriptions by the primary key, then each one's charges with
    `Charge.payment_id` equal to it — instead of an index on `charges.payment_id`,
    which would make marking a charge paid a full update through every index.
    Written in the transaction that sets `Charge.payment_id`: by the database for a
    charge inserted paid, by the code that marks one paid (portal/payment_links.py);
    one row per payment and subscription however many of its charges it paid. No foreign keys, as AttemptAllocation:
    written from rows that exist, never deleted."""
    __tablename__ = "payment_subscriptions"
    # Its rows follow the charges: re-inserting charges paid (a snapshot restored) links
    # them again, by the trigger, so a copy of the rows is not restored beside them.
    __table_args__ = ({"info": {"kept_by_triggers": True}},)
    payment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    subscription_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


# Created after charges, whose triggers write it (portal/payment_links.py).
PaymentSubscription.__table__.add_is_dependent_on(Charge.__table__)


@event.listens_for(PaymentSubscription.__table__, "after_create")
def _link_payments(table, connection, **_) -> None:
    """A schema made without the migrations (tests) links paid charges as they do."""
    payment_links.create_triggers(connection)


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


class PausedSpan(db.Model):
    """B21: a past pause: from `paused_on` to the day before `resumed_on` (the day it
    was resumed, or ended otherwise). Those days are not billed, as B16's disabled days
    are not. The pause a subscription is in now is its own `paused_on`."""
    __tablename__ = "paused_spans"
    __table_args__ = (Index("ix_paused_spans_subscription_resumed", "subscription_id", "resumed_on"),
                      # A month's pauses (the Costs page's month not billed yet).
                      Index("ix_paused_spans_resumed", "resumed_on"))
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    paused_on: Mapped[date] = mapped_column(Date)
    resumed_on: Mapped[date] = mapped_column(Date)


class BilledPeriod(db.Model):
    """A calendar month the billing cycle has billed in full (every subscription and
    billing profile), so a late run catches up every month since, none twice (M7)."""
    __tablename__ = "billed_periods"
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_end: Mapped[date] = mapped_column(Date)
    billed_on: Mapped[date] = mapped_column(Date)


class SpendingAlert(db.Model):
    """Issue 33 item 2: a monthly amount a person set for an account (or one of its
    subscriptions): the billing cycle emails and tells on Overview when the month's
    costs reach 80 % and 100 % of it, once per threshold and month — `warned_month`
    and `warned_percent` say which was reached last (portal/billing/accounts/costs.py)."""
    __tablename__ = "spending_alerts"
    __table_args__ = (Index("ix_spending_alerts_account_subscription", "account_id", "subscription_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    # None: the whole account's costs.
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    set_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(DateTime)
    warned_month: Mapped[date | None] = mapped_column(Date)
    warned_percent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
