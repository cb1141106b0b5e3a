"""Delivering the outbox: claim one message at a time, send it, mark it.

Safe with several senders at once (cron on several machines): a message is claimed
in its own short write transaction — `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL,
`BEGIN IMMEDIATE` on SQLite (portal/billing/transaction.py) — and the claim is an
UPDATE that only succeeds on a row still pending and unclaimed, so two senders can
never both hold one. The claim (status sending, claimed_by, claimed_at) is committed
before the message is handed to the mail server, and only the holder may mark it.

Crash between send and mark: the row stays `sending`. It is never picked up again by
itself; once its claim is older than MAIL_SENDING_TIMEOUT, the next run marks it
failed with "outcome unknown" and logs it, and an operator who finds in the mail
server's log that it did not go out (search for its Message-ID) can requeue it. So
delivery is at most once when the outcome is unknown, and retried (with exponential
backoff, up to MAIL_MAX_ATTEMPTS) whenever we know the server did not take it.

One message's trouble — a refused or malformed address, a template that fails to
render, a server that is down — is logged and recorded on that row; it never stops
the rest of the queue with an exception.
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from uuid import uuid4

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from portal.billing.clock import Clock
from portal.billing.transaction import write_transaction
from portal.mail.transport import (OutcomeUnknown, PermanentFailure, ServerUnavailable, TemporaryFailure,
                                   Transport)
from portal.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

Renderer = Callable[[OutboxMessage], EmailMessage]
OUTCOME_UNKNOWN = "outcome unknown"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    first_delay: timedelta = timedelta(minutes=5)
    max_delay: timedelta = timedelta(hours=6)
    sending_timeout: timedelta = timedelta(minutes=15)  # a claim older than this is a crashed run

    def delay_after(self, attempts: int) -> timedelta:
        """5 min, 10, 20, 40 … up to 6 h: about a day of tries with the defaults."""
        return min(self.first_delay * (2 ** max(attempts - 1, 0)), self.max_delay)

    @classmethod
    def from_config(cls, config) -> RetryPolicy:
        return cls(max_attempts=max(1, config["MAIL_MAX_ATTEMPTS"]),
                   first_delay=timedelta(seconds=config["MAIL_RETRY_SECONDS"]),
                   max_delay=timedelta(seconds=config["MAIL_RETRY_MAX_SECONDS"]),
                   sending_timeout=timedelta(seconds=config["MAIL_SENDING_TIMEOUT"]))


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retry_later: int = 0
    outcome_unknown: int = 0
    server_unavailable: str | None = None  # why the run stopped early, if it did

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.retry_later


def worker_name() -> str:
    """Who holds a claim: host, process and this run (fits claimed_by)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid4().hex[:8]}"


def _error(text: str) -> str:
    return text[:2000]


class OutboxSender:
    def __init__(self, session: Session, clock: Clock, transport: Transport, render: Renderer,
                 retry: RetryPolicy | None = None, worker: str | None = None):
        self.session, self.clock, self.transport, self.render = session, clock, transport, render
        self.retry = retry or RetryPolicy()
        self.worker = worker or worker_name()

    # -- claiming and marking -----------------------------------------------------------
    def claim_next(self) -> OutboxMessage | None:
        """The oldest pending message that is due, now held by this run; None if none."""
        while True:
            with write_transaction(self.session):
                now = self.clock.now()
                candidate = self.session.scalars(
                    select(OutboxMessage.id)
                    .where(OutboxMessage.status == OutboxStatus.PENDING,
                           OutboxMessage.claimed_by.is_(None),
                           or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
                    .order_by(OutboxMessage.id).limit(1)
                    .with_for_update(skip_locked=True)).first()
                if candidate is None:
                    return None
                claimed = self.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == candidate, OutboxMessage.status == OutboxStatus.PENDING,
                           OutboxMessage.claimed_by.is_(None))
                    .values(status=OutboxStatus.SENDING, claimed_by=self.worker, claimed_at=now,
                            attempts=OutboxMessage.attempts + 1)
                    .execution_options(synchronize_session=False)).rowcount
            if claimed == 1:
                message = self.session.get(OutboxMessage, candidate, populate_existing=True)
                self.session.commit()  # end the read; the claim is already committed
                return message
            # Another sender took it between our SELECT and UPDATE: try the next one.

    def _finish(self, message: OutboxMessage, **values) -> bool:
        """Change a message this run holds; False if the claim is no longer ours."""
        with write_transaction(self.session):
            done = self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id, OutboxMessage.claimed_by == self.worker)
                .values(**values).execution_options(synchronize_session=False)).rowcount
        self.session.expire(message)
        return done == 1

    def mark_sent(self, message: OutboxMessage) -> None:
        if not self._finish(message, status=OutboxStatus.SENT, sent_at=self.clock.now(), last_error=None):
            log.error("outbox %s was sent but its claim had expired; marked sent now", message.id)
            with write_transaction(self.session):
                self.session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(
                    status=OutboxStatus.SENT, sent_at=self.clock.now()))

    def mark_failed(self, message: OutboxMessage, reason: str) -> None:
        self._finish(message, status=OutboxStatus.FAILED, last_error=_error(reason))

    def retry_later(self, message: OutboxMessage, attempts: int, reason: str) -> bool:
        """Back to pending after the backoff; failed when out of attempts. True if it
        will be tried again."""
        if attempts >= self.retry.max_attempts:
            self.mark_failed(message, f"gave up after {attempts} attempts: {reason}")
            return False
        self._finish(message, status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None,
                     next_attempt_at=self.clock.now() + self.retry.delay_after(attempts),
                     last_error=_error(reason))
        return True

    def expire_stale_claims(self) -> int:
        """Messages left `sending` by a run that died: the outcome is unknown, so they
        are failed (not sent again) and logged for an operator (at most once)."""
        cutoff = self.clock.now() - self.retry.sending_timeout
        with write_transaction(self.session):
            stale = self.session.scalars(select(OutboxMessage).where(
                OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < cutoff)
                .with_for_update(skip_locked=True)).all()
            for message in stale:
                message.status = OutboxStatus.FAILED
                message.last_error = (f"{OUTCOME_UNKNOWN}: the sender {message.claimed_by} stopped while "
                                      f"sending; not sent again to avoid a duplicate")
                log.error("outbox %s (%s to %s, Message-ID key %s): %s", message.id, message.template,
                          message.to_address, message.message_key, message.last_error)
        return len(stale)

    # -- the run --------------------------------------------------------------------------
    def deliver(self, limit: int = 1000) -> DeliveryReport:
        """Send what is due, up to `limit` messages; stops early if the server is down."""
        report = DeliveryReport()
        report.outcome_unknown += self.expire_stale_claims()
        try:
            while report.handled + report.outcome_unknown < limit:
                message = self.claim_next()
                if message is None:
                    break
                if not self._deliver_one(message, report):
                    break
        finally:
            self.transport.close()
        return report

    def _deliver_one(self, message: OutboxMessage, report: DeliveryReport) -> bool:
        """Send one claimed message and record the result; False when the run should
        stop (the server is unavailable)."""
        ident = f"outbox {message.id} ({message.template})"
        attempts = message.attempts
        try:
            recipient = validate_email(message.to_address, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            log.warning("%s: malformed address %r: %s", ident, message.to_address, exc)
            self.mark_failed(message, f"malformed address: {exc}")
            report.failed += 1
            return True
        try:
            email = self.render(message)
            self.transport.send(email, recipient)
        except PermanentFailure as exc:
            log.warning("%s to %s failed: %s", ident, recipient, exc.reason)
            self.mark_failed(message, exc.reason)
            report.failed += 1
        except OutcomeUnknown as exc:
            log.error("%s to %s: %s; not sent again to avoid a duplicate", ident, recipient, exc.reason)
            self.mark_failed(message, f"{OUTCOME_UNKNOWN}: {exc.reason}")
            report.outcome_unknown += 1
        except ServerUnavailable as exc:
            log.warning("%s: mail server unavailable, will retry: %s", ident, exc.reason)
            self._count(self.retry_later(message, attempts, exc.reason), report)
            report.server_unavailable = exc.reason
            return False
        except TemporaryFailure as exc:
            log.warning("%s to %s deferred: %s", ident, recipient, exc.reason)
            self._count(self.retry_later(message, attempts, exc.reason), report)
        except Exception as exc:  # a bug in one message (e.g. rendering) must not stop the queue
            log.exception("%s could not be sent", ident)
            self._count(self.retry_later(message, attempts, f"{exc.__class__.__name__}: {exc}"), report)
        else:
            self.mark_sent(message)
            report.sent += 1
        return True

    @staticmethod
    def _count(will_retry: bool, report: DeliveryReport) -> None:
        if will_retry:
            report.retry_later += 1
        else:
            report.failed += 1


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    return {str(status): n for status, n in rows}


def requeue(session: Session, clock: Clock, message_ids: list[int]) -> int:
    """An operator's decision: send these failed messages again (with the same
    Message-ID), e.g. after checking an "outcome unknown" in the mail server's log."""
    with write_transaction(session):
        return session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == OutboxStatus.FAILED)
            .values(status=OutboxStatus.PENDING, attempts=0, claimed_by=None, claimed_at=None,
                    next_attempt_at=None, last_error=None)
            .execution_options(synchronize_session=False)).rowcount


def due_now(session: Session, now: datetime) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.PENDING,
        or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))) or 0
