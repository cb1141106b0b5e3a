"""The provider's side (issue 32): what its JSON API (portal/web/api/) and its commands
(`flask api …`, `flask events …`) do. Stands on every other package: it feeds the
portal accounts, subscriptions and usage, issues a period's invoices with the billing
cycle's own code, and delivers the events those packages write (portal/billing/events.py).

    tokens        API tokens: created (printed once), digests only, listed, revoked
    idempotency   the stored answer of a create or update sent with an Idempotency-Key
    catalog       accounts, billing profiles and details, subscriptions, usage lines
    reads         read-only lists by key: invoices, payments, transfers, credit
    webhooks      endpoints, and the sender: claim, sign (Standard Webhooks), post, mark
"""
