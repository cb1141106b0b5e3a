"""Every word the pages and the emails show for a code of the service layer, in one
place: web/ and mail/ both stand on it, so a status or a decline reason reads the same
in a page, a notice and an email."""
# size: one catalog of the service layer's words (statuses, reasons, notices, audit events), read as one
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from flask_babel import gettext, lazy_gettext as _l, lazy_pgettext, ngettext, pgettext

from portal.i18n import day, money, remembered_text, some_names
from portal.models import AccountKind, InvoiceStatus, Role, SubscriptionStatus
from portal.money import Money
from portal.wording_subscriptions import SUBSCRIPTION_ACTIONS, SUBSCRIPTION_REFUSAL, subscription_audit_text

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
    SubscriptionStatus.CANCELLED: lazy_pgettext("subscription status", "Cancelled"),  # ended as asked (issue 33)
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
    # Issue 31: the rules of the Access page (portal/billing/accounts/people.py).
    "cannot_manage_roles": _l("Only the account administrator, or an owner of the billing account or "
                              "billing profile, can give and take roles."),
    "beyond_own_scope": _l("You can give and take roles only where you are an owner: on your billing "
                           "profile, not on the whole billing account or another profile."),
    "beyond_own_role": _l("You cannot give a role with more rights than your own."),
    "last_owner": _l("This is the last owner, so the role cannot be removed or changed. Give another "
                     "person the owner role first."),
    "own_last_owner": _l("You cannot remove or lower your own owner role: it is the only one you have "
                         "here. Ask another owner to do it."),
} | SUBSCRIPTION_REFUSAL

# Issue 31: why a password cannot be used (portal/billing/accounts/passwords.py).
PASSWORD_PROBLEM = {
    "too_short": _l("Choose a password of at least 12 characters. A few words in a row are easy to remember."),
    "too_long": _l("Choose a password of at most 128 characters"),
    "too_common": _l("That password is one of the most commonly used ones, so it is easy to guess. Choose "
                     "another one."),
}

# Issue 31: why an invitation's link cannot be used (people.invitation_for).
INVITATION_INVALID = {
    "unknown": _l("This invitation link does not work. It may have been replaced by a newer invitation: "
                  "use the link in the latest email, or ask the person who invited you to send it again."),
    "used": _l("This invitation has already been accepted or has been withdrawn. If you have accepted it, "
               "sign in."),
    "expired": _l("This invitation has expired: links work for 7 days. Ask the person who invited you to "
                  "send it again."),
    "sign_in_first": _l("You already have a sign-in to the portal with this email address. Sign in to accept "
                        "the invitation."),
    "other_person": _l("This invitation is for another email address. Sign out, then open the link again."),
}

# B9: what a payment was for.
PAYMENT_PURPOSE = {
    "settle": _l("Settled balance"),
    "invoice": _l("Invoice payment"),
    "auto_charge": _l("Automatic charge"),
    "transfer": _l("Bank transfer"),
    "autogiro": _l("Drawn by Autogiro"),
}

# B23: an Autogiro mandate's status, on Payment methods.
MANDATE_STATUS = {
    # Translators: an Autogiro mandate's status: given, not yet approved by the bank.
    "pending": lazy_pgettext("mandate status", "Pending: waiting for the bank"),
    "active": lazy_pgettext("mandate status", "Active"),
    "rejected": lazy_pgettext("mandate status", "Rejected by the bank"),
    "cancelled": lazy_pgettext("mandate status", "Cancelled"),
}

# Issue 34: why Autogiro did not draw an invoice, or why a mandate ended.
AUTOGIRO_REASON = {
    "insufficient_funds": _l("There was not enough money in the account when Autogiro drew the payment."),
    "no_mandate": _l("The bank has no Autogiro mandate for the account, or the account is closed."),
    "cancelled": _l("The Autogiro mandate has been cancelled."),
    "by_payer": _l("The Autogiro mandate was cancelled by the account holder or the bank."),
    "account_closed": _l("The bank account is closed."),
    "account_not_approved": _l("The bank does not allow Autogiro from this account."),
    "wrong_payer_id": _l("The personal or organisation number does not match the bank account."),
    "already_exists": _l("Bankgirot already has a mandate with this payer number."),
}

# B7: why a billing detail was refused, per field and reason (billing/accounts/details.py).
DETAILS_ERROR = {
    ("company_name", "missing"): _l("Enter the company name"),
    ("street", "missing"): _l("Enter the street address or box"),
    ("postcode", "missing"): _l("Enter the postcode"),
    ("city", "missing"): _l("Enter the city"),
    ("org_number", "missing"): _l("Enter the organisation number, like 556677-8899"),
    ("org_number", "invalid"): _l("Enter a valid Swedish organisation number, like 556677-8899"),
    # ux-F17: ten digits, but the last (the check digit) does not match: most likely a typo.
    ("org_number", "check_digit"): _l("The organisation number's last digit does not match the others. "
                                      "Check the number for a typo."),
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


def method_in_sentence(method) -> str:
    """A payment method named inside a sentence: a card as on its own ("Visa ending in
    4242"), a transfer in lower case ("… was paid with check/wire transfer"; review
    2026-12, source problem 1: never a capital mid-sentence)."""
    if method is not None and method.kind == "check_wire":
        # Translators: a payment method inside a sentence: "… was paid with check/wire transfer".
        return pgettext("inside a sentence", "check/wire transfer")
    return card_name(method)


def _card_name(kind: str, brand: str | None, last4: str | None) -> str:
    if kind == "check_wire":
        return gettext("Check/wire transfer")
    if kind == "autogiro":
        # Translators: a bank account drawn by Autogiro, e.g. "Autogiro from Nordea, account ending in 9874".
        return gettext("Autogiro from %(bank)s, account ending in %(last4)s", bank=brand or "", last4=last4)
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


def notice_text(notice, today: date | None = None) -> str:
    """The in-portal notice (R01) for its kind and payload, in the page's language;
    `today` tells a notice about a day that has passed (ux-F7: a card that has expired)."""
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
        case "card_expiring" if today is not None and p.get("expires_on") and \
                date.fromisoformat(p["expires_on"]) < today:
            return gettext("%(card)s expired on %(date)s. Add a new card, or update this one if the bank sent you "
                           "a new card with the same number.", card=_method_name(p.get("method")),
                           date=day(date.fromisoformat(p["expires_on"])))
        case "card_expiring":
            return gettext("%(card)s expires on %(date)s. Add a new card and choose it for what the old one pays.",
                           card=_method_name(p.get("method")),
                           date=day(date.fromisoformat(p["expires_on"])) if p.get("expires_on") else "")
        case "spending_alert":
            spent = money(Money(p["spent_minor"], p["currency"])) if "spent_minor" in p else ""
            if p.get("subscription"):
                return gettext("This month's costs of %(subscription)s have reached %(percent)s %% of its spending "
                               "alert: %(spent)s of %(amount)s.", subscription=p["subscription"],
                               percent=p.get("percent", ""), amount=amount, spent=spent)
            return gettext("This month's costs have reached %(percent)s %% of your spending alert: %(spent)s of "
                           "%(amount)s.", percent=p.get("percent", ""), amount=amount, spent=spent)
    return gettext("There is news about your billing account.")


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


def _method_name(summary) -> str:
    """An audit event's method, named inside its sentence."""
    if not summary or "kind" not in summary:
        return ""
    return method_in_sentence(SimpleNamespace(kind=summary.get("kind"), brand=summary.get("brand"),
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
        case "payment_method.updated":
            return gettext("%(method)s was updated: it now expires on %(date)s. Nothing was charged.", method=method,
                           date=day(date.fromisoformat(d["expires_on"])) if d.get("expires_on") else "")
        case "payment_method.update_declined":
            return gettext("%(method)s was not updated: the bank did not accept it. %(reason)s",
                           method=method, reason=reason)
        case "payment_method.expiry_reminded":
            return gettext("A reminder was sent that %(method)s expires on %(date)s.", method=method,
                           date=day(date.fromisoformat(d["expires_on"])) if d.get("expires_on") else "")
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


# The account statement (issue 30): its lines, columns and ageing, on the page, in the
# PDF and in the CSV alike — one message each, with the context "statement".
STATEMENT = {
    # Translators: the statement's lines and columns (kontoutdrag): sv "Ingående saldo".
    "opening": lazy_pgettext("statement", "Opening balance"),
    # Translators: sv "Utgående saldo".
    "closing": lazy_pgettext("statement", "Closing balance"),
    "invoice": lazy_pgettext("statement", "Invoice"),
    # Translators: a pay-as-you-go subscription's charge for a month (sv "Debitering").
    "charge": lazy_pgettext("statement", "Charge"),
    "payment": lazy_pgettext("statement", "Payment"),
    # Translators: credit balance (tillgodohavande) paid back to the customer.
    "refund": lazy_pgettext("statement", "Refund of credit"),
    "date": lazy_pgettext("statement", "Date"),
    "kind": lazy_pgettext("statement", "Type"),
    # Translators: a statement line's reference: an invoice number, a subscription, a payment's number.
    "reference": lazy_pgettext("statement", "Reference"),
    "due_on": lazy_pgettext("statement", "Due date"),
    "amount": lazy_pgettext("statement", "Amount"),
    "balance": lazy_pgettext("statement", "Balance"),
    "currency": lazy_pgettext("statement", "Currency"),
    "left": lazy_pgettext("statement", "Left to pay"),
    "days": lazy_pgettext("statement", "Days past due"),
    # Translators: invoiced (customer agreement) in the period, as a statement's total.
    "invoiced": lazy_pgettext("statement", "Invoiced"),
    # Translators: charged (pay-as-you-go) in the period, as a statement's total.
    "charged": lazy_pgettext("statement", "Charged"),
    "received": lazy_pgettext("statement", "Payments received"),
    "refunded": lazy_pgettext("statement", "Credit refunded"),
}

AGEING = {
    # Translators: the ageing of open items (åldersanalys): not yet past the due date.
    "not_due": lazy_pgettext("ageing", "Not yet due"),
    # Translators: days past the due date, a column of the ageing table.
    "0_30": lazy_pgettext("ageing", "0–30 days"),
    "31_60": lazy_pgettext("ageing", "31–60 days"),
    "61_90": lazy_pgettext("ageing", "61–90 days"),
    "over_90": lazy_pgettext("ageing", "More than 90 days"),
}
