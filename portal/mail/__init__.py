"""Billing email: what each message says (messages.py), how it is rendered
(render.py), how it leaves (transport.py) and how the outbox is delivered (outbox.py).

The billing service layer only writes outbox rows (portal/billing/accounts/notify.py); this
package, like portal/web/, is an edge: it may use the Flask app for templates,
translations and URLs.
"""
from __future__ import annotations

from functools import partial

from flask import Flask

from portal.billing.clock import Clock
from portal.extensions import db
from portal.mail.outbox import OutboxSender, RetryPolicy
from portal.mail.render import render_email
from portal.mail.transport import Transport, transport_from_config


def outbox_sender(app: Flask, *, clock: Clock | None = None, transport: Transport | None = None,
                  session=None) -> OutboxSender:
    """A sender configured from the app (MAIL_* settings); tests may pass their own
    clock, transport or session."""
    return OutboxSender(
        session if session is not None else db.session(),
        clock or app.extensions["clock"],
        transport or transport_from_config(app.config),
        partial(render_email, app),
        RetryPolicy.from_config(app.config))
