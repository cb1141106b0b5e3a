"""flask commands: database, demo data, billing cycle, mail delivery."""
from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from dataclasses import fields
from pathlib import Path
from datetime import date, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import Migrate
from sqlalchemy import select

from portal import catalogs
from portal.billing.cycle.lifecycle import CycleSummary, cycle_size, run_billing_cycle
from portal.billing.bank import autogiro_files
from portal.billing.bank.bgmax import BgMaxRejected
from portal.billing.accounts import credit
from portal.billing.payments import reconcile
from portal.billing.bank.transfers import REASONS, assign_review, import_bgmax, settle_review, waiting_for_review
from portal.config import ROOT
from portal import autogiro_cli, document_store, provider_cli
from portal.demo import DEMO_PASSWORD, DEMO_USERS, bgmax_paying_the_demo, seed_demo
from portal.extensions import db
from portal.mail import outbox_sender
from portal.mail.outbox import counts_by_status, due_now, requeue
from portal.models import BillingAccount, OutboxMessage, OutboxStatus
from portal.services import billing, clock, clock_on
from portal.users_cli import users_cli

MIGRATIONS = str(ROOT / "portal" / "migrations")


def init_app(app: Flask) -> None:
    Migrate(app, db, directory=MIGRATIONS, render_as_batch=True)
    app.cli.add_command(demo_cli)
    app.cli.add_command(billing_cli)
    app.cli.add_command(translations_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(documents_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(provider_cli.api_cli)  # issue 32
    app.cli.add_command(provider_cli.events_cli)
    app.cli.add_command(autogiro_cli.autogiro_cli)  # issue 34


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
@click.option("--today", callback=parse_day,
              help="Seed as if today were this day, e.g. 2026-11-25 (default: the real today).")
def demo_seed(today: date | None) -> None:
    """Seed the demo data once (after `flask db upgrade`). Its dates are relative to
    the day it is seeded."""
    b = billing(clock_on(today) if today else None)
    if seed_demo(b, current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")):
        click.echo("Demo data seeded. Sign in with any of these (password: %s):" % DEMO_PASSWORD)
        for user in DEMO_USERS:
            click.echo(f"  {user.email:<22} {user.what}")
    else:
        click.echo("The database already has users; demo data left as it is.")


@demo_cli.command("autogiro")
@click.argument("request_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--not-drawn", "not_drawn", multiple=True, metavar="OCR",
              help="This order's invoice is not drawn (insufficient funds); may be given again.")
def demo_autogiro(request_file: Path, not_drawn: tuple[str, ...]) -> None:
    """Write the files Bankgirot would send back for a file of `flask autogiro export`
    (B23): every new mandate approved, every cancellation confirmed, every order drawn
    (or not: --not-drawn), beside it, for `flask autogiro import`."""
    try:
        request = autogiro_files.read_request(request_file.read_bytes().splitlines())
    except autogiro_files.AutogiroRejected as refused:
        raise click.ClickException(f"{request_file.name} is not a file of ours: {refused}") from None
    mandates, results = autogiro_files.answers_for(request, clock().now(), {ocr: "1" for ocr in not_drawn})
    for suffix, content in (("medavi", mandates and autogiro_files.write_mandate_answers(mandates)),
                            ("betspec", results and autogiro_files.write_payment_results(results))):
        if content:
            path = request_file.with_name(f"{request_file.stem}-{suffix}.txt")
            path.write_bytes(content)
            click.echo(f"Wrote {path}: import it with flask autogiro import {path}")


@demo_cli.command("bgmax")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def demo_bgmax(path: Path) -> None:
    """Write a Bankgirot BgMax file that pays the demo's past-due invoice (B11), for
    `flask billing import-bgmax PATH`."""
    try:
        content = bgmax_paying_the_demo(billing(), current_app.config["REMITTANCE_BANKGIRO"])
    except LookupError as nothing:
        raise click.ClickException(str(nothing)) from None
    path.write_bytes(content)
    click.echo(f"Wrote {path}: import it with flask billing import-bgmax {path}")


@click.group("billing", cls=AppGroup)
def billing_cli() -> None:
    """Billing operations."""


# Above this many subscriptions and billing profiles in a day, show a progress bar.
PROGRESS_THRESHOLD = 50


def describe(summary: CycleSummary) -> str:
    return (f"{summary.charges_created} charges, {summary.invoices_created} invoices, "
            f"{summary.transfers_not_received} transfers not received, {summary.invoices_past_due} invoices "
            f"past due, {summary.disable_warnings} warned, {summary.subscriptions_disabled} disabled, "
            f"{summary.subscriptions_deleted} deleted, {summary.cards_reminded} expiring cards reminded, "
            f"{summary.charges_retried} retried ({summary.retries_paid} paid), "
            f"{summary.spending_alerts} spending alerts")


@billing_cli.command("cycle")
@click.option("--date", "day", callback=parse_day, help="Billing day (default: today).")
@click.option("--until", callback=parse_day, help="Run every day from --date to this one.")
def billing_cycle(day: date | None, until: date | None) -> None:
    """Generate invoices and charges (credits first), auto-charge cards, mark past
    due, warn, disable, delete — one line per day, and a total for a range. Running
    it twice for a date changes nothing the second time. Email is queued in the
    outbox; `flask mail send` delivers it."""
    first = day or clock().today()
    last = until or first
    if last < first:
        raise click.BadParameter("--until is before --date")
    # M6: no payment left unfinished before more is charged (said on stderr, so
    # stdout stays one summary line per day).
    run_reconcile(billing(), quiet=True)
    total = CycleSummary(day=first)
    current = first
    while current <= last:
        b = billing(clock_on(current))
        items = cycle_size(b)
        if items > PROGRESS_THRESHOLD:
            # On stderr, so stdout stays one summary line per day.
            with click.progressbar(length=items, label=f"{current}", file=sys.stderr) as bar:
                summary = run_billing_cycle(b, progress=bar.update)
        else:
            summary = run_billing_cycle(b)
        click.echo(f"{summary.day}: {describe(summary)}")
        issue_documents(b, current)
        for field in fields(CycleSummary):
            if field.name != "day":
                setattr(total, field.name, getattr(total, field.name) + getattr(summary, field.name))
        current += timedelta(days=1)
    if last > first:
        click.echo(f"{first} – {last} in all: {describe(total)}")
    current_app.extensions["payment_gateway"].close()


def issue_documents(b, day: date) -> None:
    """Issue 28: the invoices issued on `day` get their PDFs (each language) and UBL
    stored now, by the cycle, not by a download (a failure is said on stderr)."""
    made, failed = document_store.issue_invoices_of(b.session, day)
    if failed:
        click.echo(f"  documents of {failed} invoices not stored ({made} stored): their first download "
                   "makes them, or flask documents render-missing", err=True)


@click.group("documents", cls=AppGroup)
def documents_cli() -> None:
    """Issued documents: invoice PDFs and XML, receipt PDFs, made once and kept."""


@documents_cli.command("render-missing")
@click.option("--invoices/--no-invoices", default=True, show_default=True, help="Invoices' PDFs (each language) and UBL.")
@click.option("--receipts/--no-receipts", default=True, show_default=True, help="Payments' receipt PDFs (each language).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many invoices and payments.")
def documents_render_missing(invoices: bool, receipts: bool, limit: int | None) -> None:
    """Render and store every document an issued invoice or a payment has no stored
    file for (issued before documents were kept, or a render that failed), oldest
    first. Safe to run again, and beside the portal: nothing stored is overwritten."""
    made, failed = document_store.render_missing(billing(), invoices, receipts, limit)
    click.echo(f"{made} invoices and payments got their documents stored, {failed} failed")
    if failed:
        raise SystemExit(1)


@billing_cli.command("import-bgmax")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_bgmax_command(path: Path) -> None:
    """Record the payments of a Bankgirot BgMax file (B11). The file is checked whole
    first: one whose totals do not add up is refused and nothing is recorded. Payments
    whose OCR pays open invoices exactly are recorded; the rest wait in `flask billing
    transfers`. Importing a file again records nothing new."""
    def lines():
        with path.open("rb") as handle:
            yield from handle

    try:
        summary = import_bgmax(billing(), lines, current_app.config["REMITTANCE_BANKGIRO"])
    except BgMaxRejected as refused:
        raise click.ClickException(f"{path.name} refused, nothing recorded: {refused}") from None
    click.echo(f"{path.name}: {summary.payments} payments; {summary.recorded} recorded "
               f"({summary.recorded_minor / 100:.2f} SEK), {summary.duplicates} already imported, "
               f"{summary.to_review} to review" + "".join(f"; {n} {REASONS[r]}" for r, n in summary.reasons.items()))


@billing_cli.command("transfers")
@click.option("--settle", "settle_id", type=int, help="Take this transfer off the list …")
@click.option("--note", default="", help="… saying what was done (refunded, …).")
@click.option("--assign", "assign_id", type=int, help="Apply this transfer where it belongs: …")
@click.option("--invoice", help="… to the invoice with this number (in full or in part), or …")
@click.option("--account", "account_id", type=int, help="… to this pay-as-you-go account's check/wire charges.")
def transfers_command(settle_id: int | None, note: str, assign_id: int | None, invoice: str | None,
                      account_id: int | None) -> None:
    """The bank transfers that wait for a person (B11), oldest first; a person takes one
    off the list by assigning it (recorded like a matching payment) or with a note."""
    b = billing()
    if assign_id is not None:
        try:
            payment = assign_review(b, assign_id, invoice, account_id)
        except (ValueError, LookupError) as refused:
            raise click.ClickException(f"transfer {assign_id} not assigned: {refused}") from None
        click.echo(f"Transfer {assign_id} recorded as payment {payment.id} "
                   f"({payment.amount_minor / 100:.2f} {payment.currency}).")
        return
    if settle_id is not None:
        try:
            settle_review(b, settle_id, note)
        except (ValueError, LookupError) as refused:
            raise click.ClickException(str(refused)) from None
        click.echo(f"Transfer {settle_id} settled: {note.strip()}")
        return
    waiting = waiting_for_review(b)
    for row in waiting:
        click.echo(f"{row.id:>6}  {row.paid_on}  {row.amount_minor / 100:>12.2f} {row.currency}  "
                   f"ref {row.reference or '-':<27} from {row.payer_name or row.sender_bankgiro}: {REASONS[row.reason]}")
    click.echo(f"{len(waiting)} transfers wait for review.")


@click.group("payments", cls=AppGroup)
def payments_cli() -> None:
    """Payments: agreement between the gateway's ledger and ours (M6)."""


def run_reconcile(b, quiet: bool = False, older_than: float = 120) -> bool:
    """Print what reconciliation did (`quiet`: on stderr, and only if anything);
    True when something needs a person."""
    done = reconcile(b, timedelta(seconds=older_than))
    if not quiet or done.finished or done.declined or done.needs_a_person:
        click.echo(f"{len(done.finished)} unfinished payments recorded, {done.declined} declined, "
                   f"{len(done.waiting)} still waiting for the gateway, {len(done.unrecorded)} charges "
                   f"nothing here knows of, {len(done.for_the_cycle)} automatic charges left to the "
                   f"billing cycle", err=quiet)
    for key in done.waiting:
        click.echo(f"  not finished: {key}: {done.why.get(key, 'waiting for the gateway')}", err=True)
    for key, credited in done.credited:
        click.echo(f"  recorded, {credited} of it became the account's credit (what it paid had been paid "
                   f"meanwhile): {key}", err=quiet)
    for key in done.unrecorded:
        click.echo(f"  charged by the gateway, not recorded: {key}", err=True)
    return done.needs_a_person


@payments_cli.command("reconcile")
@click.option("--older-than", default=120.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds after which a pending attempt is no longer on its way (its request died).")
def payments_reconcile(older_than: float) -> None:
    """Finish every payment attempt left unfinished (a lost answer, a crash) with the
    gateway, under its own key, and find charges the gateway approved that we have
    not recorded. Safe from cron on every machine at once; exit status 1 when
    something needs a person."""
    if run_reconcile(billing(), older_than=older_than):
        raise SystemExit(1)


@payments_cli.command("refund")
@click.argument("account_id", type=int)
@click.option("--amount", default=None, help="How much, in the account's currency (1234,50); all of it if not given.")
@click.option("--profile", "profile_id", type=int, default=None, help="Only the credit of this billing profile.")
@click.option("--by-bank", is_flag=True,
              help="Credit from bank transfers has been sent back by bank: record that too.")
def payments_refund(account_id: int, amount: str | None, profile_id: int | None, by_bank: bool) -> None:
    """B15: pay an account's credit balance back — a card payment's credit to its card
    through the gateway, a bank transfer's (with --by-bank) as sent by a person. The
    customer is told by email; each refund is audited; a rerun never refunds twice."""
    b = billing()
    try:
        minor = minor_units(amount) if amount is not None else None
    except ValueError as bad:
        raise click.BadParameter(str(bad), param_hint="--amount") from None
    done = credit.refund(b, account_id, minor, profile_id, by_bank=by_bank)
    for refund in done:
        click.echo(f"refunded {refund.amount} of payment {refund.payment_id} "
                   f"{'to its card (' + str(refund.reference) + ')' if refund.how == 'card' else 'by bank'}")
    account = b.session.get(BillingAccount, account_id)
    left = credit.balance(b.session, account_id, account.currency, profile_id) if account else None
    click.echo(f"{len(done)} refunds; credit balance now {left}")


def minor_units(text: str) -> int:
    """'1234,50', '1 234.50' or '1234' as minor units; positive, two decimals at most."""
    try:
        value = Decimal(text.replace("\xa0", "").replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"not an amount: {text!r}")
    return int(value * 100)


@click.group("translations")
def translations_cli() -> None:
    """Catalogs for the localization team (see README: For localization teams)."""


@translations_cli.command("extract")
def translations_extract() -> None:
    """Write every marked string to translations/messages.pot."""
    catalogs.extract()
    click.echo(f"Wrote {catalogs.POT.relative_to(ROOT)}")


@translations_cli.command("update")
def translations_update() -> None:
    """Extract, then merge new and changed messages into every language."""
    catalogs.update()
    click.echo("Updated: " + ", ".join(catalogs.locales()) + ". New messages are empty, changed ones fuzzy.")


@translations_cli.command("compile")
def translations_compile() -> None:
    """Build the .mo files the portal reads."""
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
    catalogs.init(locale)
    click.echo(f"Created translations/{locale}/LC_MESSAGES/messages.po, in progress until switched on: "
               f"translate it, then add '{locale}' to SUPPORTED_LOCALES and LANGUAGE_NAMES in portal/i18n.py.")


@translations_cli.command("check")
def translations_check() -> None:
    """Everything to fix before release: out-of-date template, missing, empty or fuzzy
    translations, placeholders or HTML tags that differ, missing plural forms."""
    problems = catalogs.check()
    for problem in problems:
        click.echo(str(problem))
    for locale, (done, total) in catalogs.in_progress().items():
        click.echo(f"{locale}: in progress, {done} of {total} messages translated (not switched on)")
    if problems:
        click.echo("Summary by kind:", err=True)
        for line in catalogs.summary(problems):
            click.echo(f"  {line}", err=True)
        click.echo(f"{len(problems)} problem(s).", err=True)
        raise SystemExit(1)
    click.echo("All catalogs are complete and up to date.")
@click.group("mail", cls=AppGroup)
def mail_cli() -> None:
    """Billing email: deliver the outbox."""


@mail_cli.command("send")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Send at most this many messages in this run.")
def mail_send(limit: int) -> None:
    """Deliver pending email (MAIL_BACKEND: smtp, or .eml files in development).
    Safe to run from cron on several machines at once; exits with status 1 when the
    mail server could not be reached (the messages wait for the next run)."""
    sender = outbox_sender(current_app._get_current_object())
    report = sender.deliver(limit=limit)
    left = due_now(sender.session, sender.clock.now())
    sender.session.commit()
    click.echo(f"{report.sent} sent, {report.failed} failed, {report.retry_later} to retry later, "
               f"{report.outcome_unknown} with unknown outcome, {left} still due")
    if report.server_unavailable:
        click.echo(f"Mail server unavailable: {report.server_unavailable}", err=True)
        raise SystemExit(1)


@mail_cli.command("status")
def mail_status() -> None:
    """How many messages are pending, sending, sent and failed; the failed ones."""


    counts = counts_by_status(db.session())
    click.echo(", ".join(f"{counts.get(str(s), 0)} {s}" for s in OutboxStatus))
    failed = db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
                                .order_by(OutboxMessage.id.desc()).limit(20)).all()
    for message in failed:
        click.echo(f"  #{message.id} {message.template} to {message.to_address} "
                   f"(Message-ID key {message.message_key}): {message.last_error}")


@mail_cli.command("requeue")
@click.argument("message_ids", nargs=-1, type=int, required=True)
def mail_requeue(message_ids: tuple[int, ...]) -> None:
    """Send failed messages again, with the same Message-ID (e.g. after checking an
    "outcome unknown" in the mail server's log)."""
    changed = requeue(db.session(), clock(), list(message_ids))
    click.echo(f"{changed} message(s) queued again.")
