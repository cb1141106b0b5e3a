"""Customer agreement invoices: lines, credits applied, payments received, the
gap-free number series (B6) and the documents stored once made."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from typing import TYPE_CHECKING

from sqlalchemy import JSON, event, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.money import Money
from portal.extensions import db
from portal.models.changes import ChangeTracked
from portal.models.columns import InvoiceStatus, MinorUnits, _enum

if TYPE_CHECKING:  # relationships' targets, resolved by SQLAlchemy's registry
    from portal.models.accounts import BillingProfile
    from portal.models.payments import Payment


class Invoice(ChangeTracked, db.Model):
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


class PaymentRequest(db.Model):
    """B22: one OCR reference for a chosen set of a billing profile's open invoices, so
    one bank transfer pays them all. Valid until paid or changed: a profile has at most
    one open request (a new one closes the last, `closed_reason` "replaced"); the import
    that pays it sets `payment_id` and closes it ("paid"); an invoice of it paid
    otherwise (what is left of it differs from `PaymentRequestInvoice.amount_minor`)
    makes it stale, which its readers work out (portal/billing/invoicing/payment_requests.py)."""
    __tablename__ = "payment_requests"
    __table_args__ = (Index("ix_payment_requests_profile_closed", "billing_profile_id", "closed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    billing_profile_id: Mapped[int] = mapped_column(ForeignKey("billing_profiles.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)   # the total asked for: the invoices' sum
    currency: Mapped[str] = mapped_column(String(3))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(20))   # replaced, paid
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))  # the transfer that paid it

    items: Mapped[list[PaymentRequestInvoice]] = relationship(order_by="PaymentRequestInvoice.id")


class PaymentRequestInvoice(db.Model):
    """An invoice of a payment request, with what was left of it when the request was made."""
    __tablename__ = "payment_request_invoices"
    __table_args__ = (UniqueConstraint("request_id", "invoice_id", name="uq_payment_request_invoices_request_invoice"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)

    invoice: Mapped[Invoice] = relationship()
