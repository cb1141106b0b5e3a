"""How views get their collaborators for service calls."""
from __future__ import annotations

from flask import current_app

from portal.billing.clock import SystemClock
from portal.billing.context import Billing, BillingPolicy
from portal.extensions import db


def policy() -> BillingPolicy:
    config = current_app.config
    return BillingPolicy(grace_period_days=config["GRACE_PERIOD_DAYS"],
                         deletion_after_days=config["DELETION_AFTER_DAYS"],
                         invoice_due_days=config["INVOICE_DUE_DAYS"],
                         currency=config["BILLING_CURRENCY"],
                         disable_warning_days=tuple(config["DISABLE_WARNING_DAYS"]))


def billing(clock=None) -> Billing:
    return Billing(session=db.session(), gateway=current_app.extensions["payment_gateway"],
                   clock=clock or current_app.extensions.get("clock") or SystemClock(),
                   policy=policy())
