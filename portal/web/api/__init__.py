"""The provider's JSON API under /api/v1 (issue 32); see core.py and docs/api.md.

    core       blueprint, tokens, rate limit, audit, idempotency, the OpenAPI document
    problems   RFC 9457 problem details, a stable `type` per error
    schemas    the pydantic models: requests, answers, the document
    accounts   accounts, billing profiles and details, subscriptions, usage lines
    billing    invoices (+ documents), payments and receipts, transfers, credit, issuing
    events     webhook endpoints, events, deliveries, replay
    people     invitations to a role, role assignments (the Access page's rules)
"""
from __future__ import annotations

from flask import Flask

from portal.web.api import accounts, billing, core, events, people

ROUTES = (accounts, billing, events, people)  # their routes are on core.bp once imported


def init_app(app: Flask) -> None:
    app.config.setdefault("API_RATE_LIMIT", "600 per minute")
    core.register(app)
