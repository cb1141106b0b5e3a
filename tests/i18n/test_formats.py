"""M1 at the edge: money, dates and times in the page's locale and the user's zone."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from flask import g

from portal.money import Money
from portal.i18n import day, moment, money, number


@pytest.fixture
def page(app):
    def in_lang(lang):
        ctx = app.test_request_context(f"/{lang}/")
        ctx.push()
        g.lang = lang
        return ctx
    return in_lang


def test_m1_swedish_money_uses_cldr_format_with_non_breaking_spaces(page):
    ctx = page("sv")
    try:
        assert money(Money(123_450, "SEK")) == "1\xa0234,50\xa0kr"
        assert money(Money(5, "SEK")) == "0,05\xa0kr"
        assert money(Money(-123_450, "SEK")) == "-1\xa0234,50\xa0kr"
        assert money(Money(123_450, "EUR")) == "1\xa0234,50\xa0€"
    finally:
        ctx.pop()


def test_m1_english_money_shows_the_iso_code(page):
    ctx = page("en")
    try:
        assert money(Money(123_450, "SEK")) == "SEK\xa01,234.50"
        assert money(Money(100, "JPY")) == "JPY\xa0100"  # a yen has no minor unit
    finally:
        ctx.pop()


def test_dates_follow_the_page_language(page):
    ctx = page("sv")
    try:
        assert day(date(2026, 11, 25)) == "25 november 2026"
        assert day(date(2026, 11, 25), "medium") == "25 nov. 2026"
    finally:
        ctx.pop()
    ctx = page("en")
    try:
        assert day(date(2026, 11, 25)) == "November 25, 2026"
    finally:
        ctx.pop()


def test_times_are_shown_in_stockholm_time_by_default(page):
    ctx = page("sv")
    try:
        # 23:30 UTC on 25 November is already 26 November in Stockholm (UTC+1).
        assert day(datetime(2026, 11, 25, 23, 30)) == "26 november 2026"
        assert "00:30" in moment(datetime(2026, 11, 25, 23, 30))
    finally:
        ctx.pop()


def test_a_users_own_time_zone_is_used_when_set(app, b):
    from flask_login import login_user
    from tests import factories as f
    user = f.user(b)
    user.timezone = "America/New_York"
    b.session.commit()
    with app.test_request_context("/en/"):
        g.lang = "en"
        login_user(user)
        assert "6:30" in moment(datetime(2026, 11, 25, 11, 30))  # UTC−5
    user.timezone = "Not/AZone"
    b.session.commit()
    with app.test_request_context("/en/"):
        g.lang = "en"
        login_user(user)
        assert "12:30" in moment(datetime(2026, 11, 25, 11, 30))  # falls back to Stockholm


def test_counts_follow_the_page_language_and_are_remembered_per_language(page):
    ctx = page("sv")
    try:
        assert number(1234567) == "1\xa0234\xa0567"
    finally:
        ctx.pop()
    ctx = page("en")
    try:
        assert number(1234567) == "1,234,567"  # not the Swedish text remembered above
    finally:
        ctx.pop()


def test_wtforms_own_messages_are_in_the_page_language(page):
    from portal.forms import InvoiceFilterForm
    for lang, expected in (("sv", "Inte ett giltigt val"), ("en", "Not a valid choice."), ("sv", "Inte ett giltigt val")):
        ctx = page(lang)
        try:
            form = InvoiceFilterForm()
            assert form.meta.get_translations(form).gettext("Not a valid choice.") == expected
        finally:
            ctx.pop()
