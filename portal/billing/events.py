"""Events to the provider (issue 32, webhooks): written in the same transaction as the
fact they report — one `WebhookEvent` and a pending `WebhookDelivery` per endpoint —
so a change rolled back leaves no event, and a committed one always has its event.
`flask events send` (portal/billing/provider/webhooks.py) delivers them.

Where they are written: where notify.py already records the same fact for the
customer (its audit event, `from_audit`), plus the invoice issued and paid."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal.billing.clock import Clock
from portal.models import OutboxStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

EVENT_TYPES = ("invoice.issued", "invoice.paid", "invoice.partly_paid", "payment.succeeded", "payment.failed",
               "payment.in_doubt", "subscription.past_due", "subscription.disabled", "subscription.deleted",
               "credit.created", "transfer.needs_review", "payment_method.changed",
               # Issue 33's self-service: what a customer did to a subscription, and its end.
               "subscription.cancellation_scheduled", "subscription.cancellation_undone", "subscription.cancelled",
               "subscription.paused", "subscription.resumed", "subscription.plan_changed")

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
    "subscription.cancel_planned": "subscription.cancellation_scheduled",
    "subscription.cancel_undone": "subscription.cancellation_undone",
    "subscription.cancelled": "subscription.cancelled",
    "subscription.paused": "subscription.paused",
    "subscription.resumed": "subscription.resumed",
    "subscription.plan_changed": "subscription.plan_changed",
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


def rows_of(session: Session, clock: Clock, batch: list[tuple[str, dict[str, Any]]]
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows `emit` would write for each of a batch (a BgMax file's thousands of
    payments) — events and their deliveries — for the caller to insert in bulk (the
    import: PostgreSQL's COPY), events first. Their ids are taken ahead: PostgreSQL's
    from the table's sequence; SQLite's after the highest, which no other writer can
    pass while this transaction holds the database's write lock (it has written already)."""
    if not batch:
        return [], []
    unknown = {type_ for type_, _data in batch} - set(EVENT_TYPES)
    if unknown:
        raise ValueError(f"{sorted(unknown)!r} not in events.EVENT_TYPES")
    session.flush()  # what the ORM has pending (an event too) goes first
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(text("SELECT nextval(pg_get_serial_sequence('webhook_events', 'id')) "
                                        "FROM generate_series(1, :n)"), {"n": len(batch)}))
    else:
        highest = session.scalar(select(func.coalesce(func.max(WebhookEvent.id), 0)))
        ids = list(range(highest + 1, highest + 1 + len(batch)))
    now = clock.now()
    endpoints = list(session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.disabled_at.is_(None))))
    return ([{"id": id_, "type": type_, "data": _plain(data), "created_at": now}
             for id_, (type_, data) in zip(ids, batch)],
            [{"event_id": id_, "endpoint_id": endpoint_id, "status": OutboxStatus.PENDING, "attempts": 0,
              "updated_at": now}
             for id_ in ids for endpoint_id in endpoints])


def from_audit(session: Session, clock: Clock, action: str, account_id: int | None,
               details: dict[str, Any]) -> None:
    """The event an audit action reports, if it reports one (and, for a failed charge,
    the subscription it made past due)."""
    for type_, data in reported_by(action, account_id, details):
        emit(session, clock, type_, data)


def reported_by(action: str, account_id: int | None, details: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events (type, data) an audit action reports: none, one, or for a failed
    charge also the subscription it made past due."""
    type_ = FROM_AUDIT.get(action)
    if type_ is None:
        return []
    reported = [(type_, {"account_id": account_id, **details})]
    if action == "charge.failed" and details.get("subscription_id"):
        reported.append(("subscription.past_due", {"account_id": account_id, **details}))
    return reported


def transfer_to_review(review_id: int, row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`transfer.needs_review` for a row of TransferToReview (bank/transfer_batch.review_row)."""
    return "transfer.needs_review", {"review_id": review_id, **{name: row[name] for name in (
        "reason", "reference", "amount_minor", "currency", "paid_on", "sender_bankgiro", "payer_name",
        "invoice_id")}}


def _plain(value: Any) -> Any:
    """JSON-ready: dates and other values as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
