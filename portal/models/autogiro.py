"""Autogiro (issue 34, B23): the payer's mandate and the payment orders drawn under it.

A mandate is the customer's consent that Bankgirot draws its invoices from one bank
account; the portal sends it to Bankgirot in an export file and learns the answer from an
imported one. An order is one invoice — or one pay-as-you-go charge — drawn on one day:
unique by (invoice, day) and by (charge, day), exactly one of the two named, so an export
run twice never orders the same draw twice (docs/autogiro.md).

A mandate belongs to a billing account; which bills it pays follows from its payment
method: a billing profile's default (a customer agreement's invoices) or a pay-as-you-go
subscription's method (its charges)."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.columns import DrawStatus, MandateStatus, MinorUnits, _enum

if TYPE_CHECKING:  # relationships' targets, resolved by SQLAlchemy's registry
    from portal.models.invoices import Invoice
    from portal.models.subscriptions import Charge
    from portal.models.payments import PaymentMethod


class AutogiroMandate(db.Model):
    __tablename__ = "autogiro_mandates"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    # The payment method that names it (kind autogiro): what a profile or subscription uses.
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"), unique=True)
    # Bankgirot's key for the payer under our bankgiro: 16 digits at most, ours to choose.
    payer_number: Mapped[str] = mapped_column(String(16), unique=True)
    clearing: Mapped[str] = mapped_column(String(5))
    account_number: Mapped[str] = mapped_column(String(12))
    bank_name: Mapped[str] = mapped_column(String(60))
    payer_id: Mapped[str] = mapped_column(String(12))   # organisationsnummer or personnummer, 12 digits
    status: Mapped[MandateStatus] = mapped_column(_enum(MandateStatus), default=MandateStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(String(40))  # why rejected or cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_on: Mapped[date | None] = mapped_column(Date)           # the addition (TK04) exported
    answered_on: Mapped[date | None] = mapped_column(Date)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancel_sent_on: Mapped[date | None] = mapped_column(Date)    # the cancellation (TK03) exported

    payment_method: Mapped[PaymentMethod] = relationship()


class AutogiroOrder(db.Model):
    __tablename__ = "autogiro_orders"
    __table_args__ = (
        UniqueConstraint("invoice_id", "draw_on", name="uq_autogiro_orders_invoice_day"),
        UniqueConstraint("charge_id", "draw_on", name="uq_autogiro_orders_charge_day"),
        CheckConstraint("(invoice_id IS NULL) <> (charge_id IS NULL)", name="invoice_or_charge"),
        Index("ix_autogiro_orders_status_draw_on", "status", "draw_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    mandate_id: Mapped[int] = mapped_column(ForeignKey("autogiro_mandates.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"))   # a pay-as-you-go charge
    draw_on: Mapped[date] = mapped_column(Date)
    attempt: Mapped[int] = mapped_column(Integer, default=1)   # 2: the one retry (B14)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(16))          # the invoice's OCR, a charge's reference
    status: Mapped[DrawStatus] = mapped_column(_enum(DrawStatus), default=DrawStatus.WAITING)
    reason: Mapped[str | None] = mapped_column(String(40))      # why not drawn, or withdrawn
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_on: Mapped[date | None] = mapped_column(Date)
    answered_on: Mapped[date | None] = mapped_column(Date)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))

    mandate: Mapped[AutogiroMandate] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    charge: Mapped[Charge | None] = relationship()
