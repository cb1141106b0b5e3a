"""flask commands of the provider's side (issue 32): `flask api tokens …` and
`flask events …` (endpoints, send from cron, deliveries, replay). Registered by
portal/cli.py; an edge like it."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.billing.provider import tokens, webhooks
from portal.billing.transaction import write_transaction
from portal.errors import NotFound, Refused
from portal.extensions import db
from portal.models import WebhookDelivery, WebhookEndpoint
from portal.services import billing


@click.group("api", cls=AppGroup)
def api_cli() -> None:
    """The provider's JSON API (/api/v1)."""


@api_cli.group("tokens", cls=AppGroup)
def tokens_cli() -> None:
    """API tokens: create (printed once), list, revoke."""


@tokens_cli.command("create")
@click.option("--name", required=True, help="Whose token: it names every call in the audit log.")
@click.option("--scope", type=click.Choice(tokens.SCOPES), required=True, help="read: GET only; write: everything.")
def tokens_create(name: str, scope: str) -> None:
    """Create a token and print it, once: only its digest is kept."""
    try:
        token, _row = tokens.create_token(db.session(), billing().clock, name, scope)
    except Refused as refused:
        raise click.ClickException(refused.detail) from refused
    click.echo(token)


@tokens_cli.command("list")
def tokens_list() -> None:
    for row in tokens.list_tokens(db.session()):
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(f"{row.name}\t{row.scope}\tcreated {row.created_at:%Y-%m-%d %H:%M}\t{state}")


@tokens_cli.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    try:
        tokens.revoke_token(db.session(), billing().clock, name)
    except NotFound as missing:
        raise click.ClickException(f"no token named {name!r}") from missing
    click.echo(f"revoked {name}")


@click.group("events", cls=AppGroup)
def events_cli() -> None:
    """Events to the provider's endpoints (webhooks)."""


@events_cli.group("endpoints", cls=AppGroup)
def endpoints_cli() -> None:
    """Where events go."""


@endpoints_cli.command("add")
@click.argument("url")
@click.option("--secret", default=None, help="A whsec_… secret (default: a new one, printed).")
def endpoints_add(url: str, secret: str | None) -> None:
    b = billing()
    try:
        with write_transaction(b.session):
            endpoint = webhooks.add_endpoint(b.session, b.clock, url, secret)
    except Refused as refused:
        raise click.ClickException(refused.detail) from refused
    click.echo(f"endpoint {endpoint.id}: {endpoint.url}\nsecret: {endpoint.secret}")


@endpoints_cli.command("list")
def endpoints_list() -> None:
    for endpoint in db.session().scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)):
        click.echo(f"{endpoint.id}\t{endpoint.url}\t{'disabled' if endpoint.disabled_at else 'active'}")


@events_cli.command("send")
@click.option("--limit", default=1000, show_default=True, help="Deliveries to try in this run.")
def events_send(limit: int) -> None:
    """Deliver what is due (from cron, like `flask mail send`); exit 1 if any gave up."""
    b = billing()
    report = webhooks.WebhookSender(b.session, b.clock).send(limit)
    click.echo(f"delivered {report.delivered}, retry later {report.retry_later}, failed {report.failed}")
    if report.failed:
        sys.exit(1)


@events_cli.command("deliveries")
@click.option("--endpoint", "endpoint_id", type=int, default=None)
@click.option("--limit", default=50, show_default=True)
def events_deliveries(endpoint_id: int | None, limit: int) -> None:
    """The delivery log, newest first."""
    statement = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    for d in db.session().scalars(statement):
        click.echo(f"{d.id}\tevent {d.event_id} ({d.event.type})\tendpoint {d.endpoint_id}\t{d.status}\t"
                   f"attempts {d.attempts}\t{d.last_status_code or ''}\t{d.last_error or ''}")


@events_cli.command("replay")
@click.argument("event_id", type=int)
@click.option("--endpoint", "endpoint_id", type=int, default=None)
def events_replay(event_id: int, endpoint_id: int | None) -> None:
    """Send an event again (to every active endpoint, or one)."""
    b = billing()
    try:
        with write_transaction(b.session):
            added = webhooks.replay(b.session, event_id, endpoint_id)
    except NotFound as missing:
        raise click.ClickException(f"no {missing}") from missing
    click.echo(f"queued {len(added)} deliveries")
