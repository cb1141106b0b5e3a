"""Account settings and help: billing notification email (R11), support requests
(R13), dismissing notices (R01, B3)."""
from __future__ import annotations

from flask import flash, request
from flask_babel import lazy_gettext as _l

from portal.billing import access, accounts
from portal.billing.access import Action
from portal.errors import InvalidInput, NotFound
from portal.forms import NotificationEmailForm, SupportRequestForm
from portal.web.common import MAX_ID, account_for, see_other, signed_in_blueprint, user
from portal.services import billing
from portal.wording import SUBSCRIPTION_STATUS
from portal.web.rendering import render

bp = signed_in_blueprint("account")


@bp.route("/accounts/<int:account_id>/notifications", methods=["GET", "POST"])
def notifications(account_id: int):
    b, me = billing(), user()
    account = account_for(account_id)
    allowed = access.decide(b.session, me, account, Action.MANAGE_NOTIFICATIONS)
    # Prefilled when shown; a POST counts only what it sends (no address: an error).
    form = NotificationEmailForm(data=None if request.method == "POST" else {"email": account.notification_email})
    if request.method == "POST" and not allowed:  # a forced POST: refused whatever it holds
        accounts.require_allowed(b, me, account.id, Action.MANAGE_NOTIFICATIONS)
    if form.validate_on_submit():
        try:
            accounts.change_notification_email(b, me, account.id, form.email.data)
        except InvalidInput:
            form.email.errors.append(_l("Enter an email address in the correct format, like name@example.com"))
        else:
            flash(_l("The email address for billing notifications has been changed."), "success")
            return see_other("account.notifications", account_id=account.id)
    status = 422 if form.errors else 200
    return render("account/notifications.html", status=status, account=account, form=form, allowed=allowed)


@bp.route("/accounts/<int:account_id>/support", methods=["GET", "POST"])
def support(account_id: int):
    b, me = billing(), user()
    account = account_for(account_id)
    form = SupportRequestForm()
    form.subscription.choices = [("", str(_l("No particular subscription")))] + [
        (str(s.id), f"{s.name} ({SUBSCRIPTION_STATUS[s.status]})") for s in account.subscriptions]
    if request.method == "GET" and request.args.get("subscription"):
        form.subscription.data = request.args["subscription"]
    if form.validate_on_submit():
        chosen = int(form.subscription.data) if form.subscription.data else None
        try:
            accounts.open_support_request(b, me, account.id, chosen, form.subject.data, form.body.data)
        except InvalidInput as invalid:
            getattr(form, invalid.field).errors.append(_l("Check this field"))
        else:
            flash(_l("Your support request has been received. We will answer by email."), "success")
            return see_other("account.support", account_id=account.id)
    status = 422 if form.errors else 200
    return render("account/support.html", status=status, account=account, form=form,
                  requests=accounts.support_requests_of(b, me, account.id))


@bp.post("/accounts/<int:account_id>/notices/<int:notice_id>/dismiss")
def dismiss_notice(account_id: int, notice_id: int):
    accounts.dismiss_notice(billing(), user(), account_id, notice_id)
    return see_other("overview.show", account_id=account_id)


@bp.get("/accounts/<int:account_id>/audit")
def audit_log(account_id: int):
    """Who did what, when — for the account administrator / profile owner."""
    raw = request.args.get("before")
    if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID):
        raise NotFound("page")
    b, me = billing(), user()
    page = accounts.audit_log(b, me, account_id, int(raw) if raw is not None else None)
    return render("account/audit.html", account=account_for(account_id), page=page)
