"""B21 on the pages, without JavaScript, in Swedish and English: Pause and Resume from
the subscription's page, each on a confirmation page that says what changes and from
when (POST, then redirect), the status "Paused" on the page and in Overview's list, and
the refusals with their reason — the provider's setting and a past-due balance (409),
the role (403)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.models import AuditEvent, OutboxMessage, Subscription, SubscriptionStatus
from tests.web.conftest import sign_in_as
from tests.web.test_i33_subscription_pages import sub_url
from tests.web.test_partial_pay_now import text

WORDS = {
    "sv": {"pause": "Pausa prenumerationen", "resume": "Återuppta prenumerationen", "status": "Pausad",
           "question": "Pausa Intranät?",
           "what": "Intranät pausas från och med i dag, 25 november 2026: dess tjänster stoppas tills du återupptar den.",
           "done": "Intranät är pausad från och med 25 november 2026. Du debiteras inte medan den är pausad.",
           "since": "Pausad sedan den 25 november 2026", "resume_question": "Återuppta Intranät?",
           "resumed": "Intranät är igång igen från och med 25 november 2026 och debiteras från den dagen.",
           "off": "Prenumerationer kan inte pausas här.",
           "past_due": "Prenumerationen är förfallen. Reglera saldot först, sedan kan du pausa den.",
           "role": "Bara kontoadministratören kan göra det här"},
    "en": {"pause": "Pause subscription", "resume": "Resume subscription", "status": "Paused",
           "question": "Pause Intranät?",
           "what": "Intranät is paused from today, November 25, 2026: its services stop until you resume it.",
           "done": "Intranät is paused from November 25, 2026. It is not billed while it is paused.",
           "since": "Paused since November 25, 2026", "resume_question": "Resume Intranät?",
           "resumed": "Intranät is running again from November 25, 2026 and is billed from that day.",
           "off": "Subscriptions cannot be paused here.",
           "past_due": "The subscription is past due. Settle its balance first; then you can pause it.",
           "role": "Only the account administrator can do this"},
}
TODAY = {"last_day": "2026-11-25"}  # the day the confirmation page names


@pytest.fixture
def allowed(app):
    app.config.update(SUBSCRIPTION_PAUSE=True)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b21_pause_and_resume_from_the_subscriptions_page_without_javascript(browser, demo, b, allowed, lang):
    words = WORDS[lang]
    sign_in_as(browser, "anna@example.com", lang)
    assert words["pause"] in text(browser.get(sub_url(demo, demo.intranet, lang)).get_data(as_text=True))
    confirm = browser.get(sub_url(demo, demo.intranet, lang, "/pause"))
    assert confirm.status_code == 200
    said = text(confirm.get_data(as_text=True))
    assert words["question"] in said and words["what"] in said  # what will change, and from when
    done = browser.post(sub_url(demo, demo.intranet, lang, "/pause"), TODAY)
    assert done.status_code == 303 and done.location.endswith(sub_url(demo, demo.intranet, lang))
    after = text(browser.get(done.location).get_data(as_text=True))
    assert words["done"] in after and words["status"] in after and words["resume"] in after
    assert words["pause"] not in after
    overview = text(browser.get(f"/{lang}/accounts/{demo.payg}/").get_data(as_text=True))
    assert words["status"] in overview and words["since"] in overview  # the badge and the day, in the list
    b.session.rollback()
    assert b.session.get(Subscription, demo.intranet).status == SubscriptionStatus.PAUSED
    assert b.session.scalars(select(OutboxMessage.template).where(
        OutboxMessage.template == "subscription_paused")).one()

    resume = browser.get(sub_url(demo, demo.intranet, lang, "/resume"))
    assert resume.status_code == 200 and words["resume_question"] in text(resume.get_data(as_text=True))
    resumed = browser.post(sub_url(demo, demo.intranet, lang, "/resume"), TODAY)
    assert resumed.status_code == 303
    assert words["resumed"] in text(browser.get(resumed.location).get_data(as_text=True))
    b.session.rollback()
    assert b.session.get(Subscription, demo.intranet).status == SubscriptionStatus.ACTIVE
    assert {"subscription.paused", "subscription.resumed"} <= set(b.session.scalars(select(AuditEvent.action)))


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b21_pause_is_refused_with_the_reason(browser, demo, b, app, lang):
    words = WORDS[lang]
    sign_in_as(browser, "anna@example.com", lang)
    off = browser.get(sub_url(demo, demo.intranet, lang, "/pause"))  # the provider's setting, off by default
    assert off.status_code == 409 and words["off"] in text(off.get_data(as_text=True))
    assert words["pause"] not in text(browser.get(sub_url(demo, demo.intranet, lang)).get_data(as_text=True))
    app.config.update(SUBSCRIPTION_PAUSE=True)
    page = text(browser.get(sub_url(demo, demo.production, lang)).get_data(as_text=True))
    assert words["past_due"] in page and words["pause"] not in page  # the reason instead of the button (B2)
    late = browser.get(sub_url(demo, demo.production, lang, "/pause"))
    assert late.status_code == 409 and words["past_due"] in text(late.get_data(as_text=True))
    forced = browser.post(sub_url(demo, demo.production, lang, "/pause"), TODAY,
                          token_from=sub_url(demo, demo.intranet, lang))
    assert forced.status_code == 409
    assert browser.get(sub_url(demo, demo.intranet, lang, "/resume")).status_code == 409  # not paused
    stale = browser.post(sub_url(demo, demo.intranet, lang, "/pause"), {"last_day": "2026-11-24"})  # yesterday's page
    assert stale.status_code == 409 and 'value="2026-11-25"' in stale.get_data(as_text=True)
    sign_in_as(browser, "erik@example.com", lang)  # a user of the account, not its administrator
    assert words["role"] in text(browser.get(sub_url(demo, demo.intranet, lang, "/pause")).get_data(as_text=True))
    assert browser.get(sub_url(demo, demo.intranet, lang, "/pause")).status_code == 403
    assert browser.post(sub_url(demo, demo.intranet, lang, "/pause"), TODAY,
                        token_from=sub_url(demo, demo.intranet, lang)).status_code == 403
    b.session.rollback()
    assert {b.session.get(Subscription, s).status for s in (demo.intranet, demo.production)} == {
        SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE}


def test_b21_the_apis_subscription_status_lists_paused(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    status = next(schema for name, schema in schemas.items() if name.startswith("SubscriptionStatus"))
    assert "paused" in status["enum"] and "cancelled" in status["enum"]
