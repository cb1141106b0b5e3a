"""Issue 31: the Access page (Åtkomst) per account and per billing profile — who has
which role, invitations — and accepting an invitation. The rules are in
portal/billing/accounts/people.py; every change asks for a recent second factor first
(security.step_up_required)."""
from __future__ import annotations

from flask import current_app, flash, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from portal import wording
from portal.billing.accounts import access, people
from portal.errors import InvalidInput, InvitationInvalid, NotAuthorized, NotFound
from portal.forms import AcceptInvitationForm, InviteForm
from portal.i18n import LANGUAGE_NAMES
from portal.models import AccountKind
from portal.services import billing
from portal.web.common import lang_blueprint, see_other, user
from portal.web.rendering import render
from portal.web.security import step_up_required

bp = lang_blueprint("people")


@bp.get("/accounts/<int:account_id>/access")
@login_required
def index(account_id: int):
    """The whole account's people; a customer agreement's profile owner (who manages
    no more than their profiles) is taken to their first profile's page."""
    b, me = billing(), user()
    account = access.get_account(b.session, me, account_id)
    scopes = people.managed_scopes(b.session, me, account)
    if account.kind == AccountKind.CUSTOMER_AGREEMENT and scopes and None not in scopes:
        return see_other("people.profile", account_id=account.id, profile_id=scopes[0])
    return _page(b, me, account_id, None)


@bp.get("/accounts/<int:account_id>/profiles/<int:profile_id>/access")
@login_required
def profile(account_id: int, profile_id: int):
    b, me = billing(), user()
    return _page(b, me, account_id, profile_id)


def _page(b, me, account_id: int, profile_id: int | None, *, form: InviteForm | None = None,
          refusal: str | None = None, status: int = 200):
    page = people.access_page(b, me, account_id, profile_id)
    form = form or InviteForm(formdata=None, data={"scope": "" if profile_id is None else str(profile_id)})
    _choices(form, page)
    return render("people/access.html", status=status, account=page.account, page=page, form=form,
                  refusal=refusal, now=b.clock.now(), role_names=wording.ROLE)


def _choices(form: InviteForm, page) -> None:
    form.role.choices = [(str(role), str(wording.ROLE[role])) for role in page.grantable]
    form.scope.choices = [("" if scope.id is None else str(scope.id),
                           scope.name or str(_l("The whole billing account"))) for scope in page.scopes]
    form.locale.choices = [(code, LANGUAGE_NAMES[code]) for code in people.LANGUAGES]


def _back(account_id: int):
    """Back to the page the form was on (its profile, or the account's)."""
    raw = request.form.get("page_profile", "")
    if raw.isascii() and raw.isdigit() and 0 < len(raw) < 11:
        return see_other("people.profile", account_id=account_id, profile_id=int(raw))
    return see_other("people.index", account_id=account_id)


def _page_profile() -> int | None:
    raw = request.form.get("page_profile", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 11 else None


def _refused(b, me, account_id: int, refused: NotAuthorized, form: InviteForm | None = None):
    """A refusal of the rules, said on the page itself (403), in the page's language."""
    reason = str(wording.REFUSAL.get(refused.reason, wording.REFUSAL["forbidden"]))
    return _page(b, me, account_id, _page_scope(b, me, account_id), form=form, refusal=reason, status=403)


def _page_scope(b, me, account_id: int) -> int | None:
    """The profile of the page the form was on; without one, a profile owner's own
    profile (the account's page is not theirs)."""
    profile_id = _page_profile()
    if profile_id is None:
        scopes = people.managed_scopes(b.session, me, access.get_account(b.session, me, account_id))
        profile_id = scopes[0] if scopes and None not in scopes else None
    return profile_id


@bp.post("/accounts/<int:account_id>/access/invite")
@login_required
@step_up_required
def invite(account_id: int):
    b, me = billing(), user()
    page = people.access_page(b, me, account_id, _page_scope(b, me, account_id))
    form = InviteForm()
    _choices(form, page)
    # The page offers only the person's own scopes; any other scope of the account (a
    # forced form) is the rules' to refuse, with their reason on the page (beyond_own_scope),
    # not the form's "one of the options". A value naming no scope of the account stays the
    # form's. _page sets the offered choices again for the page shown next.
    form.scope.choices = [("", "")] + [(str(p.id), p.name) for p in page.account.profiles]
    if form.validate_on_submit():
        scope = int(form.scope.data) if form.scope.data else None
        try:
            people.invite(b, me, account_id, scope, form.email.data, form.role.data, form.locale.data,
                          current_app.secret_key)
        except InvalidInput:
            form.email.errors.append(_l("Enter an email address in the correct format, like name@example.com"))
        except NotAuthorized as refused:
            return _refused(b, me, account_id, refused, form)
        else:
            flash(_l("The invitation has been sent to %(email)s. The link works for 7 days.",
                     email=form.email.data.strip()), "success")
            return _back(account_id)
    return _page(b, me, account_id, page.profile and page.profile.id, form=form, status=422)


@bp.post("/accounts/<int:account_id>/access/roles/<int:assignment_id>")
@login_required
@step_up_required
def change(account_id: int, assignment_id: int):
    b, me = billing(), user()
    try:
        people.change_role(b, me, account_id, assignment_id, request.form.get("role", ""))
    except InvalidInput:
        return _refused(b, me, account_id, NotAuthorized("forbidden"))
    except NotAuthorized as refused:
        return _refused(b, me, account_id, refused)
    flash(_l("The role has been changed. The person and the owners have been told by email."), "success")
    return _back(account_id)


@bp.post("/accounts/<int:account_id>/access/roles/<int:assignment_id>/remove")
@login_required
@step_up_required
def remove(account_id: int, assignment_id: int):
    b, me = billing(), user()
    try:
        people.remove_role(b, me, account_id, assignment_id)
    except NotAuthorized as refused:
        return _refused(b, me, account_id, refused)
    flash(_l("The role has been removed. The person and the owners have been told by email."), "success")
    return _back(account_id)


@bp.post("/accounts/<int:account_id>/access/invitations/<int:invitation_id>/resend")
@login_required
@step_up_required
def resend(account_id: int, invitation_id: int):
    b, me = billing(), user()
    try:
        invitation, _token = people.resend_invitation(b, me, account_id, invitation_id, current_app.secret_key)
    except NotAuthorized as refused:
        return _refused(b, me, account_id, refused)
    flash(_l("The invitation has been sent to %(email)s again, with a new link. The old link no longer works.",
             email=invitation.email), "success")
    return _back(account_id)


@bp.post("/accounts/<int:account_id>/access/invitations/<int:invitation_id>/withdraw")
@login_required
@step_up_required
def withdraw(account_id: int, invitation_id: int):
    b, me = billing(), user()
    try:
        invitation = people.withdraw_invitation(b, me, account_id, invitation_id)
    except NotAuthorized as refused:
        return _refused(b, me, account_id, refused)
    flash(_l("The invitation of %(email)s has been withdrawn: its link no longer works.", email=invitation.email),
          "success")
    return _back(account_id)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept(token: str):
    """The link in the invitation email: a new person chooses a name and password; a
    person who already has a sign-in accepts signed in as themselves."""
    b = billing()
    try:
        invitation = people.invitation_for(b, token)
    except InvitationInvalid as invalid:
        return _invalid(invalid.reason)
    existing = people.existing_person(b, invitation)
    me = user() if current_user.is_authenticated else None
    form = AcceptInvitationForm()
    if request.method == "POST" and existing is not None:
        if me is None or me.id != existing.id:
            raise NotFound("invitation")  # a forced POST: the page offered no button
        try:
            people.accept_as(b, me, token)
        except InvitationInvalid as invalid:
            return _invalid(invalid.reason)
        flash(_l("You have accepted the invitation."), "success")
        return see_other("overview.show", account_id=invitation.account_id)
    if existing is None and form.validate_on_submit():  # the password rule: forms._password_rule
        try:
            people.accept_as_new(b, token, form.name.data, form.password.data,
                                 current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))
        except InvitationInvalid as invalid:
            return _invalid(invalid.reason)
        except InvalidInput:
            form.name.errors.append(_l("Enter your name"))
        else:
            flash(_l("Your sign-in is ready. Sign in with %(email)s and the password you chose.",
                     email=invitation.email), "success")
            return see_other("auth.sign_in")
    return render("people/accept.html", status=422 if form.errors else 200, invitation=invitation,
                  existing=existing, me=me, form=form, role_names=wording.ROLE, invalid=None)


def _invalid(reason: str):
    return render("people/accept.html", status=404 if reason == "unknown" else 410, invitation=None,
                  invalid=wording.INVITATION_INVALID.get(reason, wording.INVITATION_INVALID["unknown"]), form=None)

