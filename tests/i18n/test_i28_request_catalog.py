"""Issue 28 (pages ≤ 2× the bare page): the catalog, the locale's name and a card's
name are found once per request and kept — and what is kept never outlives the
language it was found for (force_locale in a request, the pseudo-locale, the next
request in another language)."""
from __future__ import annotations

from types import SimpleNamespace

from flask import g, render_template_string, url_for
from flask_babel import force_locale, gettext

from portal.i18n import locale_name, money
from portal.money import Money
from portal.web import url_for_each
from portal.wording import card_name

VISA = SimpleNamespace(kind="card", brand="visa", last4="4242")


def in_lang(app, lang):
    ctx = app.test_request_context(f"/{lang}/")
    ctx.push()
    g.lang = lang
    return ctx


def test_i28_a_forced_locale_inside_a_request_translates_in_it_and_back(app):
    ctx = in_lang(app, "sv")
    try:
        assert gettext("Invoices") == "Fakturor"
        assert render_template_string("{{ _('Invoices') }}") == "Fakturor"
        assert locale_name() == "sv"
        with force_locale("en"):  # an email to someone who reads English, sent from a Swedish page
            assert gettext("Invoices") == "Invoices"
            assert render_template_string("{{ _('Invoices') }}") == "Invoices"
            assert locale_name() == "en"
            assert money(Money(123_450, "SEK")) == "SEK\xa01,234.50"
            assert card_name(VISA) == "Visa ending in 4242"
        assert gettext("Invoices") == "Fakturor"
        assert locale_name() == "sv"
        assert money(Money(123_450, "SEK")) == "1\xa0234,50\xa0kr"
        assert card_name(VISA) == "Visa som slutar på 4242"
    finally:
        ctx.pop()


def test_i28_each_request_finds_its_own_language(app):
    for lang, expected in (("sv", "Fakturor"), ("en", "Invoices"), ("sv", "Fakturor")):
        ctx = in_lang(app, lang)
        try:
            assert render_template_string("{{ _('Invoices') }}") == expected
            assert card_name(VISA) == ("Visa som slutar på 4242" if lang == "sv" else "Visa ending in 4242")
        finally:
            ctx.pop()


def test_i28_the_pseudo_locale_is_not_served_the_english_catalog_kept_for_en(app):
    ctx = in_lang(app, "en")
    try:
        assert gettext("Invoices") == gettext("Invoices") == "Invoices"  # the second from what was kept
        assert card_name(VISA) == "Visa ending in 4242"
        g.lang = "en-XA"  # same locale object (English formats), pseudo-translated messages
        assert gettext("Invoices") != "Invoices"
        assert card_name(VISA) != "Visa ending in 4242"
    finally:
        ctx.pop()


def test_i28_row_links_built_once_are_the_links_url_for_builds(app):
    ctx = in_lang(app, "sv")
    try:
        detail = url_for_each("invoices.detail", "invoice_id", account_id=7)
        start = url_for_each("invoices.start", "invoice", account_id=7, profile_id=3)
        for invoice_id in (1, 9, 1_234_567, 2**31 - 1):
            assert detail(invoice_id) == url_for("invoices.detail", account_id=7, invoice_id=invoice_id)
            assert start(invoice_id) == url_for("invoices.start", account_id=7, profile_id=3, invoice=invoice_id)
        # An address that has the builder's slot number in it already is built by url_for each time.
        clash = url_for_each("invoices.detail", "invoice_id", account_id=1_987_654_321)
        assert clash(5) == url_for("invoices.detail", account_id=1_987_654_321, invoice_id=5)
    finally:
        ctx.pop()
