"""The web layer: blueprints that parse HTTP, call a service, render a page."""
from __future__ import annotations

import weakref

from flask import Flask, current_app, g, has_request_context, request, url_for

from portal import deeplinks, i18n, services, wording
from portal.billing.invoicing import remittance
from portal.money import Money
from portal.web import (account, assets, auth, costs, errors, fast_widgets, health, invoices, methods, overview, pages,
                        payment_requests, payments, people, receipts, sandbox, second_factor, security, settle,
                        sign_in_links, statements, subscriptions)
from portal.web import api
from portal.web.common import DatabaseId


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseId  # before any route is added
    for module in (pages, auth, second_factor, sign_in_links, overview, settle, invoices, receipts, payments,
                   methods, account, people, statements, subscriptions, costs, payment_requests, sandbox, health):
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
        labels=wording, card_name=wording.card_name, notice_text=lambda notice: wording.notice_text(notice, services.clock().today()),  # ux-F7
        notice_link=deeplinks.notice_link, audit_text=wording.audit_text, page_url=page_url, url_for_each=url_for_each,
        url_for=remembered_url_for,
        country_name=i18n.country_name, ocr_reference=remittance.ocr_reference,
        request_reference=remittance.request_reference,
        # ux-F9: one payee everywhere money is sent — the seller's legal name, as on the invoice.
        payee=lambda: app.extensions["seller"].name)
    app.jinja_env.filters["minor_money"] = lambda minor, currency: i18n.money(Money(minor, currency))
    app.jinja_env.filters["number"] = i18n.number


def page_url(param: str, value: str | None) -> str:
    """This page (same path and query) showing the page of a paginated list that
    `value` names (a key from paging.Keyset.token, "last"; "" or None: the first)."""
    args = i18n.kept_query(leave_out=param)
    if value:
        args[param] = [value]
    return url_for(request.endpoint, **args, **(request.view_args or {}))


_LINKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # URL map → key → link
_LINKS_MAX = 10_000


def remembered_url_for(endpoint: str, **values) -> str:
    """The templates' `url_for`, remembered per URL map, endpoint, values, page language
    and script root (issue 28, pages ≤ 2× the bare page): a page makes 20–30 links — the
    account's navigation, forms, pagers, a Pay link per open invoice — at ~20 µs each
    through Flask's URL map, and the same link is the same text every time. Relative
    endpoints and `_external`/`_anchor`/`_scheme` links, and links made outside a
    request, are made each time."""
    if endpoint.startswith(".") or not has_request_context() or any(k.startswith("_") for k in values):
        return url_for(endpoint, **values)
    try:
        key = (endpoint, request.script_root, getattr(g, "lang", None), *sorted(values.items()))
        hash(key)
    except TypeError:  # a value that is not hashable
        return url_for(endpoint, **values)
    links = _LINKS.get(current_app.url_map)
    if links is None or len(links) >= _LINKS_MAX:
        links = _LINKS[current_app.url_map] = {}
    link = links.get(key)
    if link is None:
        link = links[key] = url_for(endpoint, **values)
    return link


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
