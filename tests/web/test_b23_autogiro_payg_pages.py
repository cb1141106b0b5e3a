"""Issue 34 Deliver 1, B23 on Overview of a pay-as-you-go account: a subscription paying
by Autogiro shows its mandate's status and, active, when Autogiro draws next — in both
languages, read in a constant number of statements (tests/web/test_performance.py's
budget, whatever the number of such subscriptions)."""
from __future__ import annotations

from datetime import date

import pytest

from portal.billing.accounts.balances import recount_outstanding
from portal.billing.bank import autogiro
from portal.demo import DEMO_PASSWORD
from portal.models import Charge, ChargeStatus, MandateStatus, Subscription
from portal.web.querycount import HEADER
from tests.web.conftest import sign_in_as
from tests.web.test_performance import MAX_QUERIES, signed_in

WORDS = {"sv": ("Väntar på banken", "Aktivt", "Debiteras via Autogiro den 1 december 2026."),
         "en": ("Pending: waiting for the bank", "Active", "Drawn by Autogiro on December 1, 2026.")}


def on_mandate(b, demo, *subscription_ids):
    mandate = autogiro.give_mandate(b, None, demo.payg, "9029", "5735211", "556036-0793")
    for sub_id in subscription_ids:
        b.session.get(Subscription, sub_id).payment_method_id = mandate.payment_method_id
    b.session.commit()
    return mandate


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b23_overview_shows_a_subscriptions_mandate_pending_then_active_with_its_next_draw(browser, demo, b, lang):
    pending, active, next_draw = WORDS[lang]
    mandate = on_mandate(b, demo, demo.backup)
    b.session.add(Charge(subscription_id=demo.backup, amount_minor=99_00, currency="SEK", period_start=date(2026, 10, 15),
                         period_end=date(2026, 10, 31), status=ChargeStatus.OUTSTANDING))   # due 1 December
    b.session.flush()
    recount_outstanding(b.session, Subscription.id == demo.backup)
    b.session.commit()
    sign_in_as(browser, "anna@example.com", lang)
    url = f"/{lang}/accounts/{demo.payg}/"
    page = browser.get(url).get_data(as_text=True)
    assert pending in page and next_draw not in page
    mandate.status = MandateStatus.ACTIVE   # Bankgirot approved it
    b.session.commit()
    page = browser.get(url).get_data(as_text=True)
    assert active in page and next_draw in page


def test_b23_overview_reads_the_mandates_in_as_many_statements_for_one_subscription_as_for_several(app, demo, b):
    url = f"/sv/accounts/{demo.payg}/"

    def count() -> int:
        response = signed_in(app, "anna@example.com", DEMO_PASSWORD).get(url)
        assert response.status_code == 200
        return int(response.headers[HEADER])
    mandate = on_mandate(b, demo, demo.backup)
    mandate.status = MandateStatus.ACTIVE
    b.session.commit()
    one = count()
    for sub_id in (demo.intranet, demo.archive):
        b.session.get(Subscription, sub_id).payment_method_id = mandate.payment_method_id
    b.session.commit()
    assert count() == one < MAX_QUERIES
