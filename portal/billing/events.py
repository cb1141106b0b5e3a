"""Events to the provider (issue 32, webhooks): written in the same transaction as the
fact they report — one `WebhookEvent` and a pending `WebhookDelivery` per endpoint —
so a change rolled back leaves no event, and a committed one always has its event.
`flask events send` (portal/billing/provider/webhooks.py) delivers them.

Where they are written: where notify.py already records the same fact for the
customer (its audit event, `from_audit`), plus the invoice issued and paid."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing.clock import Clock
from portal.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

EVENT_TYPES = ("invoice.issued", "invoice.paid", "invoice.partly_paid", "payment.succeeded", "payment.failed",
               "payment.in_doubt", "subscription.past_due", "subscription.disabled", "subscription.deleted",
               "credit.created", "transfer.needs_review", "payment_method.changed")

# An audit action (notify.AUDIT_ACTIONS) → the event that reports the same fact.
FROM_AUDIT = {
    "payment.succeeded": "payment.succeeded",
    "payment.declined": "payment.failed",
    "charge.failed": "payment.failed",
    "charge.retry_failed": "payment.failed",
    "payment.unconfirmed": "payment.in_doubt",
    "subscription.disabled": "subscription.disabled",
    "subscription.deleted": "subscription.deleted",
    "credit.added": "credit.created",
    "payment_method.switched": "payment_method.changed",
    "payment_method.default_changed": "payment_method.changed",
}


def emit(session: Session, clock: Clock, type_: str, data: dict[str, Any]) -> WebhookEvent:
    """Write the event and one delivery per active endpoint, in the caller's
    transaction."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"{type_!r} is not in events.EVENT_TYPES")
    event = WebhookEvent(type=type_, data=_plain(data), created_at=clock.now())
    session.add(event)
    session.flush()
    for endpoint_id in session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.disabled_at.is_(None))):
        session.add(WebhookDelivery(event_id=event.id, endpoint_id=endpoint_id))
    return event


def from_audit(session: Session, clock: Clock, action: str, account_id: int | None,
               details: dict[str, Any]) -> None:
    """The event an audit action reports, if it reports one (and, for a failed charge,
    the subscription it made past due)."""
    type_ = FROM_AUDIT.get(action)
    if type_ is None:
        return
    emit(session, clock, type_, {"account_id": account_id, **details})
    if action == "charge.failed" and details.get("subscription_id"):
        emit(session, clock, "subscription.past_due", {"account_id": account_id, **details})


def _plain(value: Any) -> Any:
    """JSON-ready: dates and other values as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
