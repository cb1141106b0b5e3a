"""The words of a subscription's own page and actions (issue 33 item 1): why an action
is refused, and what each of its audit events says — given to pages and emails
through portal/wording/ like every other word."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext, lazy_gettext as _l

from portal.i18n import day

# Why the subscription's page cannot cancel or undo (billing/accounts/subscriptions.py's
# reasons, and access.decide's for the role on a customer agreement).
SUBSCRIPTION_REFUSAL = {
    "cannot_manage_subscriptions": _l("Only an owner or contributor of the billing profile can cancel, pause or "
                                      "resume its subscriptions or change their plans. Ask one of them, or your "
                                      "account administrator."),
    "past_due": _l("The subscription is past due. Settle its balance first; then you can cancel it."),
    "not_running": _l("The subscription is not running, so there is nothing to cancel."),
    "paused": _l("The subscription is paused. Resume it first; then you can cancel it."),
    "already_cancelled": _l("The subscription is already cancelled at the end of the period."),
    "not_cancelled": _l("The subscription is not cancelled, or the cancellation has already taken effect, "
                        "so there is nothing to undo."),
    "provider_setting": _l("Subscriptions cannot be cancelled here. Open a support request and we will help."),
    # B24: why the plan cannot be changed (billing/accounts/plans.py).
    "plan_changes_off": _l("The plan cannot be changed here. Open a support request and we will help."),
    "plan_not_offered": _l("That plan is not offered for this subscription. Choose one of the plans listed."),
    "last_month_not_billed": _l("Last month has not been billed yet. Try again after the billing day."),
    "period_billed": _l("This month has been billed already, so its plan cannot change any more."),
    # B21: why the subscription cannot be paused or resumed (billing/accounts/pauses.py).
    "pause_off": _l("Subscriptions cannot be paused here. Open a support request and we will help."),
    "pause_past_due": _l("The subscription is past due. Settle its balance first; then you can pause it."),
    "already_paused": _l("The subscription is already paused."),
    "pause_not_running": _l("The subscription is not running, so there is nothing to pause."),
    "pause_cancel_planned": _l("The subscription is cancelled at the end of the period. Undo the cancellation "
                               "first if you want to pause it instead."),
    "not_paused": _l("The subscription is not paused, so there is nothing to resume."),
}

# The audit log's "Refused: …" names what was attempted.
SUBSCRIPTION_ACTIONS = {"manage_subscriptions": _l("Cancel, pause or resume a subscription, or change its plan")}


def _on(d: dict, key: str) -> str:
    return day(date.fromisoformat(d[key])) if d.get(key) else ""


def subscription_audit_text(action: str, d: dict) -> str | None:
    """The sentence of a subscription's cancellation, pause or plan change event; None for other actions."""
    match action:
        case "subscription.cancel_planned":
            return gettext("%(subscription)s was cancelled at the end of the period: its last day is %(date)s.",
                           subscription=d.get("subscription", ""), date=_on(d, "last_day"))
        case "subscription.cancel_undone":
            return gettext("The cancellation of %(subscription)s was undone: it keeps running.",
                           subscription=d.get("subscription", ""))
        case "subscription.plan_changed":
            return gettext("The plan of %(subscription)s was changed from %(old)s to %(new)s from %(date)s.",
                           subscription=d.get("subscription", ""), old=d.get("old_plan") or "–",
                           new=d.get("plan", ""), date=_on(d, "price_from"))
        case "subscription.paused":
            return gettext("%(subscription)s was paused from %(date)s: its services stopped and it is not "
                           "billed while paused.", subscription=d.get("subscription", ""), date=_on(d, "paused_on"))
        case "subscription.resumed":
            return gettext("%(subscription)s was resumed on %(date)s: it runs and is billed again from that day.",
                           subscription=d.get("subscription", ""), date=_on(d, "resumed_on"))
        case "subscription.cancelled":
            return gettext("%(subscription)s ended, as cancelled, on %(date)s.",
                           subscription=d.get("subscription", ""), date=_on(d, "last_day"))
    return None
