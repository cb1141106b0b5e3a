"""What an event leaves behind: outbox emails, in-portal notices, support requests
and the audit log."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import TYPE_CHECKING

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.columns import OutboxStatus, _enum

if TYPE_CHECKING:  # relationships' targets, resolved by SQLAlchemy's registry
    from portal.models.accounts import User
    from portal.models.subscriptions import Subscription


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
