"""A subscription's page (issue 33 item 1): status, price, what it used this month,
its card, its dates (R12), and Cancel at period end / Undo cancellation, Pause / Resume
(B21) — each on a confirmation page of its own that says what changes and when (POST, then redirect;
no JavaScript needed), or why it cannot be done (B2)."""
from __future__ import annotations

from flask import flash, request
from flask_babel import gettext as _

from portal.billing import usage
from portal.billing.accounts import overview, pauses, plans, subscriptions
from portal.billing.accounts.access import Action, Decision
from portal.errors import Refused
from portal.money import Money
from portal.forms import ChangePlanForm, ConfirmSubscriptionForm
from portal.i18n import day, money
from portal.services import billing
from portal.web.common import page_arg, see_other, signed_in_blueprint, user
from portal.web.rendering import render

bp = signed_in_blueprint("subscriptions")
PATH = "/accounts/<int:account_id>/subscriptions/<int:subscription_id>"
SERVICES = {"cancel": subscriptions.cancel_at_period_end, "undo": subscriptions.undo_cancellation,
            "pause": pauses.pause, "resume": pauses.resume}


@bp.get(PATH)
def show(account_id: int, subscription_id: int):
    b, me = billing(), user()
    page = subscriptions.detail(b, me, account_id, subscription_id)
    lines = usage.lines_page(b.session, subscription_id, *page.month, page_arg("lines"), page.used_lines)
    return render("subscriptions/show.html", account=page.subscription.account, page=page, lines=lines,
                  plan=plans.choice(b, me, page.subscription), pause=pauses.choice(b, me, page.subscription))


@bp.route(f"{PATH}/cancel", methods=["GET", "POST"])
def cancel(account_id: int, subscription_id: int):
    return _confirm("cancel", account_id, subscription_id)


@bp.route(f"{PATH}/undo-cancel", methods=["GET", "POST"])
def undo(account_id: int, subscription_id: int):
    return _confirm("undo", account_id, subscription_id)


@bp.route(f"{PATH}/pause", methods=["GET", "POST"])
def pause(account_id: int, subscription_id: int):
    return _confirm("pause", account_id, subscription_id)


@bp.route(f"{PATH}/resume", methods=["GET", "POST"])
def resume(account_id: int, subscription_id: int):
    return _confirm("resume", account_id, subscription_id)


def _status(decision: Decision) -> int:
    state = subscriptions.STATE_REASONS | plans.PLAN_REASONS | pauses.PAUSE_REASONS
    return 200 if decision else 409 if decision.reason in state else 403


@bp.route(f"{PATH}/plan", methods=["GET", "POST"])
def change_plan(account_id: int, subscription_id: int):
    """B24: the plans offered, each with its price beside today's and the day it
    applies from (the confirmation), or why not; POST as _confirm's."""
    b, me = billing(), user()
    sub = subscriptions.subscription_of(b, me, account_id, subscription_id)  # another account's: 404
    choice = plans.choice(b, me, sub)
    form = ChangePlanForm(formdata=None, price_from=choice.price_from.isoformat())
    status, decision = _status(choice.decision), choice.decision
    if request.method == "POST":
        overview.require_allowed(b, me, account_id, Action.MANAGE_SUBSCRIPTIONS, sub.billing_profile_id)
        form = ChangePlanForm()
    # Translators: a plan to choose, e.g. "Premium: 990,00 kr a month".
    form.plan.choices = [(plan.name, _("%(plan)s: %(price)s a month", plan=plan.name, price=money(plan.fee)))
                         for plan in choice.offered]
    if request.method == "POST" and decision:
        if not form.validate_on_submit():
            status = 422
        elif form.price_from.data != choice.price_from.isoformat():
            status = 409  # asked again, anew
            flash(_("The dates have changed since the page was shown. Check them and confirm again."), "error")
        else:
            try:
                changed = plans.change_plan(b, me, account_id, subscription_id, form.plan.data)
            except Refused as refused:
                decision, status = Decision(False, refused.code), 409
            else:
                flash(_("%(subscription)s is on the %(plan)s plan from %(date)s, at %(price)s a month.",
                        subscription=changed.name, plan=form.plan.data, date=day(choice.price_from),
                        price=money(Money(changed.monthly_fee_minor, changed.account.currency))), "success")
                return see_other("subscriptions.show", account_id=account_id, subscription_id=subscription_id)
        form.price_from.data = choice.price_from.isoformat()
    return render("subscriptions/plan.html", status=status, account=sub.account, sub=sub, choice=choice,
                  decision=decision, form=form)


def _confirm(action: str, account_id: int, subscription_id: int):
    """GET: what will change and when, or why not (403 for the role, 409 for the
    state). POST: the role first (a forced POST is refused and audited), then the form
    (422), then the service decides again under the account's lock."""
    b, me = billing(), user()
    page = subscriptions.detail(b, me, account_id, subscription_id)  # another account's: 404
    if action in ("pause", "resume"):  # B21: from today, the day the form names
        pause = pauses.choice(b, me, page.subscription)
        last_day, decision = pause.today, pause.pause if action == "pause" else pause.resume
    else:
        last_day = page.ends_on if action == "cancel" else page.last_day
        decision = page.cancel if action == "cancel" else page.undo
    form = ConfirmSubscriptionForm(formdata=None, last_day=last_day.isoformat() if last_day else "")
    status = _status(decision)
    if request.method == "POST":
        overview.require_allowed(b, me, account_id, Action.MANAGE_SUBSCRIPTIONS,
                                 page.subscription.billing_profile_id)
        form = ConfirmSubscriptionForm()
        if not form.validate_on_submit():
            status, form.last_day.data = 422, last_day.isoformat() if last_day else ""
        elif last_day is None or form.last_day.data != last_day.isoformat():
            status, form.last_day.data = 409, last_day.isoformat() if last_day else ""  # asked again, anew
            flash(_("The dates have changed since the page was shown. Check them and confirm again."), "error")
        else:
            service = SERVICES[action]
            try:
                sub = service(b, me, account_id, subscription_id)
            except Refused as refused:
                page = subscriptions.detail(b, me, account_id, subscription_id)
                decision, status = Decision(False, refused.code), 409
            else:
                if action == "cancel":
                    flash(_("%(subscription)s is cancelled at the end of the period. Its last day is %(date)s.",
                            subscription=sub.name, date=day(last_day)), "success")
                elif action == "pause":
                    flash(_("%(subscription)s is paused from %(date)s. It is not billed while it is paused.",
                            subscription=sub.name, date=day(last_day)), "success")
                elif action == "resume":
                    flash(_("%(subscription)s is running again from %(date)s and is billed from that day.",
                            subscription=sub.name, date=day(last_day)), "success")
                else:
                    flash(_("The cancellation is undone: %(subscription)s keeps running.", subscription=sub.name),
                          "success")
                return see_other("subscriptions.show", account_id=account_id, subscription_id=subscription_id)
    return render("subscriptions/confirm.html", status=status, account=page.subscription.account, page=page,
                  action=action, decision=decision, form=form, on=last_day)
