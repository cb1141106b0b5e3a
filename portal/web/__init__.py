"""The web layer: blueprints that parse HTTP, call a service, render a page."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from portal.web import account, assets, auth, errors, invoices, overview, pages, receipts, security, settle
    from portal.web.common import DatabaseId

    app.url_map.converters["int"] = DatabaseId  # before any route is added
    for module in (pages, auth, overview, settle, invoices, receipts, account):
        app.register_blueprint(module.bp)
    _template_helpers(app)
    assets.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    security.init_app(app)


def _template_helpers(app: Flask) -> None:
    from portal.money import Money
    from portal.i18n import money, number
    from portal.web import deeplinks, labels

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(
        labels=labels, card_name=labels.card_name, notice_text=labels.notice_text,
        notice_link=deeplinks.notice_link, audit_text=labels.audit_text)
    app.jinja_env.filters["minor_money"] = lambda minor, currency: money(Money(minor, currency))
    app.jinja_env.filters["number"] = number
    app.jinja_env.globals["page_url"] = page_url


def page_url(param: str, number: int) -> str:
    """This page (same path and query) showing page `number` of a paginated list."""
    from flask import request, url_for

    from portal.i18n import kept_query

    args = kept_query(leave_out=param)
    if number > 1:
        args[param] = [str(number)]
    return url_for(request.endpoint, **args, **(request.view_args or {}))
