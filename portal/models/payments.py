"""Money by card and bank: payment methods, payments, attempts written ahead with
their allocation (M2), transfers to review (B11) and the credit ledger (B15)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.money import Money
from portal.extensions import db
from portal.models.columns import AttemptState, CreditKind, MethodKind, MinorUnits, PaymentPurpose, _enum

if TYPE_CHECKING:  # relationships' targets, resolved by SQLAlchemy's registry
    from portal.models.accounts import BillingAccount, BillingProfile
    from portal.models.invoices import Invoice
    from portal.models.subscriptions import Charge


class PaymentMethod(db.Model):
    """A card is kept as the gateway's token plus what a person needs to recognise it:
    never the full number, never the CVC."""
    __tablename__ = "payment_methods"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    kind: Mapped[MethodKind] = mapped_column(_enum(MethodKind))
    # A card's brand ("visa"), or the bank an Autogiro mandate draws from, whole
    # ("Skandinaviska Enskilda Banken"): the method's name says it.
    brand: Mapped[str | None] = mapped_column(String(60))
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
    # What it paid (no index on Charge.payment_id: for one payment's few; a payment's
    # charges in bulk are read through PaymentSubscription, balances.charges_of).
    charges: Mapped[list[Charge]] = relationship(primaryjoin="Payment.id == foreign(Charge.payment_id)",
                                                 order_by="Charge.id", viewonly=True)
    # Every invoice it paid, in full or in part (B12).
    invoices: Mapped[list[Invoice]] = relationship(secondary="invoice_payments", order_by="Invoice.id",
                                                   viewonly=True)

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


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
    # How many charges of the subscription it priced: when recording pays as many, it
    # paid exactly these rows, which then give the payment's figures without reading
    # the charges again (ledger.apply_allocation). NULL: not known (rows written before).
    charges: Mapped[int | None] = mapped_column(Integer)
    invoice_id: Mapped[int | None] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)


class CreditEntry(db.Model):
    """B15: the account's credit balance, as a ledger: each row moves some of one
    payment's money into the balance (surplus) or out of it (applied, refunded). The
    balance is the sum; what is left of one payment's surplus is the sum of its rows.
    Customer agreement: the billing profile whose invoices it may pay."""
    __tablename__ = "credit_entries"
    __table_args__ = (Index("ix_credit_entries_account_payment", "account_id", "payment_id"),
                      # issue 33: the credit history, newest first, a page at a time by key
                      Index("ix_credit_entries_account_created", "account_id", "created_at", "id"))
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
