"""Languages: the URL carries the locale (/sv/…, /en/…); `/` picks from the cookie,
then Accept-Language, then Swedish. Formats (money, dates) follow the page's locale
and the user's time zone (Europe/Stockholm unless the user chose another).

In development and tests a pseudo-locale (/en-XA/…, see portal/pseudo.py) shows
which text did not pass through the catalogs."""
from __future__ import annotations

import logging
import re
import weakref
from datetime import date, datetime
from urllib.parse import urlsplit, urlunsplit
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import Locale, get_global
from babel.lists import format_list
from babel.dates import get_timezone_location
from babel.numbers import format_decimal, get_currency_precision
from babel.support import NullTranslations, Translations
from flask import Flask, Response, current_app, g, redirect, request, url_for
from flask.globals import _cv_app
from jinja2 import pass_eval_context
from markupsafe import Markup
from flask_babel import (Babel, Domain, format_currency, format_date, format_number, format_time, get_timezone,
                         get_locale, get_translations, gettext)
from flask_login import current_user
from werkzeug.routing import BaseConverter
from wtforms.i18n import messages_path as wtforms_messages_path

from portal.money import MAX_MINOR, Money
from portal.pseudo import PseudoTranslations

SUPPORTED_LOCALES = ("sv", "en")
DEFAULT_LOCALE = "sv"
PSEUDO_LOCALE = "en-XA"  # formats as English; every message pseudo-translated
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}  # each language named in itself
LOCALE_COOKIE = "lang"

log = logging.getLogger(__name__)


def url_locales(app: Flask) -> tuple[str, ...]:
    """The language prefixes this app answers: the pseudo-locale only where enabled."""
    return SUPPORTED_LOCALES + ((PSEUDO_LOCALE,) if app.config.get("PSEUDO_LOCALE") else ())


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


def page_lang() -> str:
    """The language of this page as written in the URL (and in <html lang>)."""
    lang = getattr(g, "lang", None)
    return lang if lang in url_locales(current_app) else best_locale()


def select_locale() -> str:
    lang = page_lang()
    return "en" if lang == PSEUDO_LOCALE else lang


def country_name(code: str) -> str:
    """A country by its name in the current language (Babel's CLDR data)."""
    locale = get_locale()
    return locale.territories.get(code, code) if locale is not None else code


# B10: the time zones offered in personal settings: Europe's, UTC and the largest
# elsewhere (the service accepts any IANA zone; a person's own is always offered).
OFFERED_ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo",
                 "Africa/Johannesburg", "Asia/Dubai", "Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo",
                 "Australia/Sydney", "Atlantic/Reykjavik", "Europe/Amsterdam", "Europe/Athens", "Europe/Berlin",
                 "Europe/Brussels", "Europe/Copenhagen", "Europe/Dublin", "Europe/Helsinki", "Europe/Lisbon",
                 "Europe/London", "Europe/Madrid", "Europe/Oslo", "Europe/Paris", "Europe/Riga", "Europe/Rome",
                 "Europe/Stockholm", "Europe/Tallinn", "Europe/Vienna", "Europe/Vilnius", "Europe/Warsaw",
                 "Europe/Zurich")


def zone_choices(current: str | None) -> list[tuple[str, str]]:
    """(zone, its city and country in the page's language), sorted by what is shown."""
    locale = str(get_locale())
    zones = set(OFFERED_ZONES) | ({current} if current else set())
    named = [(zone, _remembered(("zone", zone, locale), lambda zone=zone: _zone_name(zone, locale)))
             for zone in zones]
    return sorted(named, key=lambda pair: pair[1])


def _zone_name(zone: str, locale: str) -> str:
    """'Sverige (Stockholm)', 'USA (Chicago)'; 'UTC' as it is."""
    territory = get_global("zone_territories").get(zone)
    city = get_timezone_location(zone, locale=locale, return_city=True)
    if not territory:
        return city
    return f"{Locale.parse(locale).territories.get(territory, territory)} ({city})"


def select_timezone() -> str | None:
    zone = getattr(current_user, "timezone", None) if current_user else None
    if zone:
        try:
            ZoneInfo(zone)
            return zone
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("ignoring unknown time zone %r of user %s", zone, current_user.get_id())
    return None  # the configured default, Europe/Stockholm


class PortalDomain(Domain):
    """The catalogs — or the pseudo-locale — and never a crash for a broken .mo:
    the page falls back to the English source text and the error is logged (the
    catalog check in the test suite names the broken entry).

    A page translates a hundred messages or more, and Flask-Babel looks the locale,
    the domain and the catalog up again for each, through Flask's context proxies
    (about 10 µs a message, a fifth of a list page's rendering): the catalog found is
    kept in the request's `g` for as long as the locale object (force_locale and
    refresh replace it) and the page's language (the pseudo-locale) stay the same."""

    def get_translations(self):
        app_ctx = _cv_app.get(None)
        babel_ctx = app_ctx.g.__dict__.get("_flask_babel") if app_ctx is not None else None
        locale = getattr(babel_ctx, "babel_locale", None)
        if locale is None:  # no request, or no locale chosen yet: Flask-Babel chooses
            return self._find_translations()
        kept = getattr(babel_ctx, "portal_translations", None)
        lang = app_ctx.g.__dict__.get("lang")
        if kept is not None and kept[0] is locale and kept[1] == lang and kept[2] is self:
            return kept[3]
        translations = self._find_translations()
        babel_ctx.portal_translations = (locale, lang, self, translations)
        return translations

    def _find_translations(self):
        if getattr(g, "lang", None) == PSEUDO_LOCALE and current_app.config.get("PSEUDO_LOCALE"):
            return PseudoTranslations()
        try:
            return super().get_translations()
        except Exception:  # noqa: BLE001 - any unreadable catalog
            log.exception("could not load the translations for %s", get_locale())
            return NullTranslations()


def pull_lang(endpoint: str | None, values: dict | None) -> None:
    if values is not None and "lang" in values:
        g.lang = values.pop("lang")


# The first path segment when it looks like a language: /sv/…, /de/…, /en-XA/…
LANGUAGE_PREFIX = re.compile(r"^/([a-z]{2}(?:-[A-Za-z]{2})?)(/.*)?$")


def lang_from_path() -> None:
    """An address no route matched (404, 405) still has a language: its /sv/… or /en/…
    prefix, else the visitor's best — so the page and its links are built in it."""
    if getattr(g, "lang", None) in url_locales(current_app):
        return
    prefix = LANGUAGE_PREFIX.match(request.path)
    g.lang = prefix.group(1) if prefix and prefix.group(1) in url_locales(current_app) else best_locale()


def add_lang(endpoint: str, values: dict) -> None:
    if "lang" not in values and getattr(g, "lang", None) and _takes_lang(endpoint):
        values["lang"] = g.lang


def _takes_lang(endpoint: str) -> bool:
    """Whether `endpoint`'s address has the language in it; asked for every link a page
    makes, so answered once per endpoint and URL map (the map is complete by then)."""
    url_map = current_app.url_map
    known = _TAKES_LANG.get(url_map)
    if known is None:
        known = _TAKES_LANG[url_map] = {}
    takes = known.get(endpoint)
    if takes is None:
        rules = url_map._rules_by_endpoint.get(endpoint, ())
        takes = known[endpoint] = any("lang" in rule.arguments for rule in rules)
    return takes


_TAKES_LANG: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


# The query parameters pages read (their meaning is the page's; see each view). Links
# that keep "this page's query" keep these and nothing else: never a route argument,
# and never url_for's own (_external, _scheme, _anchor, _method), which would let a
# query string steer the links a page builds.
QUERY_PARAMETERS = frozenset({"page", "chosen_page", "method", "invoice", "status", "subscription",
                              "before", "next", "first", "last", "topic", "payment"})


def kept_query(leave_out: str | None = None) -> dict[str, list[str]]:
    """This request's declared query parameters (see QUERY_PARAMETERS), as lists."""
    return {key: values for key, values in request.args.lists()
            if key in QUERY_PARAMETERS and key != leave_out}


def alternate_url(lang: str | None) -> str:
    """This page in `lang` (None: the language chooser), as an absolute address on
    PORTAL_BASE_URL's host — hreflang links must be absolute, and the request's own
    Host header is not to be trusted for it."""
    path = same_page_in(lang) if lang else url_for("root")
    base = urlsplit(current_app.config["PORTAL_BASE_URL"])
    return f"{base.scheme}://{base.netloc}{path}"


def answer_in(lang: str) -> None:
    """From here on this request leads to `lang`: the links it makes, and the `lang`
    cookie (remember_lang) — after sign-in, the person's own language (issue 20 item 5)."""
    if lang in SUPPORTED_LOCALES:
        g.lang = lang


def path_in(path: str, lang: str) -> str:
    """A same-site path with its language prefix (one this app answers) changed to
    `lang`; a path without one is left as it is."""
    parts = urlsplit(path)
    segments = parts.path.split("/", 2)  # "", "sv", the rest
    if len(segments) >= 2 and segments[1] in url_locales(current_app):
        segments[1] = lang
        return urlunsplit(parts._replace(path="/".join(segments)))
    return path


def this_page_is(endpoint: str, **values) -> None:
    """This response shows a page whose own address is not the request's — a POST
    answered with a page that also has a GET address (the decline page): the language
    switch and hreflang lead there, not to the POST's address."""
    g.page_address = (endpoint, values)


def same_page_in(lang: str) -> str:
    """This page in another language (the language switcher, hreflang)."""
    page = g.get("page_address")
    if page is not None:
        endpoint, values = page
        return url_for(endpoint, **{**values, "lang": lang})
    if request.endpoint is None or request.url_rule is None or "lang" not in request.url_rule.arguments \
            or "GET" not in (request.url_rule.methods or ()):  # a POST-only address would answer 405
        return url_for("pages.home", lang=lang)
    return url_for(request.endpoint, **kept_query(), **{**(request.view_args or {}), "lang": lang})


# Formatting with Babel costs tens of microseconds a value, and a page of 50 rows
# formats hundreds: the same (value, locale) always gives the same text, so it is
# remembered, process-wide and bounded.
_FORMATTED: dict[tuple, str] = {}
_FORMATTED_MAX = 20_000


def _remembered(key: tuple, make) -> str:
    text = _FORMATTED.get(key)
    if text is None:
        if len(_FORMATTED) >= _FORMATTED_MAX:
            _FORMATTED.clear()
        text = _FORMATTED[key] = make()
    return text


def locale_name() -> str:
    """str(get_locale()): the request's locale, kept once Flask-Babel has chosen it (a
    page formats a hundred values, and Flask-Babel's own lookup goes through Flask's
    context proxies each time); Flask-Babel's answer before that and outside requests."""
    app_ctx = _cv_app.get(None)
    babel_ctx = app_ctx.g.__dict__.get("_flask_babel") if app_ctx is not None else None
    locale = getattr(babel_ctx, "babel_locale", None)
    if locale is None:
        return str(get_locale())
    kept = getattr(babel_ctx, "portal_locale_name", None)
    if kept is None or kept[0] is not locale:
        kept = babel_ctx.portal_locale_name = (locale, str(locale))
    return kept[1]


def remembered_text(key: tuple, make) -> str:
    """A text made from `key` in the page's language (a card's name), remembered like
    the formatted values below: per locale and per page language (the pseudo-locale)."""
    app_ctx = _cv_app.get(None)
    lang = app_ctx.g.__dict__.get("lang") if app_ctx is not None else None
    return _remembered(("text", key, locale_name(), lang), make)


def money(value: Money | None) -> str:
    """M1 at the edge: Swedish `1 234,50 kr`; English `SEK 1,234.50` (decision: the
    ISO code is unambiguous for English readers in Sweden)."""
    if value is None:
        return ""
    locale = locale_name()
    return _remembered(("money", value.minor, value.currency, locale), lambda: _money(value, locale))


def _money(value: Money, locale: str) -> str:
    digits = get_currency_precision(value.currency)
    amount = Decimal(value.minor).scaleb(-digits)
    if locale == "sv":
        return format_currency(amount, value.currency)
    return format_currency(amount, value.currency, format="¤¤\xa0#,##0.00")


def parse_money(text: str, currency: str) -> Money | None:
    """An amount a person typed, in the page's language: `1 234,50`, `1234,5`, `500 kr`
    in Swedish; `1,234.50`, `SEK 500` in English. None when it is not one (no more
    decimals than the currency has, not negative, not above MAX_MINOR)."""
    locale = get_locale()
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", text or "")
    for symbol in {currency, locale.currency_symbols.get(currency, currency), "kr", "kr."}:
        cleaned = cleaned.removeprefix(symbol).removesuffix(symbol)
    group, decimal_sign = locale.number_symbols["latn"]["group"], locale.number_symbols["latn"]["decimal"]
    if not re.fullmatch(rf"[0-9]{{1,3}}(\{group}?[0-9]{{3}})*(\{decimal_sign}[0-9]+)?|[0-9]+(\{decimal_sign}[0-9]+)?",
                        cleaned):
        return None
    amount = Decimal(cleaned.replace(group, "").replace(decimal_sign, "."))
    digits = get_currency_precision(currency)
    if amount.as_tuple().exponent < -digits or len(cleaned) > 20:
        return None
    minor = int(amount.scaleb(digits))
    return Money(minor, currency) if minor <= MAX_MINOR else None


def day(value: date | datetime | None, style: str = "long") -> str:
    """A calendar day; a datetime (stored in UTC) is first moved to the user's zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):  # shown in the user's time zone: not remembered
        return format_date(value, style)
    return _remembered(("day", value, style, locale_name()), lambda: format_date(value, style))


def day_of(details: dict, key: str) -> str:
    """A day an event's details or a notice's payload keep as ISO text ("2026-12-31"),
    written as the page writes days; "" where it has none."""
    return day(date.fromisoformat(details[key])) if details.get(key) else ""


def month(value: date | None) -> str:
    """A calendar month, e.g. "december 2026" / "December 2026" (issue 33: costs)."""
    if value is None:
        return ""
    return _remembered(("month", value, locale_name()), lambda: format_date(value, "LLLL y"))


def number(value: int | Decimal | str | None) -> str:
    """A count in the page's language: `1 234` in Swedish, `1,234` in English; a decimal
    (a usage line's quantity, kept as a string) with every decimal it has: `1,5` / `1.5`."""
    if value is None:
        return ""
    if isinstance(value, int):
        return _remembered(("number", value, locale_name()), lambda: format_number(value))
    exact = Decimal(value)
    return _remembered(("decimal", str(exact), locale_name()),
                       lambda: format_decimal(exact, locale=get_locale(), decimal_quantization=False))


def some_names(names, count: int | None = None) -> str:
    """Some names and how many more there are (issue 20 item 4, issue 28: a settlement
    of 100,000 subscriptions names the first few and counts the rest): "A, B, C and
    99,997 more"; all of them as a list ("A, B och C") when none is left out. `names`:
    the first few (the caller chose how many); `count`: how many in all."""
    names = [str(name) for name in names or [] if name]
    rest = (count if count is not None else len(names)) - len(names)
    if rest <= 0:
        return format_list(names, locale=get_locale()) if names else ""
    # The plural form chosen by the count, the count in the language's digits ("1 234");
    # not flask_babel's ngettext, whose own `num` argument takes the count unformatted.
    more = get_translations().ungettext("and %(num)s more", "and %(num)s more", rest) % {"num": number(rest)}
    return ", ".join(names) + " " + more


class WTFormsCatalog:
    """WTForms' own messages ("Not a valid choice") in the page's language. Flask-WTF
    reads that catalog from disk on every request that builds a form; here each
    language's catalog is read once per process."""
    _loaded: dict[str, Translations] = {}

    def _catalog(self) -> Translations:
        locale = str(get_locale())
        catalog = self._loaded.get(locale)
        if catalog is None:
            catalog = self._loaded[locale] = Translations.load(wtforms_messages_path(), [locale], domain="wtforms")
        return catalog

    def gettext(self, string: str) -> str:
        return self._catalog().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog().ungettext(singular, plural, n)


def moment(value: datetime | None) -> str:
    """Date and time in the user's time zone (stored in UTC), to the minute, as people
    write it: "25 november 2026 kl. 14:05", "November 25, 2026 at 2:05 PM". Remembered
    per zone, as a list of payments formats 25 of them a page."""
    if value is None:
        return ""
    # Translators: a moment: the date, then the time to the minute ("25 november 2026 kl. 14:05").
    return _remembered(("moment", value, page_lang(), locale_name(), str(get_timezone())),
                       lambda: gettext("%(date)s at %(time)s", date=format_date(value, "long"),
                                       time=format_time(value, "short")))


def remember_lang(response: Response) -> Response:
    """The language last read is where `/` leads next time."""
    lang = getattr(g, "lang", None)
    rule = request.url_rule
    if rule is None or "lang" not in rule.arguments:  # only pages the visitor chose to read
        return response
    if lang in SUPPORTED_LOCALES and request.cookies.get(LOCALE_COOKIE) != lang:
        response.set_cookie(LOCALE_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


def root_redirect() -> Response:
    return redirect(url_for("pages.home", lang=best_locale()))


def _template_callables(domain: "PortalDomain") -> dict:
    """Jinja's newstyle `_`, `gettext`, `ngettext`, `pgettext` and `npgettext`, written
    the same (the message marked safe where the template escapes, then `%` with the
    values, escaped) but taking the evaluation context instead of the whole context:
    Jinja copies every variable into a new context for each call of a context function
    inside a loop or block with variables of its own, and `_` was two such calls — a
    list of 25 rows translates a hundred messages (issue 28, pages ≤ 2× the bare page)."""
    def finish(eval_ctx, rv: str, variables: dict):  # the values may be named num or context
        if not variables and "%" not in rv:  # most messages: `%` would give the same text
            return Markup(rv) if eval_ctx.autoescape else rv
        return (Markup(rv) if eval_ctx.autoescape else rv) % variables

    @pass_eval_context
    def gettext_(eval_ctx, string: str, /, **variables):
        return finish(eval_ctx, domain.get_translations().ugettext(string), variables)

    @pass_eval_context
    def ngettext_(eval_ctx, singular: str, plural: str, num: int, /, **variables):
        variables.setdefault("num", num)
        return finish(eval_ctx, domain.get_translations().ungettext(singular, plural, num), variables)

    @pass_eval_context
    def pgettext_(eval_ctx, context: str, string: str, /, **variables):
        variables.setdefault("context", context)
        return finish(eval_ctx, domain.get_translations().upgettext(context, string), variables)

    @pass_eval_context
    def npgettext_(eval_ctx, context: str, singular: str, plural: str, num: int, /,
                   **variables):
        variables.setdefault("context", context)
        variables.setdefault("num", num)
        return finish(eval_ctx, domain.get_translations().unpgettext(context, singular, plural, num), variables)

    return {"_": gettext_, "gettext": gettext_, "ngettext": ngettext_, "pgettext": pgettext_,
            "npgettext": npgettext_}


def init_app(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # Replace the default domain so the pseudo-locale and the fallback apply everywhere.
    domain = app.extensions["babel"].instance.__dict__["domain_instance"] = PortalDomain()
    # Templates translate through it directly (the portal never makes another domain
    # the request's default): Flask-Babel's callables look the domain up per message.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: domain.get_translations().ugettext(s),
        ngettext=lambda s, p, n: domain.get_translations().ungettext(s, p, n),
        pgettext=lambda c, s: domain.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: domain.get_translations().unpgettext(c, s, p, n),
        newstyle=True)
    app.jinja_env.globals.update(_template_callables(domain))

    class LangConverter(BaseConverter):
        regex = "|".join(url_locales(app))

    app.url_map.converters["lang"] = LangConverter
    app.url_value_preprocessor(pull_lang)
    app.before_request(lang_from_path)  # also runs when no route matched (before the 404)
    app.after_request(remember_lang)
    app.url_defaults(add_lang)
    # Same trimming as extraction (babel.cfg), so msgids match at run time.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters.update(money=money, day=day, month=month, moment=moment, some_names=some_names)
    app.jinja_env.globals.update(same_page_in=same_page_in, alternate_url=alternate_url, LANGUAGE_NAMES=LANGUAGE_NAMES,
                                 SUPPORTED_LOCALES=SUPPORTED_LOCALES, current_lang=page_lang)
    app.add_url_rule("/", "root", root_redirect)
