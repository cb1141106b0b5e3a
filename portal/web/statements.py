"""The account statement (kontoutdrag, issue 30): a billing profile's (customer
agreement) or a pay-as-you-go account's period — opening balance, movements, closing
balance, open items aged — as a page, a tagged PDF and a CSV in the reader's dialect.
The figures come from portal/billing/accounts/statement.py; this only reads the query
and chooses the format."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, request
from werkzeug.datastructures import MultiDict
from flask_babel import get_locale, gettext as _, pgettext

from portal import exports
from portal.billing.accounts import access, statement as statements
from portal.billing.accounts.details import details_for
from portal.billing.accounts.history import Period
from portal.billing.invoicing import payment_requests
from portal.billing.invoicing.documents import buyer_of
from portal.billing.invoicing.remittance import remittance_from_config
from portal.document_files import statement_pdf
from portal.errors import NotFound
from portal.forms import StatementForm
from portal.i18n import select_timezone
from portal.models import AccountKind, BillingAccount
from portal.services import billing
from portal.web.common import account_for, signed_in_blueprint, user
from portal.web.rendering import csv_download, download, render

bp = signed_in_blueprint("statements")


def _form(account: BillingAccount) -> tuple[StatementForm, Period | None, int | None]:
    """The form (this month so far when nothing is asked), the period and profile
    asked for, or None when they are not valid (the form holds why)."""
    b, me = billing(), user()
    today = b.clock.today()
    defaults = {"first": today.replace(day=1).isoformat(), "last": today.isoformat()}
    args = (request.args if any(request.args.get(k) for k in ("first", "last"))
            else MultiDict({**defaults, **request.args.to_dict()}))
    form = StatementForm(args)
    profile_id = None
    if account.kind == AccountKind.CUSTOMER_AGREEMENT:
        visible = set(access.profiles_with_role(b.session, me, account))
        form.profile.choices = [(str(p.id), p.name) for p in account.profiles if p.id in visible]
        if not form.profile.data and form.profile.choices:
            form.profile.data = form.profile.choices[0][0]
    else:
        del form.profile
    if not form.validate():
        return form, None, None
    if form.last.data > today:
        form.last.errors = [_future()]
        return form, None, None
    if account.kind == AccountKind.CUSTOMER_AGREEMENT:
        profile_id = int(form.profile.data)
    zone = select_timezone()
    return form, Period(form.first.data, form.last.data, ZoneInfo(zone) if zone else None), profile_id


def _future() -> str:
    return _("A statement ends today at the latest")


@bp.get("/accounts/<int:account_id>/statement")
def show(account_id: int):
    b, me = billing(), user()
    account = account_for(account_id)
    if account.kind == AccountKind.CUSTOMER_AGREEMENT and not access.profiles_with_role(b.session, me, account):
        raise NotFound("billing profile")
    form, period, profile_id = _form(account)
    found = statements.statement(b, me, account.id, profile_id, period) if period else None
    query = {"first": period.first.isoformat(), "last": period.last.isoformat(),
             **({"profile": profile_id} if profile_id else {})} if period else {}
    return render("statements/statement.html", status=200 if period else 422, account=account, form=form,
                  statement=found, query=query, **_request(profile_id if found else None))


def _request(profile_id: int | None) -> dict:
    """B22: the profile's valid payment request, printed on the statement (page and PDF)."""
    requests = payment_requests.open_for_profiles(billing(), [profile_id]) if profile_id else []
    return {"payment_request": requests[0] if requests else None,
            "bankgiro": remittance_from_config(current_app.config).bankgiro}


def _valid(account_id: int):
    account = account_for(account_id)
    _form_, period, profile_id = _form(account)
    if period is None:  # the page links only valid periods
        raise NotFound("period")
    return account, period, profile_id


def _name(word: str, period: Period, extension: str) -> str:
    return f"{word.lower()}-{period.first.isoformat()}-{period.last.isoformat()}.{extension}"


@bp.get("/accounts/<int:account_id>/statement.pdf")
def pdf(account_id: int):
    b, me = billing(), user()
    account, period, profile_id = _valid(account_id)
    found = statements.statement(b, me, account.id, profile_id, period)
    profile = found.profile
    buyer = buyer_of(account.name, profile.name if profile else "", details_for(b.session, account.id, profile_id))
    # Translators: the start of a downloaded statement's file name, e.g. "statement-2026-11-01-2026-11-30.pdf".
    word = pgettext("file name", "statement")
    return download(statement_pdf(found, current_app.extensions["seller"], buyer, **_request(profile_id)),
                    "application/pdf",
                    _name(word, period, "pdf"))


@bp.get("/accounts/<int:account_id>/statement.csv")
def csv(account_id: int):
    b, me = billing(), user()
    account, period, profile_id = _valid(account_id)
    dialect = exports.DIALECTS.get(str(get_locale()), exports.DIALECTS["en"])
    found, rows = statements.rows_for_export(b, me, account.id, profile_id, period)
    lines = exports.csv_lines(exports.STATEMENT_COLUMNS, exports.statement_rows(found, rows),
                              exports.statement_cells(found.currency, dialect), dialect)
    word = pgettext("file name", "statement")
    return csv_download(b.session, lines, _name(word, period, "csv"))
