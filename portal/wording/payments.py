"""The words of money moving: what the gateway said and what to check with the bank
(R10), why a charge or an Autogiro draw failed (R01, issue 34), and a payment method's
name in a list or inside a sentence."""
from __future__ import annotations

from types import SimpleNamespace

from flask_babel import gettext, lazy_gettext as _l, pgettext

from portal.i18n import remembered_text

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


def method_from_summary(summary) -> str:
    """A method as an audit event or a notice keeps it (kind, brand, last4), named inside
    its sentence."""
    if not summary or "kind" not in summary:
        return ""
    return method_in_sentence(SimpleNamespace(kind=summary.get("kind"), brand=summary.get("brand"),
                                              last4=summary.get("last4")))
