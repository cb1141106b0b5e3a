"""Account settings and help: billing notification email (R11), support requests
(R13), dismissing notices (R01, B3)."""
from __future__ import annotations

from flask import flash, request
from flask_babel import lazy_gettext as _l

from portal import wording
from portal.billing.accounts import access, details, overview
from portal.billing.accounts.access import Action
from portal.billing.ids import payment_reference
from portal.errors import InvalidDetails, InvalidInput, NotFound
from portal.i18n import LANGUAGE_NAMES, country_name, zone_choices
from portal.forms import BillingDetailsForm, NotificationEmailForm, PersonalSettingsForm, SupportRequestForm
from portal.models import AccountKind
from portal.web.common import account_for, page_arg, safe_next, see_other, signed_in_blueprint, user
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
        overview.require_allowed(b, me, account.id, Action.MANAGE_NOTIFICATIONS)
    if form.validate_on_submit():
        try:
            overview.change_notification_email(b, me, account.id, form.email.data)
        except InvalidInput:
            form.email.errors.append(_l("Enter an email address in the correct format, like name@example.com"))
        else:
            flash(_l("The email address for billing notifications has been changed."), "success")
            return see_other("account.notifications", account_id=account.id)
    status = 422 if form.errors else 200
    return render("account/notifications.html", status=status, account=account, form=form, allowed=allowed)


@bp.route("/accounts/<int:account_id>/billing-details", methods=["GET", "POST"])
def billing_details(account_id: int):
    """B7: a pay-as-you-go account's billing details; for a customer agreement, those
    of the first billing profile the person has a role on (each has its own)."""
    b, me = billing(), user()
    account = account_for(account_id)
    if account.kind == AccountKind.CUSTOMER_AGREEMENT:
        mine = access.profiles_with_role(b.session, me, account)
        if not mine:
            raise NotFound("billing profile")
        return see_other("account.profile_billing_details", account_id=account.id, profile_id=mine[0])
    return _billing_details(b, me, account_id, None)


@bp.route("/accounts/<int:account_id>/profiles/<int:profile_id>/billing-details", methods=["GET", "POST"])
def profile_billing_details(account_id: int, profile_id: int):
    """B7: a billing profile's details (customer agreement)."""
    return _billing_details(billing(), user(), account_id, profile_id)


def _billing_details(b, me, account_id: int, profile_id: int | None):
    page = details.details_page(b, me, account_id, profile_id)
    form = BillingDetailsForm(data=None if request.method == "POST" else _form_data(page.details, page))
    form.country.choices = _countries()
    form.invoice_language.choices = [(code, LANGUAGE_NAMES[code]) for code in details.LANGUAGES]
    if request.method == "POST" and not page.may_change:  # a forced POST: refused whatever it holds
        overview.require_allowed(b, me, page.account.id, Action.MANAGE_BILLING_DETAILS, profile_id)
    if form.validate_on_submit():
        values = details.DetailsInput(**{name: getattr(form, name).data or "" for name in (
            "company_name", "org_number", "vat_number", "street", "postcode", "city", "country", "reference",
            "invoice_language")}, recipients=(form.recipients.data or "").splitlines())
        try:
            details.change_billing_details(b, me, page.account.id, profile_id, values)
        except InvalidDetails as invalid:
            for name, reason in invalid.problems.items():
                getattr(form, name).errors.append(wording.DETAILS_ERROR.get((name, reason), wording.TOO_LONG))
        else:
            flash(_l("The billing details have been saved. The next invoice will carry them."), "success")
            return see_other(request.endpoint, **request.view_args)
    status = 422 if form.errors else 200
    return render("account/billing_details.html", status=status, account=page.account, page=page, form=form)


def _form_data(saved, page) -> dict:
    if saved is None:  # never given: start from what the portal knows
        return {"company_name": page.account.name, "country": details.HOME, "invoice_language": "sv"}
    return {name: getattr(saved, name) for name in (
        "company_name", "org_number", "vat_number", "street", "postcode", "city", "country", "reference",
        "invoice_language")} | {"recipients": "\n".join(saved.recipients)}


def _countries() -> list[tuple[str, str]]:
    """Each country by its name in the page's language, Sweden first."""
    rest = sorted((c for c in details.COUNTRIES if c != details.HOME), key=country_name)
    return [(code, country_name(code)) for code in (details.HOME, *rest)]


# Links that open a support request already filled in (the person can change it).
SUPPORT_TOPICS = {
    # R15: check/wire transfer needs approval; the Payment methods page links here.
    "pay_by_invoice": (_l("Request to pay by invoice (check/wire transfer)"),
                       _l("We would like to pay our invoices by check/wire transfer instead of by card. "
                          "Please tell us what you need from us to approve it.")),
}


@bp.route("/accounts/<int:account_id>/support", methods=["GET", "POST"])
def support(account_id: int):
    b, me = billing(), user()
    account = account_for(account_id)
    form = SupportRequestForm()
    form.subscription.choices = [("", str(_l("No particular subscription")))] + [
        (str(s.id), f"{s.name} ({SUBSCRIPTION_STATUS[s.status]})") for s in account.subscriptions]
    if request.method == "GET" and request.args.get("subscription"):
        form.subscription.data = request.args["subscription"]
    if request.method == "GET" and request.args.get("topic") in SUPPORT_TOPICS:
        subject, body = SUPPORT_TOPICS[request.args["topic"]]
        form.subject.data, form.body.data = str(subject), str(body)
    if request.method == "GET" and request.args.get("payment"):  # from a receipt (issue 20 item 4, R13)
        reference = _payment_reference(b, me, account.id, request.args["payment"])
        if reference is not None:
            # Translators: the subject of a support request opened from a receipt;
            # %(reference)s is the payment ID shown on the receipt, e.g. "12".
            form.subject.data = str(_l("About payment %(reference)s", reference=reference))
    if form.validate_on_submit():
        chosen = int(form.subscription.data) if form.subscription.data else None
        try:
            overview.open_support_request(b, me, account.id, chosen, form.subject.data, form.body.data)
        except InvalidInput as invalid:
            getattr(form, invalid.field).errors.append(_l("Check this field"))
        else:
            flash(_l("Your support request has been received. We will answer by email."), "success")
            return see_other("account.support", account_id=account.id)
    status = 422 if form.errors else 200
    return render("account/support.html", status=status, account=account, form=form,
                  requests=overview.support_requests_of(b, me, account.id))


def _payment_reference(b, me, account_id: int, raw: str) -> str | None:
    """The ID a person quotes for one of their own receipts; None for anything else."""
    if not (raw.isascii() and raw.isdigit() and len(raw) < 11):
        return None
    try:
        payment = overview.payment_of(b, me, account_id, int(raw))
    except NotFound:
        return None
    return payment_reference(payment.id)


@bp.post("/accounts/<int:account_id>/notices/<int:notice_id>/dismiss")
def dismiss_notice(account_id: int, notice_id: int):
    overview.dismiss_notice(billing(), user(), account_id, notice_id)
    return see_other("overview.show", account_id=account_id)


@bp.get("/accounts/<int:account_id>/audit")
def audit_log(account_id: int):
    """Who did what, when — for the account administrator / profile owner."""
    b, me = billing(), user()
    page = overview.audit_log(b, me, account_id, page_arg())
    return render("account/audit.html", account=account_for(account_id), page=page)


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """B10: Mina inställningar — the person's own language for emails and documents,
    and the time zone the portal shows times in."""
    b, me = billing(), user()
    back = safe_next(request.values.get("next"))
    zone = me.timezone or b.clock.tz.key
    form = PersonalSettingsForm(data=None if request.method == "POST" else {"locale": me.locale, "timezone": zone})
    form.locale.choices = [(code, LANGUAGE_NAMES[code]) for code in details.LANGUAGES]
    form.timezone.choices = zone_choices(zone)
    if form.validate_on_submit():
        overview.change_personal_settings(b, me, form.locale.data, form.timezone.data)
        flash(_l("Your settings have been saved."), "success")
        return see_other("account.settings", **({"next": back} if back else {}))
    return render("account/settings.html", status=422 if form.errors else 200, form=form, back=back)
