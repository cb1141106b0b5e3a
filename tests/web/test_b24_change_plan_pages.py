"""B24 on the pages, without JavaScript, in Swedish and English: Change plan from the
subscription's page — the plans offered with their prices beside today's and the day
the new price applies from, POST then redirect — and the refusals with their reason:
the provider's setting and a past-due balance (409), the role (403)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.models import AuditEvent, OutboxMessage, Subscription
from tests.web.conftest import sign_in_as
from tests.web.test_i33_subscription_pages import sub_url
from tests.web.test_partial_pay_now import text

PLANS = (("Bas", 290_00), ("Standard", 590_00), ("Premium", 990_00))
WORDS = {
    "sv": {"change": "Byt plan", "heading": "Byt plan för Intranät",
           "today": "I dag har Intranät planen Standard, för 590,00 kr i månaden.",
           "from": "Den nya planens pris gäller från och med 1 november 2026",
           "done": "Intranät har planen Premium från och med 1 november 2026, för 990,00 kr i månaden.",
           "off": "Planen kan inte bytas här.", "past_due": "Prenumerationen är förfallen.",
           "role": "Bara kontoadministratören kan göra det här", "choose": "Välj en plan"},
    "en": {"change": "Change plan", "heading": "Change the plan of Intranät",
           "today": "Today Intranät is on the Standard plan, at SEK 590.00 a month.",
           "from": "The new plan's price applies from November 1, 2026",
           "done": "Intranät is on the Premium plan from November 1, 2026, at SEK 990.00 a month.",
           "off": "The plan cannot be changed here.", "past_due": "The subscription is past due.",
           "role": "Only the account administrator can do this", "choose": "Choose a plan"},
}
FROM = {"price_from": "2026-11-01"}


@pytest.fixture
def offered(app):
    app.config.update(SUBSCRIPTION_PLAN_CHANGES=True, SUBSCRIPTION_PLANS=PLANS)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b24_change_plan_from_the_subscriptions_page_without_javascript(browser, demo, b, offered, lang):
    words = WORDS[lang]
    sign_in_as(browser, "anna@example.com", lang)
    page = text(browser.get(sub_url(demo, demo.intranet, lang)).get_data(as_text=True))
    assert words["change"] in page and "Standard" in page  # the button, and its plan
    shown = browser.get(sub_url(demo, demo.intranet, lang, "/plan"))
    assert shown.status_code == 200
    said = text(shown.get_data(as_text=True))
    assert words["heading"] in said and words["today"] in said and words["from"] in said
    assert re.search(r"Premium: (SEK )?990[.,]00", said) and "Bas" in said  # old → new price, each offered
    empty = browser.post(sub_url(demo, demo.intranet, lang, "/plan"), FROM)
    assert empty.status_code == 422 and words["choose"] in text(empty.get_data(as_text=True))
    done = browser.post(sub_url(demo, demo.intranet, lang, "/plan"), {**FROM, "plan": "Premium"})
    assert done.status_code == 303 and done.location.endswith(sub_url(demo, demo.intranet, lang))
    assert words["done"] in text(browser.get(done.location).get_data(as_text=True))
    b.session.rollback()
    assert b.session.get(Subscription, demo.intranet).monthly_fee_minor == 990_00
    assert b.session.scalars(select(OutboxMessage.template).where(
        OutboxMessage.template == "subscription_plan_changed")).one()
    assert b.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "subscription.plan_changed")).one()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b24_change_plan_is_refused_with_the_reason(browser, demo, b, app, lang):
    words = WORDS[lang]
    sign_in_as(browser, "anna@example.com", lang)
    off = browser.get(sub_url(demo, demo.intranet, lang, "/plan"))  # the provider's setting, off by default
    assert off.status_code == 409 and words["off"] in text(off.get_data(as_text=True))
    assert words["change"] not in text(browser.get(sub_url(demo, demo.intranet, lang)).get_data(as_text=True))
    app.config.update(SUBSCRIPTION_PLAN_CHANGES=True, SUBSCRIPTION_PLANS=PLANS)
    late = browser.get(sub_url(demo, demo.production, lang, "/plan"))
    assert late.status_code == 409 and words["past_due"] in text(late.get_data(as_text=True))
    forced = browser.post(sub_url(demo, demo.production, lang, "/plan"), {**FROM, "plan": "Bas"},
                          token_from=sub_url(demo, demo.intranet, lang))
    assert forced.status_code == 409
    not_offered = browser.post(sub_url(demo, demo.intranet, lang, "/plan"), {**FROM, "plan": "Gold"})
    assert not_offered.status_code == 409
    sign_in_as(browser, "erik@example.com", lang)  # a user of the account, not its administrator
    assert browser.get(sub_url(demo, demo.intranet, lang, "/plan")).status_code == 403
    assert browser.post(sub_url(demo, demo.intranet, lang, "/plan"), {**FROM, "plan": "Bas"},
                        token_from=sub_url(demo, demo.intranet, lang)).status_code == 403
    b.session.rollback()
    assert b.session.get(Subscription, demo.intranet).monthly_fee_minor == 590_00


def test_b24_a_plan_page_from_before_the_month_turned_is_asked_again(browser, demo, b, offered):
    sign_in_as(browser, "anna@example.com", "en")
    stale = browser.post(sub_url(demo, demo.intranet, "en", "/plan"), {"price_from": "2026-10-01", "plan": "Bas"})
    assert stale.status_code == 409 and "The dates have changed" in text(stale.get_data(as_text=True))
    assert 'value="2026-11-01"' in stale.get_data(as_text=True)
    b.session.rollback()
    assert b.session.get(Subscription, demo.intranet).monthly_fee_minor == 590_00
