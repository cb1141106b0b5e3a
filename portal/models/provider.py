"""The provider's side (issue 32): API tokens, idempotent answers, usage lines, and
events to the provider's endpoints (webhooks) with their delivery log."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.changes import ChangeTracked
from portal.models.columns import MinorUnits, OutboxStatus, _enum


class ApiToken(db.Model):
    """A provider's API token: only its SHA-256 digest is kept (the token is printed
    once, by `flask api tokens create`)."""
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    scope: Mapped[str] = mapped_column(String(10))  # read | write
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class IdempotentRequest(db.Model):
    """The stored answer to a create or update sent with an `Idempotency-Key`: the same
    key and body get it again; the same key with another body is refused (422)."""
    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("token_id", "key", name="uq_idempotent_requests_token_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))  # method, path and body
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class UsageLine(db.Model):
    """What a subscription used in a period, as the provider posted it: rated
    (quantity × unit price, rounded to minor units) into the period's pay-as-you-go
    charge or a line of the customer agreement's invoice (portal/billing/usage.py)."""
    __tablename__ = "usage_lines"
    __table_args__ = (Index("ix_usage_lines_subscription_period", "subscription_id", "period_start", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    quantity: Mapped[str] = mapped_column(String(40))  # a decimal, exactly as posted
    unit: Mapped[str] = mapped_column(String(40))
    unit_price_minor: Mapped[int] = mapped_column(MinorUnits)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    description: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookEndpoint(db.Model):
    """Where the provider wants events: a URL and the Standard Webhooks secret
    (`whsec_…`) each delivery is signed with."""
    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebhookEvent(db.Model):
    """One fact for the provider, written in the same transaction as the change it
    reports (portal/billing/events.py)."""
    __tablename__ = "webhook_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookDelivery(ChangeTracked, db.Model):
    """An event on its way to one endpoint: the outbox row `flask events send` claims,
    sends and marks (as `flask mail send` does for email), and its delivery log."""
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_id", "status", "id"),
                      Index("ix_webhook_deliveries_endpoint_id", "endpoint_id", "id"),
                      Index("ix_webhook_deliveries_event_id", "event_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()
