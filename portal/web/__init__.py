"""The web layer: blueprints that parse HTTP, call a service, render a page."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from portal.web import account, auth, errors, invoices, overview, pages, security, settle

    for module in (pages, auth, overview, settle, invoices, account):
        app.register_blueprint(module.bp)
    _template_helpers(app)
    auth.init_app(app)
    errors.init_app(app)
    security.init_app(app)


def _template_helpers(app: Flask) -> None:
    from portal.billing.money import Money
    from portal.i18n import money
    from portal.web import deeplinks, labels

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(
        labels=labels, card_name=labels.card_name, notice_text=labels.notice_text,
        notice_link=deeplinks.notice_link)
    app.jinja_env.filters["minor_money"] = lambda minor, currency: money(Money(minor, currency))
