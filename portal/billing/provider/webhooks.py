"""Events to the provider's endpoints (issue 32): endpoints with their secrets, and
the sender `flask events send` runs from cron — the mail outbox's mechanism
(portal/mail/outbox.py) for webhook deliveries: claim one row in a short write
transaction (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite), post it with no
transaction open, mark it. A 2xx answer is delivered; anything else, or no answer, is
tried again after an exponential backoff, up to `max_attempts` (at least once: a
receiver dedupes by the `webhook-id` header, which is the same on every attempt).
A claim older than `sending_timeout` (the sender died mid-post) is tried again.

Each delivery is signed per Standard Webhooks (the `standardwebhooks` package):
headers `webhook-id` (evt_<event id>), `webhook-timestamp` (the real time of the
post: receivers check it within minutes) and `webhook-signature` (v1, HMAC-SHA256)."""
from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit
from uuid import uuid4

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from portal.billing.clock import Clock, wall_clock
from portal.billing.transaction import write_transaction
from portal.errors import NotFound, Refused
from portal.models import OutboxStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

# (url, body, headers) → the receiver's status code; raises OSError-like on no answer.
Post = Callable[[str, bytes, dict[str, str]], int]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def add_endpoint(session: Session, clock: Clock, url: str, secret: str | None = None) -> WebhookEndpoint:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise Refused("invalid_url", "an absolute http(s) URL")
    secret = secret or new_secret()
    try:
        Webhook(secret)
    except Exception as exc:
        raise Refused("invalid_secret", "a Standard Webhooks secret: whsec_ and base64") from exc
    endpoint = WebhookEndpoint(url=url, secret=secret, created_at=clock.now())
    session.add(endpoint)
    session.flush()
    return endpoint


def endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """An endpoint that receives events. One that was removed is gone from the API
    (NotFound, as DELETE promises); its row and delivery log stay in the database for
    the provider's records (`flask events endpoints list`, `flask events deliveries`)."""
    found = session.get(WebhookEndpoint, endpoint_id)
    if found is None or found.disabled_at is not None:
        raise NotFound("endpoint")
    return found


def disable_endpoint(session: Session, clock: Clock, endpoint_id: int) -> WebhookEndpoint:
    """Remove an endpoint: no more events to it (a second DELETE finds nothing; the same
    Idempotency-Key gets the first answer again)."""
    found = endpoint(session, endpoint_id)
    found.disabled_at = clock.now()
    return found


def replay(session: Session, event_id: int, endpoint_id: int | None = None) -> list[WebhookDelivery]:
    """Send an event again: a new delivery to each active endpoint (or to one)."""
    event = session.get(WebhookEvent, event_id)
    if event is None:
        raise NotFound("event")
    targets = [endpoint(session, endpoint_id)] if endpoint_id is not None else list(session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None)).order_by(WebhookEndpoint.id)))
    added = [WebhookDelivery(event_id=event.id, endpoint_id=target.id) for target in targets]
    session.add_all(added)
    session.flush()
    return added


def body_of(event: WebhookEvent) -> bytes:
    return json.dumps({"type": event.type, "timestamp": event.created_at.isoformat() + "Z",
                       "data": {"id": event.id, **event.data}}, separators=(",", ":")).encode()


def signed_headers(secret: str, event: WebhookEvent, body: bytes) -> dict[str, str]:
    msg_id, sent = f"evt_{event.id}", wall_clock()
    return {"content-type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(int(sent.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, sent, body)}


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 12
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=6)
    sending_timeout: timedelta = timedelta(minutes=5)

    def delay_after(self, attempts: int) -> timedelta:
        return min(self.first_delay * (2 ** max(attempts - 1, 0)), self.max_delay)


@dataclass
class SendReport:
    delivered: int = 0
    retry_later: int = 0
    failed: int = 0


def _post_with_requests(url: str, body: bytes, headers: dict[str, str]) -> int:
    import requests  # imported when used: only the sender posts (no cycle; keeps `flask` start-up light)
    return requests.post(url, data=body, headers=headers, timeout=10, allow_redirects=False).status_code


class WebhookSender:
    def __init__(self, session: Session, clock: Clock, post: Post | None = None, retry: RetryPolicy | None = None):
        self.session, self.clock = session, clock
        self.post = post or _post_with_requests
        self.retry = retry or RetryPolicy()
        self.worker = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid4().hex[:8]}"

    def claim_next(self) -> WebhookDelivery | None:
        while True:
            with write_transaction(self.session):
                now = self.clock.now()
                stale = now - self.retry.sending_timeout
                candidate = self.session.scalars(
                    select(WebhookDelivery.id).where(or_(
                        (WebhookDelivery.status == OutboxStatus.PENDING)
                        & (or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now)),
                        (WebhookDelivery.status == OutboxStatus.SENDING) & (WebhookDelivery.claimed_at < stale)))
                    .order_by(WebhookDelivery.id).limit(1).with_for_update(skip_locked=True)).first()
                if candidate is None:
                    return None
                claimed = self.session.execute(
                    update(WebhookDelivery).where(WebhookDelivery.id == candidate,
                                                  WebhookDelivery.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)))
                    .values(status=OutboxStatus.SENDING, claimed_by=self.worker, claimed_at=now,
                            attempts=WebhookDelivery.attempts + 1)
                    .execution_options(synchronize_session=False)).rowcount
            if claimed == 1:
                delivery = self.session.get(WebhookDelivery, candidate, populate_existing=True)
                self.session.commit()
                return delivery

    def _finish(self, delivery: WebhookDelivery, **values) -> None:
        with write_transaction(self.session):
            self.session.execute(update(WebhookDelivery).where(
                WebhookDelivery.id == delivery.id, WebhookDelivery.claimed_by == self.worker)
                .values(**values).execution_options(synchronize_session=False))
        self.session.expire(delivery)

    def send(self, limit: int = 1000) -> SendReport:
        report = SendReport()
        while report.delivered + report.retry_later + report.failed < limit:
            delivery = self.claim_next()
            if delivery is None:
                break
            self._send_one(delivery, report)
        return report

    def _send_one(self, delivery: WebhookDelivery, report: SendReport) -> None:
        event, target, attempts = delivery.event, delivery.endpoint, delivery.attempts
        body = body_of(event)
        status, error = None, None
        try:
            status = self.post(target.url, body, signed_headers(target.secret, event, body))
        except Exception as exc:  # no answer: refused, timed out, reset — tried again
            error = f"{exc.__class__.__name__}: {exc}"[:2000]
        if status is not None and 200 <= status < 300:
            self._finish(delivery, status=OutboxStatus.SENT, sent_at=self.clock.now(), last_status_code=status,
                         last_error=None)
            report.delivered += 1
            return
        error = error or f"HTTP {status}"
        log.warning("webhook delivery %s (event %s to %s): %s", delivery.id, event.id, target.url, error)
        if attempts >= self.retry.max_attempts:
            self._finish(delivery, status=OutboxStatus.FAILED, last_status_code=status,
                         last_error=f"gave up after {attempts} attempts: {error}")
            report.failed += 1
            return
        self._finish(delivery, status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None,
                     next_attempt_at=self.clock.now() + self.retry.delay_after(attempts),
                     last_status_code=status, last_error=error)
        report.retry_later += 1
