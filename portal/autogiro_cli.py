"""flask commands of Autogiro (issue 34): `flask autogiro export DIR` writes the request
file for Bankgirot, `flask autogiro import FILE` applies what Bankgirot answers.
Registered by portal/cli.py; an edge like it."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from portal.billing.bank import autogiro
from portal.billing.bank.autogiro_files import AutogiroRejected
from portal.services import billing


def payee() -> autogiro.Payee:
    return autogiro.Payee(current_app.config["REMITTANCE_BANKGIRO"], current_app.config["AUTOGIRO_CUSTOMER_NUMBER"])


@click.group("autogiro", cls=AppGroup)
def autogiro_cli() -> None:
    """Autogiro: files to and from Bankgirot (docs/autogiro.md)."""


@autogiro_cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_command(directory: Path) -> None:
    """Write today's file for Bankgirot in DIRECTORY: new and cancelled mandates, and a
    payment order for each invoice of an active mandate due by the next banking day.
    Run it once a banking day; run again, it orders nothing twice."""
    done = autogiro.export(billing(), payee(), directory)
    if done.path is None:
        click.echo(f"Nothing to send to Bankgirot today ({done.withdrawn} orders withdrawn)")
        return
    click.echo(f"Wrote {done.path}: {done.additions} new mandates, {done.cancellations} cancelled, "
               f"{done.orders} payment orders ({done.withdrawn} withdrawn)")


@autogiro_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Apply a file from Bankgirot: mandate answers or payment results. The file is
    checked whole first; one with a bad record is refused and nothing is applied.
    Importing a file again changes nothing."""
    def lines():
        with path.open("rb") as handle:
            yield from handle

    try:
        done = autogiro.import_file(billing(), payee(), lines)
    except AutogiroRejected as refused:
        raise click.ClickException(f"{path.name} refused, nothing applied: {refused}") from None
    click.echo(f"{path.name}: {done.records} records; {done.applied} applied, {done.duplicates} already imported"
               + "".join(f"; {n} {what}" for what, n in sorted(done.outcomes.items())))
