"""flask users: people, their roles and their sign-in (issue 31) — the provider onboards
a customer without the demo. The same services as the Access and sign-in pages, audited
with no person as actor (the provider); the owner rules hold here too."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from portal.billing.accounts import people, second_factor, sign_in_links
from portal.errors import InvalidInput, NotAuthorized, NotFound
from portal.services import billing


@click.group("users", cls=AppGroup)
def users_cli() -> None:
    """People: their roles and sign-in (issue 31)."""


ROLE_NAMES = sorted(str(role) for roles in people.ROLES.values() for role in roles)


def _refused(exc: Exception) -> click.ClickException:
    if isinstance(exc, NotAuthorized):
        return click.ClickException(f"refused: {exc.reason}")
    if isinstance(exc, InvalidInput):
        return click.ClickException(f"invalid {exc.field}")
    return click.ClickException(f"not found: {exc}")


@users_cli.command("invite")
@click.argument("email")
@click.option("--account", "account_id", type=int, required=True, help="The billing account's id.")
@click.option("--profile", "profile_id", type=int, default=None, help="A billing profile's id (else the whole account).")
@click.option("--role", type=click.Choice(ROLE_NAMES), required=True)
@click.option("--lang", type=click.Choice(people.LANGUAGES), default="sv", show_default=True,
              help="The language of the invitation email.")
def users_invite(email: str, account_id: int, profile_id: int | None, role: str, lang: str) -> None:
    """Invite EMAIL to ROLE; the email (with a link valid 7 days) is queued for `flask mail send`."""
    try:
        invitation, _token = people.invite(billing(), None, account_id, profile_id, email, role, lang,
                                           current_app.secret_key)
    except (InvalidInput, NotAuthorized, NotFound) as exc:
        raise _refused(exc) from None
    click.echo(f"Invited {invitation.email} as {role} (invitation {invitation.id}, link valid until "
               f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC).")


@users_cli.command("list")
@click.option("--account", "account_id", type=int, default=None, help="Only this billing account.")
def users_list(account_id: int | None) -> None:
    """Every person's roles: account, scope, role, since, granted by."""
    for a in people.people(billing(), account_id):
        scope = f"profile {a.billing_profile_id}" if a.billing_profile_id else "whole account"
        since = f"{a.granted_at:%Y-%m-%d}" if a.granted_at else "-"
        by = a.granted_by.email if a.granted_by else ("provider" if a.granted_at else "-")
        click.echo(f"{a.user.email}\t{a.user.name}\taccount {a.account_id}\t{scope}\t{a.role}\t{since}\t{by}")


@users_cli.command("remove-role")
@click.argument("email")
@click.option("--account", "account_id", type=int, required=True)
@click.option("--profile", "profile_id", type=int, default=None)
@click.option("--role", type=click.Choice(ROLE_NAMES), required=True)
def users_remove_role(email: str, account_id: int, profile_id: int | None, role: str) -> None:
    """Take ROLE away from EMAIL (never the last owner's)."""
    b = billing()
    try:
        assignment = people.find_assignment(b, email, account_id, profile_id, role)
        people.remove_role(b, None, account_id, assignment.id)
    except (InvalidInput, NotAuthorized, NotFound) as exc:
        raise _refused(exc) from None
    click.echo(f"Removed {role} from {email.strip()}.")


@users_cli.command("reset-mfa")
@click.argument("email")
def users_reset_mfa(email: str) -> None:
    """Turn off EMAIL's two-step verification (a lost phone and recovery codes): key,
    recovery codes and remembered browsers gone; audited. Someone who must have it
    sets it up again at the next sign-in."""
    b = billing()
    person = sign_in_links.user_by_email(b.session, email)
    if person is None:
        raise click.ClickException(f"No one signs in with {email}.")
    second_factor.reset(b.session, b.clock, person, actor=None, how="provider")
    click.echo(f"Two-step verification of {person.email} is reset; they set it up again at the next sign-in.")
