"""Issue 33 item 1 on the pages, without JavaScript, in Swedish and English: the
subscription's page from Overview, Cancel at period end and Undo cancellation on
confirmation pages of their own (POST, then redirect), and the refusals with their
reason — the role (403), a past-due balance (409)."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from portal.models import AuditEvent, OutboxMessage, Subscription
from tests.web.conftest import sign_in_as
from tests.web.test_partial_pay_now import text

WORDS = {
    "sv": {"cancel": "Avsluta vid periodens slut", "undo": "Ångra avslutet", "status": "Aktiv",
           "question": "Avsluta Intranät vid periodens slut?",
           "what": "Intranät fortsätter till och med 30 november 2026, sin sista dag, och upphör sedan.",
           "done": "Intranät avslutas vid periodens slut. Sista dagen är 30 november 2026.",
           "runs": "Avslutad: pågår till och med 30 november 2026",
           "undone": "Avslutet är ångrat: Intranät fortsätter.",
           "past_due": "Prenumerationen är förfallen. Reglera saldot först",
           "role": "Bara kontoadministratören kan göra det här"},
    "en": {"cancel": "Cancel at period end", "undo": "Undo cancellation", "status": "Active",
           "question": "Cancel Intranät at the end of the period?",
           "what": "Intranät keeps running until November 30, 2026, its last day, and then ends.",
           "done": "Intranät is cancelled at the end of the period. Its last day is November 30, 2026.",
           "runs": "Cancelled: runs until November 30, 2026",
           "undone": "The cancellation is undone: Intranät keeps running.",
           "past_due": "The subscription is past due. Settle its balance first",
           "role": "Only the account administrator can do this"},
}


LAST_DAY = {"last_day": "2026-11-30"}  # what the confirmation page names (today is 25 November)


def sub_url(demo, sub, lang, tail=""):
    return f"/{lang}/accounts/{demo.payg}/subscriptions/{sub}{tail}"


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i33_cancel_at_period_end_and_undo_from_overview_without_javascript(browser, demo, b, lang):
    words = WORDS[lang]
    sign_in_as(browser, "anna@example.com", lang)
    overview = browser.get(f"/{lang}/accounts/{demo.payg}/").get_data(as_text=True)
    assert f'href="{sub_url(demo, demo.intranet, lang)}"' in overview  # linked from Overview's list
    page = text(browser.get(sub_url(demo, demo.intranet, lang)).get_data(as_text=True))
    assert words["status"] in page and re.search(r"590[.,]00", page)  # status and monthly price
    confirm = browser.get(sub_url(demo, demo.intranet, lang, "/cancel"))
    assert confirm.status_code == 200
    said = text(confirm.get_data(as_text=True))
    assert words["question"] in said and words["what"] in said  # what will change, and when
    done = browser.post(sub_url(demo, demo.intranet, lang, "/cancel"), LAST_DAY)
    assert done.status_code == 303 and done.location.endswith(sub_url(demo, demo.intranet, lang))
    after = text(browser.get(done.location).get_data(as_text=True))
    assert words["done"] in after and words["undo"] in after
    assert words["runs"] in text(browser.get(f"/{lang}/accounts/{demo.payg}/").get_data(as_text=True))
    b.session.rollback()
    assert b.session.get(Subscription, demo.intranet).cancel_at == date(2026, 12, 1)
    assert b.session.scalars(select(OutboxMessage.template).where(
        OutboxMessage.template == "subscription_cancel_planned")).one()

    assert browser.get(sub_url(demo, demo.intranet, lang, "/undo-cancel")).status_code == 200
    undone = browser.post(sub_url(demo, demo.intranet, lang, "/undo-cancel"), LAST_DAY)
    assert undone.status_code == 303
    assert words["undone"] in text(browser.get(undone.location).get_data(as_text=True))
    b.session.rollback()
    assert b.session.get(Subscription, demo.intranet).cancel_at is None
    assert {"subscription.cancel_planned", "subscription.cancel_undone"} <= set(
        b.session.scalars(select(AuditEvent.action)))


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i33_cancel_is_refused_with_the_reason_for_a_past_due_subscription_and_a_user(browser, demo, b, lang):
    words = WORDS[lang]
    sign_in_as(browser, "anna@example.com", lang)
    page = text(browser.get(sub_url(demo, demo.production, lang)).get_data(as_text=True))
    assert words["past_due"] in page and words["cancel"] not in page  # the reason instead of the button (B2)
    refused = browser.get(sub_url(demo, demo.production, lang, "/cancel"))
    assert refused.status_code == 409 and words["past_due"] in text(refused.get_data(as_text=True))
    forced = browser.post(sub_url(demo, demo.production, lang, "/cancel"), LAST_DAY, token_from=sub_url(demo, demo.intranet, lang))
    assert forced.status_code == 409 and words["past_due"] in text(forced.get_data(as_text=True))

    sign_in_as(browser, "erik@example.com", lang)  # a user of the account, not its administrator
    assert words["role"] in text(browser.get(sub_url(demo, demo.intranet, lang)).get_data(as_text=True))
    assert browser.get(sub_url(demo, demo.intranet, lang, "/cancel")).status_code == 403
    assert browser.post(sub_url(demo, demo.intranet, lang, "/cancel"), LAST_DAY,
                        token_from=sub_url(demo, demo.intranet, lang)).status_code == 403
    b.session.rollback()
    assert b.session.get(Subscription, demo.production).cancel_at is None
    assert b.session.get(Subscription, demo.intranet).cancel_at is None


def test_i33_another_accounts_subscription_is_not_found(browser, demo):
    sign_in_as(browser, "anna@example.com", "en")
    assert browser.get(sub_url(demo, demo.customer_portal, "en")).status_code == 404
    assert browser.get(f"/en/accounts/{demo.agreement}/subscriptions/{demo.customer_portal}").status_code == 404


def test_i33_an_agreements_owner_may_undo_and_its_reader_is_told_why_not(browser, demo):
    url = f"/en/accounts/{demo.agreement}/subscriptions/{demo.customer_portal}"
    sign_in_as(browser, "olivia@example.com", "en")
    page = text(browser.get(url).get_data(as_text=True))
    assert "Undo cancellation" in page and "Last day" in page  # the demo's one cancelled at the month's end
    assert browser.get(url + "/undo-cancel").status_code == 200
    sign_in_as(browser, "rasmus@example.com", "sv")
    refused = browser.get(f"/sv/accounts/{demo.agreement}/subscriptions/{demo.customer_portal}/undo-cancel")
    assert refused.status_code == 403
    assert "Bara en ägare eller deltagare i faktureringsprofilen kan avsluta" in text(refused.get_data(as_text=True))


def test_i33_a_confirmation_from_before_the_month_turned_is_asked_again(browser, demo, b):
    sign_in_as(browser, "anna@example.com", "en")
    stale = browser.post(sub_url(demo, demo.intranet, "en", "/cancel"), {"last_day": "2026-10-31"})  # October's page
    assert stale.status_code == 409
    said = text(stale.get_data(as_text=True))
    assert "The dates have changed" in said and "until November 30, 2026, its last day" in said
    assert 'value="2026-11-30"' in stale.get_data(as_text=True)  # the form asks again with today's date
    assert browser.post(sub_url(demo, demo.intranet, "en", "/cancel"), {}).status_code == 422  # a forced empty form
    b.session.rollback()
    assert b.session.get(Subscription, demo.intranet).cancel_at is None
