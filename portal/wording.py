"""Every word the pages and the emails show for a code of the service layer, in one
place: web/ and mail/ both stand on it, so a status or a decline reason reads the same
in a page, a notice and an email."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from flask_babel import gettext, lazy_gettext as _l, lazy_pgettext, ngettext, pgettext

from portal.i18n import day, money, remembered_text, some_names
from portal.models import AccountKind, InvoiceStatus, Role, SubscriptionStatus
from portal.money import Money

# Statuses carry a context: the same English word may need another Swedish form
# for a subscription (en prenumeration) than for an invoice (en faktura).
SUBSCRIPTION_STATUS = {
    # Translators: status badge of a subscription: it runs and is paid up.
    SubscriptionStatus.ACTIVE: lazy_pgettext("subscription status", "Active"),
    # Translators: status badge of a subscription whose charge failed (förfallen).
    SubscriptionStatus.PAST_DUE: lazy_pgettext("subscription status", "Past due"),
    # Translators: status badge of a subscription whose services were stopped for non-payment.
    SubscriptionStatus.DISABLED: lazy_pgettext("subscription status", "Disabled"),
    # Translators: status badge of a subscription whose data has been deleted.
    SubscriptionStatus.DELETED: lazy_pgettext("subscription status", "Deleted"),
}

INVOICE_STATUS = {
    # Translators: status badge of an invoice that is to be paid, not yet late.
    InvoiceStatus.DUE: lazy_pgettext("invoice status", "Due"),
    # Translators: status badge of an invoice not paid by its due date.
    InvoiceStatus.PAST_DUE: lazy_pgettext("invoice status", "Past due"),
    # Translators: status badge of a paid invoice (Betald).
    InvoiceStatus.PAID: lazy_pgettext("invoice status", "Paid"),
}

ACCOUNT_KIND = {
    AccountKind.PAY_AS_YOU_GO: _l("Pay-as-you-go account"),
    AccountKind.CUSTOMER_AGREEMENT: _l("Customer agreement"),
}

ROLE = {
    Role.ACCOUNT_ADMIN: _l("Account administrator"),
    Role.ACCOUNT_USER: _l("User"),
    Role.OWNER: _l("Owner"),
    Role.CONTRIBUTOR: _l("Contributor"),
    Role.INVOICE_MANAGER: _l("Invoice manager"),
    Role.READER: _l("Reader"),
}

# B2: why an action is not offered.
REFUSAL = {
    "not_account_admin": _l("Only the account administrator can do this. Ask your account "
                            "administrator, or have them give you that role."),
    "reader_cannot_pay": _l("Readers can see invoices but cannot pay them. An owner, contributor "
                            "or invoice manager of the billing profile can pay."),
    "not_owner": _l("Only an owner of the billing profile can do this."),
    "wrong_account_kind": _l("This is not available for this kind of billing account."),
    "no_role_on_profile": _l("You have no role on this billing profile."),
    "forbidden": _l("You do not have permission to do this."),
    "cannot_manage_methods": _l("Only an owner or contributor of the billing profile can change its payment "
                                "methods. Ask one of them, or your account administrator."),
}

# B9: what a payment was for.
PAYMENT_PURPOSE = {
    "settle": _l("Settled balance"),
    "invoice": _l("Invoice payment"),
    "auto_charge": _l("Automatic charge"),
    "transfer": _l("Bank transfer"),
}

# B7: why a billing detail was refused, per field and reason (billing/accounts/details.py).
DETAILS_ERROR = {
    ("company_name", "missing"): _l("Enter the company name"),
    ("street", "missing"): _l("Enter the street address or box"),
    ("postcode", "missing"): _l("Enter the postcode"),
    ("city", "missing"): _l("Enter the city"),
    ("org_number", "missing"): _l("Enter the organisation number, like 556677-8899"),
    ("org_number", "invalid"): _l("Enter a valid Swedish organisation number, like 556677-8899"),
    ("vat_number", "invalid"): _l("Enter a valid EU VAT registration number, like SE556677889901"),
    ("vat_number", "other_country"): _l("The VAT registration number must be from the country of the address"),
    ("country", "unknown"): _l("Choose one of the options in the list"),
    ("recipients", "invalid"): _l("Enter each email address in the correct format, like name@example.com, one per line"),
    ("recipients", "too_many"): _l("Enter at most %(max)s email addresses", max=5),
    ("invoice_language", "unknown"): _l("Choose the invoice language"),
}
TOO_LONG = _l("This is too long")

# R10: what the gateway said, in words the customer can take to the bank.
DECLINE_REASON = {
    "generic_decline": _l("Your bank declined the payment without giving a reason."),
    "insufficient_funds": _l("Your bank says there are not enough funds on the card."),
    "credit_limit_exceeded": _l("Your bank says the payment would exceed the card's credit limit."),
    "international_not_allowed": _l("Your bank says international transactions are not enabled on the card."),
    "recurring_not_enabled": _l("Your bank says recurring payments are not enabled on the card."),
    "expired_card": _l("Your bank says the card has expired."),
    "incorrect_cvc": _l("Your bank says the security code (CVC) is incorrect."),
    "processing_error": _l("The payment could not be processed because of a temporary error. "
                           "Please try again in a few minutes."),
    "authentication_required": _l("Your bank wants you to confirm this payment yourself, so it could not be "
                                  "charged automatically."),
    "authentication_failed": _l("Your bank could not confirm that it was you: the confirmation failed, was "
                                "cancelled or was not finished in time."),
}

# R10, issue 19: what to check with the bank, for the reason given. A reason not listed
# gets every check; an empty list: nothing to ask the bank (DECLINE_NEXT says what to do).
_INTERNATIONAL = _l("international transactions are enabled on the card")
_FUNDS = _l("the card has a high enough credit limit, or enough money in the account, for the payment")
_RECURRING = _l("recurring payments are enabled on the card")
DECLINE_CHECKS = {
    "generic_decline": [_INTERNATIONAL, _FUNDS, _RECURRING],
    "insufficient_funds": [_FUNDS],
    "credit_limit_exceeded": [_FUNDS],
    "international_not_allowed": [_INTERNATIONAL],
    "recurring_not_enabled": [_RECURRING],
    "expired_card": [],
    "incorrect_cvc": [],
    "processing_error": [],
    "authentication_required": [],
    "authentication_failed": [],
}
DECLINE_NEXT = {
    "expired_card": _l("Use another card, or add the renewed card under Payment methods."),
    "incorrect_cvc": _l("Check the three digits on the back of the card and try again, or use another card."),
    "processing_error": _l("Try again in a few minutes, or use another card."),
    "authentication_required": _l("Pay it here: your bank will ask you to confirm the payment."),
    "authentication_failed": _l("Try again and confirm the payment when your bank asks, or use another card."),
}

# R01: why a charge failed — the gateway's reasons, or a transfer that never arrived.
FAILURE_REASON = {
    **DECLINE_REASON,
    "not_received": _l("We have not received the check/wire transfer payment by its due date."),
}
def translated(labels: dict) -> dict:
    """The labels in the page's language, once (a page of 50 rows asks 50 times)."""
    return {code: str(label) for code, label in labels.items()}


CARD_BRAND = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}


def card_name(method) -> str:
    """'Visa ending in 4242' — or 'Check/wire transfer'."""
    if method is None:
        return ""
    # A list names a card on every row: made once per card and language.
    return remembered_text(("card", method.kind, method.brand, method.last4),
                           lambda: _card_name(method.kind, method.brand, method.last4))


def _card_name(kind: str, brand: str | None, last4: str | None) -> str:
    if kind == "check_wire":
        return gettext("Check/wire transfer")
    brand = CARD_BRAND.get(brand or "", pgettext("card brand", "Card"))
    # Translators: a saved card, e.g. "Visa ending in 4242" (the last four digits).
    return gettext("%(brand)s ending in %(last4)s", brand=brand, last4=last4)


# The heading of the page's one banner: how serious it is (colour alone must not say it).
BANNER_LEVEL = {
    # Translators: banner level, the mildest: something to know, nothing to do.
    "info": _l("Information"),
    # Translators: banner level: something needs doing soon (a subscription is past due).
    "warning": _l("Warning"),
    # Translators: banner level, the most serious, above Warning: something must be done now
    # (services have stopped). SPEC: "Åtgärd krävs".
    "error": _l("Action required"),
}


def notice_text(notice) -> str:
    """The in-portal notice (R01) for its kind and payload, in the page's language."""
    p = notice.payload
    amount = money(Money(p["amount_minor"], p["currency"])) if "amount_minor" in p else ""
    match notice.kind:
        case "payment_failed":
            return gettext("The payment for %(subscription)s did not go through, so it is past due. "
                           "Settle the balance before %(date)s to keep it running.",
                           subscription=p.get("subscription", ""),
                           date=day(date.fromisoformat(p["disable_on"])) if p.get("disable_on") else "")
        case "subscription_disable_warning":
            return gettext("Reminder: %(subscription)s is past due and will be disabled on %(date)s "
                           "unless the balance is settled.",
                           subscription=p.get("subscription", ""),
                           date=day(date.fromisoformat(p["disable_on"])) if p.get("disable_on") else "")
        case "subscription_disabled":
            return gettext("%(subscription)s has been disabled. Its data will be deleted on %(date)s.",
                           subscription=p.get("subscription", ""),
                           date=day(date.fromisoformat(p["delete_on"])) if p.get("delete_on") else "")
        case "invoice_ready":
            return gettext("Invoice %(number)s is ready: %(amount)s.", number=p.get("number", ""), amount=amount)
        case "invoice_past_due":
            return gettext("Invoice %(number)s is past due: %(amount)s.", number=p.get("number", ""), amount=amount)
        case "auto_charge_failed":
            return gettext("The automatic charge for invoice %(number)s did not go through. Pay it online "
                           "with another card.", number=p.get("number", ""))
        case "card_expiring":
            return gettext("%(card)s expires on %(date)s. Add a new card and choose it for what the old one pays.",
                           card=_method_name(p.get("method")),
                           date=day(date.fromisoformat(p["expires_on"])) if p.get("expires_on") else "")
    return gettext("There is news about your billing account.")


# The audit log: what each event's action means, per kind of attempt refused.
REFUSED_ACTION = {
    "settle": _l("Settle balance"),
    "pay_invoices": _l("Pay invoices"),
    "manage_notifications": _l("Change the billing settings"),
    "view_audit": _l("See the audit log"),
    "manage_billing_details": _l("Change the billing details"),
    "manage_payment_methods": _l("Change the payment methods"),
}


def _method_name(summary) -> str:
    if not summary or "kind" not in summary:
        return ""
    return card_name(SimpleNamespace(kind=summary.get("kind"), brand=summary.get("brand"),
                                     last4=summary.get("last4")))


def _subscriptions(details: dict) -> str:
    """An event's subscriptions: the first few names and how many more (issue 28: the
    event keeps no more; an older event, every name)."""
    names, count = details.get("subscriptions") or [], details.get("subscription_count")
    if isinstance(count, int) and count > len(names):
        return some_names(names, count)  # "A, B, C and 99,997 more"
    return some_names(names)  # the language's list: "A, B och C" (issue 35 a11y-8)


def audit_actor(event) -> str:
    """Who: a person, or the billing cycle when nobody was acting."""
    if event.actor is None:
        return gettext("Automatic (billing cycle)")
    return gettext("%(name)s (%(email)s)", name=event.actor.name, email=event.actor.email)


def audit_text(event) -> str:
    """What happened, as one sentence in the page's language (details never hold card
    numbers or security codes: only brand and last four digits)."""
    d = event.details or {}
    amount = money(Money(d["amount_minor"], d.get("currency", "SEK"))) if "amount_minor" in d else ""
    method = _method_name(d.get("method"))
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
                           method=method, previous=_method_name(d.get("from_method")),
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
        case "payment_method.expiry_reminded":
            return gettext("A reminder was sent that %(method)s expires on %(date)s.", method=method,
                           date=day(date.fromisoformat(d["expires_on"])) if d.get("expires_on") else "")
        case "subscriptions.moved":
            return gettext("%(subscriptions)s moved to %(method)s.", method=method,
                           subscriptions=some_names(d.get("subscriptions", [])))
        case "settings.changed":
            return gettext("Personal settings were changed.")
        case "api.request":
            return gettext("The provider's API token %(token)s sent %(method)s %(path)s (answer %(status)s).",
                           token=d.get("token", ""), method=d.get("method", ""), path=d.get("path", ""),
                           status=d.get("status", ""))
        case "notification_email.changed":
            return gettext("The email address for billing notifications was changed from %(old)s to %(new)s.",
                           old=d.get("old", ""), new=d.get("new", ""))
        case "billing_details.changed":
            return gettext("The billing details of %(company)s were changed.", company=d.get("company_name", ""))
        case "access.refused":
            return _refusal_text(d.get("reason"), str(REFUSED_ACTION.get(d.get("attempted"), d.get("attempted", ""))))
        case "charge.failed":
            return gettext("The charge of %(amount)s for %(subscription)s did not go through. %(reason)s",
                           amount=amount, subscription=d.get("subscription", ""), reason=reason)
        case "charge.retry_failed" if d.get("next_retry_on"):
            return gettext("Another payment attempt for %(subscription)s did not go through. %(reason)s "
                           "The next attempt is on %(date)s.", subscription=d.get("subscription", ""),
                           reason=reason, date=day(date.fromisoformat(d["next_retry_on"])))
        case "charge.retry_failed":
            return gettext("Another payment attempt for %(subscription)s did not go through. %(reason)s",
                           subscription=d.get("subscription", ""), reason=reason)
        case "subscription.disable_warning":
            return gettext("A warning was sent that %(subscription)s will be disabled on %(date)s.",
                           subscription=d.get("subscription", ""),
                           date=day(date.fromisoformat(d["disable_on"])) if d.get("disable_on") else "")
        case "subscription.disabled":
            return gettext("%(subscription)s was disabled. Its data will be deleted on %(date)s.",
                           subscription=d.get("subscription", ""),
                           date=day(date.fromisoformat(d["delete_on"])) if d.get("delete_on") else "")
        case "subscription.deleted":
            return gettext("%(subscription)s was deleted.", subscription=d.get("subscription", ""))
    return gettext("Other event: %(code)s", code=event.action)


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
    return gettext("Refused: %(action)s. Not permitted.", action=action)
