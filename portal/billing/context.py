"""What every service call is given: the session and its collaborators (no globals)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from portal.billing.clock import Clock
from portal.billing.gateway import PaymentGateway


@dataclass(frozen=True)
class BillingPolicy:
    grace_period_days: int = 30      # R12 (product decision): past due → disabled
    deletion_after_days: int = 90    # R12: disabled → data deleted
    invoice_due_days: int = 30
    currency: str = "SEK"
    # R12: "will be disabled on …" warnings this many days before the disable date.
    disable_warning_days: tuple[int, ...] = (7, 1)

    def disable_date(self, past_due_since: date) -> date:
        return past_due_since + timedelta(days=self.grace_period_days)

    def deletion_date(self, disabled_on: date) -> date:
        return disabled_on + timedelta(days=self.deletion_after_days)


@dataclass
class Billing:
    session: Session
    gateway: PaymentGateway
    clock: Clock
    policy: BillingPolicy
