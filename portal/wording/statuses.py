"""What each status, kind and role is called (a badge, a column, a sentence), and
what a payment was for — one label per code of portal/models.py and the services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l, lazy_pgettext

from portal.models import AccountKind, InvoiceStatus, Role, SubscriptionStatus

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
    # Translators: status badge of a subscription its customer paused: services stopped, nothing billed (B21).
    SubscriptionStatus.PAUSED: lazy_pgettext("subscription status", "Paused"),
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

def translated(labels: dict) -> dict:
    """The labels in the page's language, once (a page of 50 rows asks 50 times)."""
    return {code: str(label) for code, label in labels.items()}
