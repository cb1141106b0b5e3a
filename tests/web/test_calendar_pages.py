"""What people see of the calendar (M7, R12): an invoice due today is not past due
yet; the disable, disabled and deletion dates are the same on every page, banner,
notice and email, in Swedish and English, because one function computes each."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import select

from portal.billing.cycle import lifecycle
from portal.billing.clock import FixedClock
from portal.mail.render import render_email
from portal.models import Invoice, InvoiceStatus, OutboxMessage, Subscription
from tests.web.conftest import sign_in_as


def long_day(day: date, lang: str) -> str:
    """How the portal writes a day (the |day filter, CLDR's long format)."""
    return format_date(day, "long", locale=lang)


class TestOnTheFirstOfDecember:
    @pytest.fixture
    def clock(self):
        return FixedClock(date(2026, 12, 1))

    def test_m7_an_invoice_due_today_is_due_and_past_due_only_from_tomorrow(self, b, demo, clock, browser):
        due_today = b.session.scalars(select(Invoice).where(Invoice.due_on == date(2026, 12, 1),
                                                            Invoice.billing_profile_id == demo.profile)).one()
        assert due_today.status == InvoiceStatus.DUE  # the demo, seeded on its due day
        sign_in_as(browser, "olivia@example.com")
        url = f"/sv/accounts/{demo.agreement}/invoices/{due_today.id}"
        html = browser.get(url).get_data(as_text=True)
        assert "status--due" in html and "Att betala" in html and "status--past_due" not in html
        assert "1 december 2026" in html
        clock.current = date(2026, 12, 2)
        lifecycle.run_billing_cycle(b)
        sign_in_as(browser, "olivia@example.com")  # a day later: the session has ended
        html = browser.get(url).get_data(as_text=True)
        assert "status--past_due" in html and "Förfallen" in html


def test_r12_pages_banners_notices_and_emails_show_the_same_dates_in_both_languages(app, b, demo, clock, browser):
    production = b.session.get(Subscription, demo.production)
    archive = b.session.get(Subscription, demo.archive)
    disable_on = b.policy.disable_date(production.past_due_since)
    disabled_on, delete_on = archive.disabled_on, b.policy.deletion_date(archive.disabled_on)
    assert (disable_on, disabled_on, delete_on) == (date(2026, 12, 13), date(2026, 11, 15), date(2027, 2, 13))
    for lang in ("sv", "en"):
        sign_in_as(browser, "anna@example.com", lang)
        overview = browser.get(f"/{lang}/accounts/{demo.payg}/").get_data(as_text=True)
        for day in (disable_on, disabled_on, delete_on):  # table and banner
            assert long_day(day, lang) in overview, (lang, day)
        # Row and banner; the payment-failed notice only repeated the banner (issue 20 item 3).
        assert overview.count(long_day(disable_on, lang)) >= 2
        settle = browser.get(f"/{lang}/accounts/{demo.payg}/subscriptions/{demo.production}/settle")
        assert long_day(disable_on, lang) in settle.get_data(as_text=True)
        # 4: the Settle balance page of a disabled subscription says so, with both dates.
        settle = browser.get(f"/{lang}/accounts/{demo.payg}/subscriptions/{demo.archive}/settle").get_data(as_text=True)
        assert "banner--error" in settle
        assert long_day(disabled_on, lang) in settle and long_day(delete_on, lang) in settle
        browser.post(f"/{lang}/sign-out", {}, token_from=f"/{lang}/accounts/{demo.payg}/")
    html = sign_in_as(browser, "anna@example.com").get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True)
    assert (f"Arkiv inaktiverades den {long_day(disabled_on, 'sv')} och tjänsterna har stoppats. "
            f"Prenumerationens data tas bort den {long_day(delete_on, 'sv')}") in html
    # The emails: the 7-day warning and the disabling, from the same functions.
    day = date(2026, 11, 26)
    while day <= disable_on:
        clock.current = day
        lifecycle.run_billing_cycle(b)
        day += timedelta(days=1)
    for template, when in (("subscription_disable_warning", disable_on),
                           ("subscription_disabled", b.policy.deletion_date(disable_on))):
        [message] = [m for m in b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template))
                     if m.payload["subscription_id"] == demo.production][:1]
        for lang in ("sv", "en"):
            message.locale = lang
            text = render_email(app, message).get_body(("plain",)).get_content()
            assert long_day(when, lang) in text.replace("\n", " "), (template, lang)
    b.session.rollback()
