"""The web layer: blueprints that parse HTTP, call a service, render a page."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from portal.web import account, auth, errors, invoices, overview, pages, security, settle
    from portal.web.common import DatabaseId

    app.url_map.converters["int"] = DatabaseId  # before any route is added
    for module in (pages, auth, overview, settle, invoices, account):
        app.register_blueprint(module.bp)
    _template_helpers(app)
    auth.init_app(app)
    errors.init_app(app)
    security.init_app(app)


def _template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    from portal.billing.money import Money
    from portal.i18n import money
    from portal.web import labels

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(
        labels=labels, card_name=labels.card_name, notice_text=labels.notice_text,
        audit_text=labels.audit_text, may_view_audit=_may_view_audit,
        current_lang=lambda: str(get_locale()))
    app.jinja_env.filters["minor_money"] = lambda minor, currency: money(Money(minor, currency))


def _may_view_audit(account) -> bool:
    """The account navigation links the audit log only for those who may see it."""
    from flask_login import current_user

    from portal.billing import access
    from portal.extensions import db
    return bool(current_user.is_authenticated and access.decide(
        db.session, current_user, account, access.Action.VIEW_AUDIT))
