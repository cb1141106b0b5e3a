"""The emails of people and access (issue 31): an invitation, a role changed, a
password reset and a sign-in unlock — in the current locale, each sentence a whole
translatable string (as portal/mail/messages.py, which lists them in COMPOSERS)."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.mail.content import Content, Payload, facts as _facts
from portal.models import Role
from portal.wording import ROLE



def _role(p: Payload, key: str = "role") -> str:
    try:
        return str(ROLE[Role(p.text(key))])
    except ValueError:
        return ""


def _where(p: Payload) -> str:
    if p.text("scope"):
        return _("billing profile %(profile)s of %(account)s", profile=p.text("scope"), account=p.text("account_name"))
    return _("the billing account %(account)s", account=p.text("account_name"))


def invitation(p: Payload, provider: str) -> Content:  # issue 31
    inviter = p.text("inviter") or provider
    return Content(
        subject=_("You are invited to %(account)s at %(provider)s", account=p.text("account_name"), provider=provider),
        heading=_("You are invited to %(account)s", account=p.text("account_name")),
        paragraphs=[_("%(inviter)s invites you to be %(role)s on %(where)s in the %(provider)s billing portal.",
                      inviter=inviter, role=_role(p), where=_where(p), provider=provider),
                    _("Follow the link to accept. If you are new to the portal, you choose your name and "
                      "password there; if you already have a sign-in, you sign in with it first."),
                    _("The link works once and until %(date)s. If you were not expecting this invitation, "
                      "you can ignore this email.", date=p.day("expires_on"))],
        facts=_facts((_("Role"), _role(p)), (_("Invited by"), inviter)),
        footer=_("You receive this email because someone at %(account)s invited %(address)s to its billing "
                 "account at %(provider)s.", account=p.text("account_name"), address=p.to_address,
                 provider=provider))


def role_changed(p: Payload, provider: str) -> Content:  # issue 31: told to the person and the owners
    person, change = p.text("person"), p.text("change")
    by = p.text("actor") or provider
    if change == "removed":
        said = _("%(person)s is no longer %(role)s on %(where)s. Removed by %(by)s.",
                 person=person, role=_role(p), where=_where(p), by=by)
    elif change == "changed":
        said = _("%(person)s is now %(role)s instead of %(before)s on %(where)s. Changed by %(by)s.",
                 person=person, role=_role(p), before=_role(p, "from_role"), where=_where(p), by=by)
    else:
        said = _("%(person)s is now %(role)s on %(where)s. Given by %(by)s.",
                 person=person, role=_role(p), where=_where(p), by=by)
    return Content(
        subject=_("A role has changed at %(account)s", account=p.text("account_name")),
        heading=_("A role has changed"),
        paragraphs=[said, _("If you did not expect this change, contact an owner of the billing account or "
                            "%(provider)s.", provider=provider)],
        facts=_facts((_("Person"), _("%(name)s (%(email)s)", name=person, email=p.text("person_email"))),
                     (_("Role"), _role(p))),
        footer=_("You receive this email because the change concerns you or a billing account you own at "
                 "%(provider)s.", provider=provider))


def _link_footer(provider: str) -> str:
    return _("You receive this email because someone asked for it on the sign-in page of the %(provider)s "
             "billing portal. If it was not you, you can ignore it: nothing changes until the link is used.",
             provider=provider)


def password_reset(p: Payload, provider: str) -> Content:  # issue 31
    return Content(
        subject=_("Reset your password"),
        heading=_("Reset your password"),
        paragraphs=[_("Someone, hopefully you, asked to reset the password of %(email)s at %(provider)s. "
                      "Follow the link to choose a new one. It works once, for an hour.",
                      email=p.to_address, provider=provider),
                    _("When the new password is saved, you are signed out everywhere. Two-step verification, "
                      "if you have it, stays on.")],
        footer=_link_footer(provider))


def password_reset_unknown(p: Payload, provider: str) -> Content:  # issue 31: the same answer
    return Content(
        subject=_("Reset your password"),
        heading=_("Reset your password"),
        paragraphs=[_("Someone, hopefully you, asked to reset the password of %(email)s at %(provider)s, "
                      "but no account there uses this address.", email=p.to_address, provider=provider),
                    _("If you have an account, you may sign in with another address: ask for the link again "
                      "with that one.")],
        footer=_link_footer(provider))


def sign_in_unlock(p: Payload, provider: str) -> Content:  # issue 31: lock-out without lock-out
    return Content(
        subject=_("Sign in again on your browser"),
        heading=_("Sign in again on your browser"),
        paragraphs=[_("Signing in to %(email)s at %(provider)s was paused after several unsuccessful attempts, "
                      "perhaps by someone else. Follow the link in the browser you use, and it may sign in with "
                      "your password again. The link works once, for an hour.",
                      email=p.to_address, provider=provider),
                    _("If you did not try to sign in, someone may be guessing your password. It is still safe "
                      "as long as the attempts fail; to be sure, reset your password and turn on two-step "
                      "verification.")],
        footer=_link_footer(provider))
