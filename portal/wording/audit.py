"""The audit log: who acted and what happened, as one sentence in the page's
language for every action notify.AUDIT_ACTIONS knows (issue 35 a11y-1)."""
from __future__ import annotations

from flask_babel import gettext, lazy_gettext as _l, ngettext

from portal.i18n import day_of, money, some_names
from portal.models import Role
from portal.money import Money
from portal.wording.payments import DECLINE_REASON, method_from_summary
from portal.wording.statuses import ROLE
from portal.wording.subscriptions import SUBSCRIPTION_ACTIONS, subscription_audit_text

# The audit log: what each event's action means, per kind of attempt refused.
REFUSED_ACTION = {
    "settle": _l("Settle balance"),
    "pay_invoices": _l("Pay invoices"),
    "manage_notifications": _l("Change the billing settings"),
    "view_audit": _l("See the audit log"),
    "manage_billing_details": _l("Change the billing details"),
    "manage_payment_methods": _l("Change the payment methods"),
    "manage_roles": _l("Change who has access"),
} | SUBSCRIPTION_ACTIONS


def _scope(details: dict) -> str:
    """Where a role counts, for a sentence: a profile's name or the whole account."""
    if details.get("scope"):
        return gettext("billing profile %(profile)s", profile=details["scope"])
    return gettext("the whole billing account")


def _role_name(code) -> str:
    try:
        return str(ROLE[Role(code)])
    except ValueError:
        return str(code or "")


def _subscriptions(details: dict) -> str:
    """An event's subscriptions: the first few names and how many more (issue 28: the
    event keeps no more; an older event, every name)."""
    names, count = details.get("subscriptions") or [], details.get("subscription_count")
    if isinstance(count, int) and count > len(names):
        return some_names(names, count)  # "A, B, C and 99,997 more"
    return some_names(names)  # the language's list: "A, B och C" (issue 35 a11y-8)


def audit_actor(event) -> str:
    """Who: a person, or the billing cycle when nobody was acting."""
    if event.actor is None and (event.details or {}).get("by_provider"):  # `flask users` (issue 31)
        return gettext("The provider (command line)")
    if event.actor is None:
        return gettext("Automatic (billing cycle)")
    return gettext("%(name)s (%(email)s)", name=event.actor.name, email=event.actor.email)


def audit_text(event) -> str:
    """What happened, as one sentence in the page's language (details never hold card
    numbers or security codes: only brand and last four digits)."""
    d = event.details or {}
    amount = money(Money(d["amount_minor"], d.get("currency", "SEK"))) if "amount_minor" in d else ""
    method = method_from_summary(d.get("method"))
    reason = str(DECLINE_REASON.get(d.get("reason"), DECLINE_REASON["generic_decline"]))
    match event.action:
        case "payment.succeeded" if d.get("purpose") == "auto_charge":
            return gettext("%(amount)s was charged automatically to %(method)s.", amount=amount, method=method)
        case "payment.succeeded" if d.get("invoices"):
            invoices = some_names(d["invoices"])
            return ngettext("%(amount)s was paid with %(method)s for invoice %(invoices)s.",
                            "%(amount)s was paid with %(method)s for invoices %(invoices)s.",
                            len(d["invoices"]), amount=amount, method=method, invoices=invoices)
        case "payment.succeeded":
            return gettext("%(amount)s was paid with %(method)s to settle the balance of %(subscriptions)s.",
                           amount=amount, method=method, subscriptions=_subscriptions(d))
        case "payment.declined":
            return gettext("A payment of %(amount)s with %(method)s was declined. %(reason)s",
                           amount=amount, method=method, reason=reason)
        case "payment.unconfirmed":
            return gettext("A payment of %(amount)s with %(method)s could not be confirmed: the payment "
                           "service did not answer. It is checked before anything else is charged.",
                           amount=amount, method=method)
        case "payment.gateway_unavailable":
            return gettext("A payment of %(amount)s with %(method)s could not be made: the payment "
                           "service could not be reached. Nothing was charged.", amount=amount, method=method)
        case "payment.authentication_requested":
            return gettext("The bank asked the cardholder to confirm a payment of %(amount)s with %(method)s.",
                           amount=amount, method=method)
        case "payment.form_reused":
            return gettext("A payment of %(amount)s with %(method)s was not made: the payment form had already been "
                           "used for another payment. Nothing was charged.", amount=amount, method=method)
        case "credit.added":
            return gettext("%(amount)s was added to the account's credit balance.", amount=amount)
        case "credit.refunded" if d.get("how") == "bank":
            return gettext("%(amount)s of the account's credit balance was refunded by bank transfer.", amount=amount)
        case "credit.refunded":
            return gettext("%(amount)s of the account's credit balance was refunded to %(method)s.",
                           amount=amount, method=method)
        case "payment_method.switched":
            return gettext("%(method)s replaced %(previous)s as the payment method of %(subscriptions)s.",
                           method=method, previous=method_from_summary(d.get("from_method")),
                           subscriptions=_subscriptions(d))
        case "payment_method.default_changed" if d.get("profile"):
            return gettext("%(method)s became the default payment method of %(profile)s.",
                           method=method, profile=d["profile"])
        case "payment_method.default_changed":
            return gettext("%(method)s became the default payment method of the billing profile.",
                           method=method)
        case "payment_method.added":
            return gettext("%(method)s was added. Nothing was charged.", method=method)
        case "payment_method.declined":
            return gettext("%(method)s was not added: the bank did not accept it. %(reason)s",
                           method=method, reason=reason)
        case "payment_method.removed":
            return gettext("%(method)s was removed.", method=method)
        case "payment_method.updated":
            return gettext("%(method)s was updated: it now expires on %(date)s. Nothing was charged.", method=method,
                           date=day_of(d, "expires_on"))
        case "payment_method.update_declined":
            return gettext("%(method)s was not updated: the bank did not accept it. %(reason)s",
                           method=method, reason=reason)
        case "payment_method.expiry_reminded":
            return gettext("A reminder was sent that %(method)s expires on %(date)s.", method=method,
                           date=day_of(d, "expires_on"))
        case "subscriptions.moved":
            return gettext("%(subscriptions)s moved to %(method)s.", method=method,
                           subscriptions=some_names(d.get("subscriptions", [])))
        case "settings.changed":
            return gettext("Personal settings were changed.")
        case "spending_alert.set" if d.get("subscription"):
            return gettext("A spending alert for %(subscription)s was set at %(amount)s a month.",
                           subscription=d["subscription"], amount=amount)
        case "spending_alert.set":
            return gettext("A spending alert was set at %(amount)s a month.", amount=amount)
        case "spending_alert.removed" if d.get("subscription"):
            return gettext("The spending alert for %(subscription)s of %(amount)s a month was removed.",
                           subscription=d["subscription"], amount=amount)
        case "spending_alert.removed":
            return gettext("The spending alert of %(amount)s a month was removed.", amount=amount)
        case "spending_alert.reached" if d.get("subscription"):
            return gettext("This month's costs of %(subscription)s reached %(percent)s %% of its spending alert's "
                           "%(amount)s.", subscription=d["subscription"], percent=d.get("percent", ""),
                           amount=amount)
        case "spending_alert.reached":
            return gettext("This month's costs reached %(percent)s %% of the spending alert's %(amount)s.",
                           percent=d.get("percent", ""), amount=amount)
        case "payment_request.created":
            return gettext("One OCR reference, %(ocr)s, was made for invoices %(invoices)s: %(amount)s.",
                           ocr=d.get("reference", ""), invoices=", ".join(d.get("invoices", [])), amount=amount)
        case "password.reset":
            return gettext("The password was changed with a reset link sent by email.")
        case "second_factor.enabled":
            return gettext("Two-step verification was turned on.")
        case "second_factor.reset":
            return gettext("Two-step verification was turned off.")
        case "api.request":
            return gettext("The provider's API token %(token)s sent %(method)s %(path)s (answer %(status)s).",
                           token=d.get("token", ""), method=d.get("method", ""), path=d.get("path", ""),
                           status=d.get("status", ""))
        case "notification_email.changed":
            return gettext("The email address for billing notifications was changed from %(old)s to %(new)s.",
                           old=d.get("old", ""), new=d.get("new", ""))
        case "billing_details.changed":
            return gettext("The billing details of %(company)s were changed.", company=d.get("company_name", ""))
        case "invitation.sent":
            return gettext("%(email)s was invited to be %(role)s on %(scope)s.", email=d.get("email", ""),
                           role=_role_name(d.get("role")), scope=_scope(d))
        case "invitation.withdrawn":
            return gettext("The invitation of %(email)s to be %(role)s was withdrawn.", email=d.get("email", ""),
                           role=_role_name(d.get("role")))
        case "invitation.accepted" | "role.granted":
            return gettext("%(person)s (%(email)s) became %(role)s on %(scope)s.", person=d.get("person", ""),
                           email=d.get("person_email", ""), role=_role_name(d.get("role")), scope=_scope(d))
        case "role.changed":
            return gettext("The role of %(person)s (%(email)s) on %(scope)s was changed from %(before)s to "
                           "%(role)s.", person=d.get("person", ""), email=d.get("person_email", ""),
                           scope=_scope(d), before=_role_name(d.get("from_role")), role=_role_name(d.get("role")))
        case "role.removed":
            return gettext("%(person)s (%(email)s) is no longer %(role)s on %(scope)s.", person=d.get("person", ""),
                           email=d.get("person_email", ""), role=_role_name(d.get("role")), scope=_scope(d))
        case "access.refused":
            return _refusal_text(d.get("reason"), str(REFUSED_ACTION.get(d.get("attempted"), d.get("attempted", ""))))
        case "charge.failed":
            return gettext("The charge of %(amount)s for %(subscription)s did not go through. %(reason)s",
                           amount=amount, subscription=d.get("subscription", ""), reason=reason)
        case "charge.retry_failed" if d.get("next_retry_on"):
            return gettext("Another payment attempt for %(subscription)s did not go through. %(reason)s "
                           "The next attempt is on %(date)s.", subscription=d.get("subscription", ""),
                           reason=reason, date=day_of(d, "next_retry_on"))
        case "charge.retry_failed":
            return gettext("Another payment attempt for %(subscription)s did not go through. %(reason)s",
                           subscription=d.get("subscription", ""), reason=reason)
        case "subscription.disable_warning":
            return gettext("A warning was sent that %(subscription)s will be disabled on %(date)s.",
                           subscription=d.get("subscription", ""),
                           date=day_of(d, "disable_on"))
        case "subscription.disabled":
            return gettext("%(subscription)s was disabled. Its data will be deleted on %(date)s.",
                           subscription=d.get("subscription", ""),
                           date=day_of(d, "delete_on"))
        case "subscription.deleted":
            return gettext("%(subscription)s was deleted.", subscription=d.get("subscription", ""))
    return subscription_audit_text(event.action, d) or gettext("Other event: %(code)s", code=event.action)


def _refusal_text(reason: str | None, action: str) -> str:
    match reason:
        case "not_account_admin":
            return gettext("Refused: %(action)s. Only the account administrator may do this.", action=action)
        case "reader_cannot_pay":
            return gettext("Refused: %(action)s. Readers may not pay invoices.", action=action)
        case "not_owner":
            return gettext("Refused: %(action)s. Only an owner of the billing profile may do this.", action=action)
        case "wrong_account_kind":
            return gettext("Refused: %(action)s. Not available for this kind of billing account.", action=action)
        case "no_role_on_profile":
            return gettext("Refused: %(action)s. No role on this billing profile.", action=action)
        case "last_owner" | "own_last_owner":
            return gettext("Refused: %(action)s. The last owner role cannot be removed.", action=action)
        case "beyond_own_role" | "beyond_own_scope":
            return gettext("Refused: %(action)s. Nobody can give more than they hold.", action=action)
    return gettext("Refused: %(action)s. Not permitted.", action=action)
