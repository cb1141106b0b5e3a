"""flask commands: database, demo data, billing cycle."""
from __future__ import annotations

from datetime import date, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import Migrate

from portal.billing.clock import FixedClock, SystemClock
from portal.billing.lifecycle import run_billing_cycle
from portal.config import ROOT
from portal.extensions import db
from portal.web.deps import billing

MIGRATIONS = str(ROOT / "portal" / "migrations")


def init_app(app: Flask) -> None:
    Migrate(app, db, directory=MIGRATIONS, render_as_batch=True)
    app.cli.add_command(demo_cli)
    app.cli.add_command(billing_cli)
    app.cli.add_command(translations_cli)


def parse_day(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-01") from exc


@click.group("demo", cls=AppGroup)
def demo_cli() -> None:
    """Demo data."""


@demo_cli.command("seed")
def demo_seed() -> None:
    """Seed the demo data once (after `flask db upgrade`)."""
    from portal.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo

    if seed_demo(billing(SystemClock()), current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")):
        click.echo("Demo data seeded. Sign in with any of these (password: %s):" % DEMO_PASSWORD)
        for user in DEMO_USERS:
            click.echo(f"  {user.email:<22} {user.what}")
    else:
        click.echo("The database already has users; demo data left as it is.")


@click.group("billing", cls=AppGroup)
def billing_cli() -> None:
    """Billing operations."""


@billing_cli.command("cycle")
@click.option("--date", "day", callback=parse_day, help="Billing day (default: today).")
@click.option("--until", callback=parse_day, help="Run every day from --date to this one.")
def billing_cycle(day: date | None, until: date | None) -> None:
    """Generate invoices and charges, auto-charge cards, mark past due, disable,
    delete. Running it twice for a date changes nothing the second time."""
    first = day or SystemClock().today()
    last = until or first
    if last < first:
        raise click.BadParameter("--until is before --date")
    current = first
    while current <= last:
        summary = run_billing_cycle(billing(FixedClock(current)))
        click.echo(
            f"{summary.day}: {summary.charges_created} charges, {summary.invoices_created} invoices, "
            f"{summary.transfers_not_received} transfers not received, {summary.invoices_past_due} invoices "
            f"past due, {summary.subscriptions_disabled} disabled, {summary.subscriptions_deleted} deleted")
        current += timedelta(days=1)
    current_app.extensions["payment_gateway"].close()


@click.group("translations")
def translations_cli() -> None:
    """Catalogs for the localization team (see README: For localization teams)."""


@translations_cli.command("extract")
def translations_extract() -> None:
    """Write every marked string to translations/messages.pot."""
    from portal import catalogs
    catalogs.extract()
    click.echo(f"Wrote {catalogs.POT.relative_to(ROOT)}")


@translations_cli.command("update")
def translations_update() -> None:
    """Extract, then merge new and changed messages into every language."""
    from portal import catalogs
    catalogs.update()
    click.echo("Updated: " + ", ".join(catalogs.locales()) + ". New messages are empty, changed ones fuzzy.")


@translations_cli.command("compile")
def translations_compile() -> None:
    """Build the .mo files the portal reads."""
    from portal import catalogs
    errors = catalogs.compile_all()
    for error in errors:
        click.echo(f"not compiled: {error}", err=True)
    if errors:
        raise SystemExit(1)
    click.echo("Compiled: " + ", ".join(catalogs.locales()))


@translations_cli.command("init")
@click.argument("locale")
def translations_init(locale: str) -> None:
    """Add a language, e.g. `fi`."""
    from portal import catalogs
    catalogs.init(locale)
    click.echo(f"Created translations/{locale}/LC_MESSAGES/messages.po — translate it, then add "
               f"'{locale}' to SUPPORTED_LOCALES and LANGUAGE_NAMES in portal/i18n.py.")


@translations_cli.command("check")
def translations_check() -> None:
    """Everything to fix before release: out-of-date template, missing, empty or fuzzy
    translations, placeholders or HTML tags that differ, missing plural forms."""
    from portal import catalogs
    problems = catalogs.check()
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problem(s).", err=True)
        raise SystemExit(1)
    click.echo("All catalogs are complete and up to date.")
