"""The service layer's collaborators — a `Billing` (session, gateway, clock, policy) —
built from the running application, for views, emails and commands alike."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app

from portal.billing.clock import Clock, FixedClock
from portal.billing.context import Billing, BillingPolicy
from portal.extensions import db


def policy() -> BillingPolicy:
    config = current_app.config
    return BillingPolicy(grace_period_days=config["GRACE_PERIOD_DAYS"],
                         deletion_after_days=config["DELETION_AFTER_DAYS"],
                         invoice_due_days=config["INVOICE_DUE_DAYS"],
                         currency=config["BILLING_CURRENCY"],
                         disable_warning_days=tuple(config["DISABLE_WARNING_DAYS"]),
                         customer_may_cancel=config["SUBSCRIPTION_CANCEL"],
                         customer_may_change_plan=config["SUBSCRIPTION_PLAN_CHANGES"],
                         customer_may_pause=config["SUBSCRIPTION_PAUSE"],
                         plans=config["SUBSCRIPTION_PLANS"],
                         seller=current_app.extensions["seller"])  # validated once, by create_app


def clock() -> Clock:
    """The application's clock (create_app; a test or PORTAL_TODAY may pin it)."""
    return current_app.extensions["clock"]


def clock_on(day) -> FixedClock:
    """A clock standing on `day` in the portal's zone (commands run 'as of' a date)."""
    return FixedClock(day, ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


def billing(clock_: Clock | None = None) -> Billing:
    return Billing(session=db.session(), gateway=current_app.extensions["payment_gateway"],
                   clock=clock_ or clock(), policy=policy())
