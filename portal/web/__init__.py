"""The web layer: blueprints that parse HTTP, call a service, render a page."""
from __future__ import annotations

from flask import Flask, request, url_for

from portal import deeplinks, i18n, wording
from portal.billing.invoicing import remittance
from portal.money import Money
from portal.web import (account, assets, auth, errors, fast_widgets, health, invoices, methods, overview, pages,
                        payments, receipts, sandbox, security, settle)
from portal.web import api
from portal.web.common import DatabaseId


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseId  # before any route is added
    for module in (pages, auth, overview, settle, invoices, receipts, payments, methods, account, sandbox, health):
        app.register_blueprint(module.bp)
    api.init_app(app)  # issue 32: the provider's JSON API under /api/v1
    _template_helpers(app)
    fast_widgets.install()
    assets.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    security.init_app(app)


def _template_helpers(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(
        labels=wording, card_name=wording.card_name, notice_text=wording.notice_text,
        notice_link=deeplinks.notice_link, audit_text=wording.audit_text, page_url=page_url, url_for_each=url_for_each,
        country_name=i18n.country_name, ocr_reference=remittance.ocr_reference)
    app.jinja_env.filters["minor_money"] = lambda minor, currency: i18n.money(Money(minor, currency))
    app.jinja_env.filters["number"] = i18n.number


def page_url(param: str, value: str | None) -> str:
    """This page (same path and query) showing the page of a paginated list that
    `value` names (a key from paging.Keyset.token, "last"; "" or None: the first)."""
    args = i18n.kept_query(leave_out=param)
    if value:
        args[param] = [value]
    return url_for(request.endpoint, **args, **(request.view_args or {}))


# A number no other part of an address has (an id, below MAX_ID): url_for_each's slot.
_SLOT = 1_987_654_321


def url_for_each(endpoint: str, vary: str, **values):
    """url_for for every row of a list, built once: `url_for_each('receipts.show',
    'payment_id', account_id=1)(payment.id)` is `url_for('receipts.show', account_id=1,
    payment_id=payment.id)` for a database id — url_for is ~20 µs a link, and a list
    page makes two or three links a row. `vary` may be a route argument or a query
    parameter; either way an id appears in the address as its digits."""
    address = url_for(endpoint, **values, **{vary: _SLOT})
    head, slot, tail = address.partition(str(_SLOT))
    if not slot or str(_SLOT) in tail or str(_SLOT) in head:
        return lambda value: url_for(endpoint, **values, **{vary: value})
    return lambda value: f"{head}{int(value)}{tail}"
