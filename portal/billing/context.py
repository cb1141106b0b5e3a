"""What every service call is given: the session and its collaborators (no globals)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from portal.billing.clock import Clock
from portal.billing.gateway import PaymentGateway
from portal.billing.seller import Seller
from portal.models.changes import CLOCK_KEY


@dataclass(frozen=True)
class BillingPolicy:
    grace_period_days: int = 30      # R12 (product decision): past due → disabled
    deletion_after_days: int = 90    # R12: disabled → data deleted
    invoice_due_days: int = 30
    currency: str = "SEK"
    # R12: "will be disabled on …" warnings this many days before the disable date.
    disable_warning_days: tuple[int, ...] = (7, 1)
    # B6: who issues the invoices (SELLER_* settings), kept on each invoice issued.
    seller: Seller | None = None
    # Issue 33: the provider's setting SUBSCRIPTION_CANCEL — customers cancel at the
    # end of the period (and undo it) on the subscription's page.
    customer_may_cancel: bool = True
    # Issue 33 (B24): SUBSCRIPTION_PLAN_CHANGES and SUBSCRIPTION_PLANS — customers change
    # a subscription's plan on its page, to one of these (name, monthly price in minor units).
    customer_may_change_plan: bool = False
    # B21: the provider's setting SUBSCRIPTION_PAUSE — customers pause a subscription
    # (its services stop, nothing is billed while paused) and resume it on its page.
    customer_may_pause: bool = False
    plans: tuple[tuple[str, int], ...] = ()

    # The one place each of these dates is computed: pages, banners, emails, notices,
    # the billing cycle and the demo all call these (M7).
    def disable_date(self, past_due_since: date) -> date:
        """R12: the day a subscription past due since `past_due_since` is disabled."""
        return past_due_since + timedelta(days=self.grace_period_days)

    def deletion_date(self, disabled_on: date) -> date:
        """R12: the day a subscription disabled on `disabled_on` has its data deleted."""
        return disabled_on + timedelta(days=self.deletion_after_days)

    def due_date(self, issued_on: date) -> date:
        """The due day of an invoice (or a check/wire charge) issued on `issued_on`."""
        return issued_on + timedelta(days=self.invoice_due_days)

    def cancel_date(self, today: date) -> date:
        """Issue 33: the day a subscription cancelled at the end of its period `today` is
        no longer in service: the first day of the next calendar month (a period is a
        calendar month, billed when it has ended)."""
        return (today.replace(day=28) + timedelta(days=4)).replace(day=1)

    def warning_dates(self, disable_on: date) -> list[tuple[int, date]]:
        """R12: (days before, day) of each "will be disabled on …" warning, soonest last."""
        return [(days, disable_on - timedelta(days=days)) for days in sorted(set(self.disable_warning_days),
                                                                           reverse=True) if days > 0]


@dataclass
class Billing:
    session: Session
    gateway: PaymentGateway
    clock: Clock
    policy: BillingPolicy

    def __post_init__(self) -> None:
        # What a change through this session is stamped with (updated_at, models/changes.py).
        self.session.info[CLOCK_KEY] = self.clock
