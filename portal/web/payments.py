"""Payments (Betalningar, B9): every payment of the account — settled balances, Pay
now, automatic charges — a page at a time, filtered by period, each linking to its
receipt; and the period's payments and invoices as CSV (portal/exports.py)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Response, request
from flask_babel import get_locale, pgettext

from portal import exports
from portal.billing.accounts import credit_history, history
from portal.billing.accounts.history import Period
from portal.errors import NotFound
from portal.forms import PeriodForm
from portal.i18n import select_timezone
from portal.models import AccountKind
from portal.services import billing
from portal.web.common import account_for, page_arg, signed_in_blueprint, user
from portal.web.rendering import csv_download, render

bp = signed_in_blueprint("payments")


def _period() -> tuple[PeriodForm, Period | None]:
    """The period asked for in the query (?first=&last=), or None when it is not a
    valid one (the form then holds the errors)."""
    form = PeriodForm(request.args)
    if not form.validate():
        return form, None
    zone = select_timezone()
    return form, Period(form.first.data, form.last.data, ZoneInfo(zone) if zone else None)


@bp.get("/accounts/<int:account_id>/payments")
def index(account_id: int):
    b, me = billing(), user()
    account = account_for(account_id)
    form, period = _period()
    rows = history.payments_of(b, me, account.id, period or Period(), page_arg())
    return render("payments/history.html", block="payment_table", status=200 if period else 422,
                  account=account, form=form, payments=rows, period=period or Period(),
                  credit=credit_history.balance_seen_by(b, me, account), had_credit=credit_history.had_credit(b, me, account))


@bp.get("/accounts/<int:account_id>/credit")
def credit(account_id: int):
    """B15 (issue 33): the credit balance's history, a page at a time."""
    b, me = billing(), user()
    account = account_for(account_id)
    return render("payments/credit.html", block="credit_table", account=account,
                  history=credit_history.history(b, me, account.id, page_arg()))


@bp.get("/accounts/<int:account_id>/payments.csv")
def payments_csv(account_id: int):
    b, me = billing(), user()
    account = account_for(account_id)
    period = _valid_period()
    zone = period.zone or b.clock.tz
    dialect = _dialect()
    rows = history.payments_for_export(b, me, account.id, period)
    # Translators: the start of the payments export's file name, e.g. "payments-2026-11-01-2026-11-30.csv".
    word = pgettext("file name", "payments")
    return _csv(exports.csv_lines(exports.PAYMENT_COLUMNS, rows, exports.payment_cells(zone, dialect), dialect),
                word, period, b)


@bp.get("/accounts/<int:account_id>/invoices.csv")
def invoices_csv(account_id: int):
    b, me = billing(), user()
    account = account_for(account_id)
    if account.kind != AccountKind.CUSTOMER_AGREEMENT:
        raise NotFound("invoices")
    period = _valid_period()
    dialect = _dialect()
    rows = history.invoices_for_export(b, me, account.id, period)
    # Translators: the start of the invoices export's file name, e.g. "invoices-2026-11-01-2026-11-30.csv".
    word = pgettext("file name", "invoices")
    return _csv(exports.csv_lines(exports.INVOICE_COLUMNS, rows, exports.invoice_cells(dialect), dialect),
                word, period, b)


def _valid_period() -> Period:
    _form, period = _period()
    if period is None:  # the links on the page only carry valid periods
        raise NotFound("period")
    return period


def _dialect() -> exports.Dialect:
    return exports.DIALECTS.get(str(get_locale()), exports.DIALECTS["en"])


def _csv(lines, word: str, period: Period, b) -> Response:
    name = "-".join([word] + [d.isoformat() for d in (period.first, period.last) if d]) + ".csv"
    return csv_download(b.session, lines, name)
