"""B1: the exact page that acts on a billing event — for the link in its email and in
its in-portal notice. One place, so the email and the notice never disagree."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext

from portal.billing.accounts import people
from portal.billing.accounts.sign_in_links import link_token

SETTLE_KINDS = ("payment_failed", "subscription_disable_warning", "subscription_disabled")
PAY_KINDS = ("invoice_past_due", "auto_charge_failed", "autogiro_not_drawn")
INVOICE_KINDS = ("invoice_ready", "auto_charge_succeeded")
SUBSCRIPTION_EMAILS = ("subscription_cancel_planned", "subscription_cancel_undone", "subscription_plan_changed",
                       "subscription_paused", "subscription_resumed")


@dataclass(frozen=True)
class Target:
    endpoint: str
    values: dict[str, Any] = field(default_factory=dict)
    text: str = ""  # the link's words, meaningful out of context (WCAG 2.4.4)


def _id(payload: dict[str, Any], key: str) -> int | None:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def target(kind: str, payload: dict[str, Any], account_id: int | None = None) -> Target | None:
    """Where the event's link goes, in the current locale's words; None when the
    payload lacks what the link needs (e.g. a message queued before links existed)."""
    if kind in SIGN_IN_LINKS:  # issue 31: a person's own link, no account's
        return _sign_in_link(kind, payload)
    account_id = account_id if account_id is not None else _id(payload, "account_id")
    if account_id is None:
        return None
    subscription_id, invoice_id = _id(payload, "subscription_id"), _id(payload, "invoice_id")
    profile_id, payment_id = _id(payload, "profile_id"), _id(payload, "payment_id")
    name, number = payload.get("subscription", ""), payload.get("number", "")
    if kind in SETTLE_KINDS and subscription_id is not None:
        return Target("settle.start", {"account_id": account_id, "subscription_id": subscription_id},
                      gettext("Settle the balance for %(subscription)s", subscription=name))
    if kind in PAY_KINDS and profile_id is not None and invoice_id is not None:
        return Target("invoices.start", {"account_id": account_id, "profile_id": profile_id,
                                         "invoice": invoice_id},
                      gettext("Pay invoice %(number)s now", number=number))
    if kind in INVOICE_KINDS and invoice_id is not None:
        return Target("invoices.detail", {"account_id": account_id, "invoice_id": invoice_id},
                      gettext("View invoice %(number)s", number=number))
    if kind == "receipt" and payment_id is not None:
        return Target("receipts.show", {"account_id": account_id, "payment_id": payment_id},
                      gettext("View the receipt"))
    if kind == "credit_added" and payment_id is not None:  # B15: the payment that became credit
        return Target("receipts.show", {"account_id": account_id, "payment_id": payment_id},
                      gettext("View the receipt"))
    if kind == "credit_refunded":
        return Target("payments.index", {"account_id": account_id}, gettext("See the account's payments"))
    if kind in ("card_expiring", "payment_method_updated", "autogiro_mandate_ended"):
        return Target("methods.index", {"account_id": account_id}, gettext("Manage payment methods"))
    if kind in SUBSCRIPTION_EMAILS and subscription_id is not None:
        return Target("subscriptions.show", {"account_id": account_id, "subscription_id": subscription_id},
                      gettext("View %(subscription)s", subscription=name))  # issue 33
    if kind == "spending_alert":  # issue 33 item 2
        return Target("costs.show", {"account_id": account_id}, gettext("See what the account costs"))
    if kind == "notification_email_changed":
        return Target("account.notifications", {"account_id": account_id},
                      gettext("Review the billing notification settings"))
    if kind == "billing_details_changed":
        if profile_id is not None:
            return Target("account.profile_billing_details", {"account_id": account_id, "profile_id": profile_id},
                          gettext("Review the billing details"))
        return Target("account.billing_details", {"account_id": account_id}, gettext("Review the billing details"))
    if kind == "invitation" and isinstance(payload.get("nonce"), str):  # issue 31: the link, made again
        return Target("people.accept", {"token": people.link_token(current_app.secret_key, payload["nonce"])},
                      gettext("Accept the invitation"))
    if kind == "role_changed":
        return Target("overview.show", {"account_id": account_id}, gettext("Open the billing account"))
    if kind == "support_request_received":
        return Target("account.support", {"account_id": account_id},
                      gettext("See your support requests"))
    return None


SIGN_IN_LINKS = ("password_reset", "sign_in_unlock", "password_reset_unknown")


def _sign_in_link(kind: str, payload: dict[str, Any]) -> Target | None:
    """The single-use link of a reset or unlock email, made again from the payload's
    nonce and the application's secret (billing/accounts/sign_in_links.py)."""
    if kind == "password_reset_unknown":
        return Target("sign_in_links.forgot_password", {}, gettext("Reset a password"))
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        return None
    token = link_token(current_app.config["SECRET_KEY"], nonce)
    if kind == "password_reset":
        return Target("sign_in_links.reset_password", {"token": token}, gettext("Choose a new password"))
    return Target("sign_in_links.unlock", {"token": token}, gettext("Sign in again on this browser"))


def notice_link(notice) -> tuple[str, str] | None:
    """(href, words) for an in-portal notice (R01, B3), in the page's language."""
    found = target(notice.kind, notice.payload or {}, notice.account_id)
    return None if found is None else (url_for(found.endpoint, **found.values), found.text)
