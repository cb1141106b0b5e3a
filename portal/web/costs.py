"""Costs (Kostnader, issue 33 item 2): an account's costs per subscription and month —
a table, the same totals as a server-drawn SVG bar chart and a sentence, a CSV in the
reader's dialect — and the spending alert set from the same page. The figures and the
alert rules are portal/billing/accounts/costs.py; this parses and renders."""
from __future__ import annotations

from flask import flash
from flask_babel import get_locale, gettext as _, lazy_gettext as _l, pgettext

from portal import exports
from portal.billing.accounts import costs as service, overview
from portal.billing.accounts.access import Action
from portal.forms import ALERT_FOR_ACCOUNT, RemoveSpendingAlertForm, SpendingAlertForm
from portal.errors import NotFound
from portal.i18n import money, parse_money
from portal.money import Money
from portal.services import billing
from portal.web.common import see_other, signed_in_blueprint, user
from portal.web.rendering import csv_download, render

bp = signed_in_blueprint("costs")

# The chart's drawing area, in SVG user units (it scales with the page).
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 600, 200, 16


def chart(found: service.Costs) -> list[dict]:
    """A bar per month, its height in proportion to the month's total."""
    top = max(found.totals) or 1
    step = CHART_WIDTH / len(found.months)
    bars = []
    for index, (first, minor) in enumerate(zip(found.months, found.totals)):
        height = round(CHART_HEIGHT * minor / top, 1)
        bars.append({"x": round(index * step + BAR_GAP / 2, 1), "width": round(step - BAR_GAP, 1),
                     "y": round(CHART_HEIGHT - height, 1), "height": height, "month": first, "minor": minor,
                     "billed": found.billed[index], "centre": round(index * step + step / 2, 1)})
    return bars


def _alert_form(found: service.Costs, **data) -> SpendingAlertForm:
    """The alert form (what was posted, on a POST): for the whole account, or one of the
    subscriptions listed."""
    form = SpendingAlertForm(data=data or None)
    form.applies_to.choices = [(ALERT_FOR_ACCOUNT, _("The whole account"))] + [
        (str(row.id), row.name) for row in found.rows]
    return form


def _applies_to(value: str | None) -> int | None:
    """The subscription an alert form names (its id), or None: the whole account. Any
    other value names no subscription of the account: not found, as a forged id is."""
    if value in (None, "", ALERT_FOR_ACCOUNT):
        return None
    if not value.isdigit() or len(value) > 10:
        raise NotFound("subscription")
    return int(value)


def _page(found: service.Costs, form: SpendingAlertForm, status: int = 200):
    return render("costs/costs.html", status=status, account=found.account, costs=found, form=form,
                  remove_form=RemoveSpendingAlertForm(), bars=chart(found), chart_width=CHART_WIDTH,
                  chart_height=CHART_HEIGHT)


@bp.get("/accounts/<int:account_id>/costs")
def show(account_id: int):
    b, me = billing(), user()
    found = service.costs(b, me, account_id)
    amount = found.money(found.alert.amount_minor) if found.alert else None
    return _page(found, _alert_form(found, **({"amount": _typed(amount)} if amount else {})))


def _typed(amount: Money) -> str:
    """The amount as a person would type it: no currency, the page's decimal mark."""
    return money(amount).replace(amount.currency, "").replace("kr", "").strip()


def _example(currency: str) -> str:
    return money(Money(500000, currency))


@bp.post("/accounts/<int:account_id>/costs/alert")
def set_alert(account_id: int):
    b, me = billing(), user()
    overview.require_allowed(b, me, account_id, Action.MANAGE_NOTIFICATIONS)  # a forced POST: refused first
    found = service.costs(b, me, account_id)
    form = _alert_form(found)
    if form.validate_on_submit():
        amount = parse_money(form.amount.data, found.currency)
        if amount is None:
            form.amount.errors.append(_("Enter an amount in numbers, like %(example)s",
                                        example=_example(found.currency)))
        elif amount.minor <= 0:
            form.amount.errors.append(_l("Enter an amount greater than zero"))
        else:
            subscription_id = _applies_to(form.applies_to.data)
            service.set_alert(b, me, account_id, amount, subscription_id)
            if subscription_id is None:
                flash(_("The spending alert is set: you get an email when this month's costs reach 80 %% and "
                        "100 %% of %(amount)s.", amount=money(amount)), "success")
            else:
                flash(_("The spending alert for %(subscription)s is set: you get an email when its costs this "
                        "month reach 80 %% and 100 %% of %(amount)s.", amount=money(amount),
                        subscription=dict(form.applies_to.choices)[form.applies_to.data]), "success")
            return see_other("costs.show", account_id=account_id)
    return _page(found, form, status=422)


@bp.post("/accounts/<int:account_id>/costs/alert/remove")
def remove_alert(account_id: int):
    b, me = billing(), user()
    overview.require_allowed(b, me, account_id, Action.MANAGE_NOTIFICATIONS)
    form = RemoveSpendingAlertForm()
    if not form.validate_on_submit():
        found = service.costs(b, me, account_id)  # the page again, only when it is shown
        return _page(found, _alert_form(found), status=422)
    service.set_alert(b, me, account_id, None, _applies_to(form.applies_to.data))
    flash(_l("The spending alert has been removed."), "success")
    return see_other("costs.show", account_id=account_id)


@bp.get("/accounts/<int:account_id>/costs.csv")
def csv(account_id: int):
    b, me = billing(), user()
    dialect = exports.DIALECTS.get(str(get_locale()), exports.DIALECTS["en"])
    found, rows = service.export_rows(b, me, account_id)
    lines = exports.csv_lines(exports.COSTS_COLUMNS, rows, exports.costs_cells(found.currency, dialect), dialect)
    # Translators: the start of a downloaded costs file's name, e.g. "costs-2026-12.csv".
    word = pgettext("file name", "costs")
    name = f"{word}-{found.months[-1]:%Y-%m}.csv"
    return csv_download(b.session, lines, name)
