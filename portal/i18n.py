"""Languages: the URL carries the locale (/sv/…, /en/…); Swedish when unsure."""
from __future__ import annotations

from flask import Flask, g, request
from flask_babel import Babel

SUPPORTED_LOCALES = ("sv", "en")
DEFAULT_LOCALE = "sv"


def best_locale(accept_language_header: str | None = None) -> str:
    """The best supported locale for the request's Accept-Language, else Swedish."""
    try:
        match = request.accept_languages.best_match(SUPPORTED_LOCALES)
    except Exception:  # a malformed header is not the customer's problem
        match = None
    return match or DEFAULT_LOCALE


def select_locale() -> str:
    lang = getattr(g, "lang", None)
    if lang in SUPPORTED_LOCALES:
        return lang
    return best_locale()


def init_app(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=select_locale)
    # Same trimming as extraction (babel.cfg), so msgids match at run time.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
