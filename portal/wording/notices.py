"""The in-portal notices (R01) and the heading of the page's one banner."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext, lazy_gettext as _l

from portal.i18n import day_of, money
from portal.money import Money
from portal.wording.payments import method_from_summary

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
                           date=day_of(p, "disable_on"))
        case "subscription_disable_warning":
            return gettext("Reminder: %(subscription)s is past due and will be disabled on %(date)s "
                           "unless the balance is settled.",
                           subscription=p.get("subscription", ""),
                           date=day_of(p, "disable_on"))
        case "subscription_disabled":
            return gettext("%(subscription)s has been disabled. Its data will be deleted on %(date)s.",
                           subscription=p.get("subscription", ""),
                           date=day_of(p, "delete_on"))
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
                           "a new card with the same number.", card=method_from_summary(p.get("method")),
                           date=day_of(p, "expires_on"))
        case "card_expiring":
            return gettext("%(card)s expires on %(date)s. Add a new card and choose it for what the old one pays.",
                           card=method_from_summary(p.get("method")),
                           date=day_of(p, "expires_on"))
        case "spending_alert":
            spent = money(Money(p["spent_minor"], p["currency"])) if "spent_minor" in p else ""
            if p.get("subscription"):
                return gettext("This month's costs of %(subscription)s have reached %(percent)s %% of its spending "
                               "alert: %(spent)s of %(amount)s.", subscription=p["subscription"],
                               percent=p.get("percent", ""), amount=amount, spent=spent)
            return gettext("This month's costs have reached %(percent)s %% of your spending alert: %(spent)s of "
                           "%(amount)s.", percent=p.get("percent", ""), amount=amount, spent=spent)
    return gettext("There is news about your billing account.")
