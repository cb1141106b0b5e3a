"""Languages: the URL carries the locale (/sv/…, /en/…); `/` picks from the cookie,
then Accept-Language, then Swedish. Formats (money, dates) follow the page's locale."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.numbers import get_currency_precision
from flask import Flask, Response, g, redirect, request, url_for
from flask_babel import Babel, format_currency, format_date, format_datetime, get_locale
from werkzeug.routing import BaseConverter

from portal.billing.money import Money

SUPPORTED_LOCALES = ("sv", "en")
DEFAULT_LOCALE = "sv"
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}  # each language named in itself
LOCALE_COOKIE = "lang"


class LangConverter(BaseConverter):
    regex = "|".join(SUPPORTED_LOCALES)


def best_locale() -> str:
    """The visitor's best supported language: cookie, Accept-Language, else Swedish."""
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in SUPPORTED_LOCALES:
        return cookie
    try:
        match = request.accept_languages.best_match(SUPPORTED_LOCALES)
    except (ValueError, TypeError):  # a malformed header is not the customer's problem
        match = None
    return match or DEFAULT_LOCALE


def select_locale() -> str:
    lang = getattr(g, "lang", None)
    return lang if lang in SUPPORTED_LOCALES else best_locale()


def pull_lang(endpoint: str | None, values: dict | None) -> None:
    if values is not None and "lang" in values:
        g.lang = values.pop("lang")


def add_lang(endpoint: str, values: dict) -> None:
    if "lang" not in values and getattr(g, "lang", None) and _takes_lang(endpoint):
        values["lang"] = g.lang


def _takes_lang(endpoint: str) -> bool:
    from flask import current_app
    rules = current_app.url_map._rules_by_endpoint.get(endpoint, ())
    return any("lang" in rule.arguments for rule in rules)


def same_page_in(lang: str) -> str:
    """This page in another language (the language switcher, hreflang)."""
    if request.endpoint is None or request.url_rule is None or "lang" not in request.url_rule.arguments:
        return url_for("pages.home", lang=lang)
    return url_for(request.endpoint, **{**(request.view_args or {}), "lang": lang}, **request.args)


def money(value: Money | None) -> str:
    """M1 at the edge: Swedish `1 234,50 kr`; English `SEK 1,234.50` (decision: the
    ISO code is unambiguous for English readers in Sweden)."""
    if value is None:
        return ""
    digits = get_currency_precision(value.currency)
    amount = Decimal(value.minor).scaleb(-digits)
    if str(get_locale()) == "sv":
        return format_currency(amount, value.currency)
    return format_currency(amount, value.currency, format="¤\xa0#,##0.00")


def day(value: date | datetime | None, style: str = "long") -> str:
    return "" if value is None else format_date(value, style)


def moment(value: datetime | None) -> str:
    """An instant (stored in UTC) in the portal's time zone, e.g. for the audit log."""
    return "" if value is None else format_datetime(value, "medium")


def root_redirect() -> Response:
    return redirect(url_for("pages.home", lang=best_locale()))


def init_app(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.url_map.converters["lang"] = LangConverter
    app.url_value_preprocessor(pull_lang)
    app.url_defaults(add_lang)
    # Same trimming as extraction (babel.cfg), so msgids match at run time.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["moment"] = moment
    app.jinja_env.globals.update(same_page_in=same_page_in, LANGUAGE_NAMES=LANGUAGE_NAMES,
                                 SUPPORTED_LOCALES=SUPPORTED_LOCALES)
    app.add_url_rule("/", "root", root_redirect)
