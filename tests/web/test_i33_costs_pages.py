"""Issue 33 item 2 on the pages, without JavaScript: the Costs page (table, chart, summary,
CSV in the reader's dialect) and the spending alert set, refused and told on Overview."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.billing.accounts import costs
from portal.billing.cycle.lifecycle import run_billing_cycle
from portal.models import Notice, SpendingAlert, User
from tests.web.conftest import sign_in_as
from tests.web.test_partial_pay_now import text


def costs_url(demo, lang="sv"):
    return f"/{lang}/accounts/{demo.payg}/costs"


def figures(b, demo, email="anna@example.com") -> costs.Costs:
    me = b.session.scalars(select(User).where(User.email == email)).one()
    found = costs.costs(b, me, demo.payg)
    b.session.rollback()
    return found


@pytest.mark.parametrize("lang, month, amount", [("sv", "november 2026", "kr"), ("en", "November 2026", "SEK")])
def test_i33_the_costs_page_shows_the_services_numbers_in_a_table_a_chart_and_a_sentence(browser, demo, b,
                                                                                       lang, month, amount):
    found = figures(b, demo)
    sign_in_as(browser, "anna@example.com", lang)
    response = browser.get(costs_url(demo, lang))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<tr>") == 1 + len(found.rows) + 1  # heading, a row per subscription, the totals
    body = html[html.index("<tbody>"):html.index("</tfoot>")]
    shown = [text(cell).strip() for cell in re.findall(r'<td class="num"[^>]*>(.*?)</td>', body)]
    from flask_babel import force_locale
    from portal.i18n import money
    from portal.money import Money
    with browser.client.application.test_request_context(), force_locale(lang):
        expected = [money(Money(minor, "SEK")).replace("\xa0", " ")
                    for row in [*[r.amounts for r in found.rows], found.totals] for minor in row]
    assert shown == expected
    assert 'aria-hidden="true"' in html[html.index("<svg"):html.index(">", html.index("<svg"))]
    assert html.count('class="cost-chart__bar') == len(found.months)
    summary = text(html[html.index('id="costs-summary"'):])
    assert month in summary[:200] and amount in summary[:200]
    assert f'href="{costs_url(demo, lang)}.csv"' in html
    nav = html[html.index('class="wrap main-nav"'):html.index("</nav>", html.index('class="wrap main-nav"'))]
    assert f'href="{costs_url(demo, lang)}" aria-current="page"' in nav


@pytest.mark.parametrize("lang, separator, decimal, bom", [("sv", ";", ",", True), ("en", ",", ".", False)])
def test_i33_the_costs_csv_is_in_the_readers_dialect(browser, demo, b, lang, separator, decimal, bom):
    sign_in_as(browser, "anna@example.com", lang)
    response = browser.get(f"{costs_url(demo, lang)}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff") == bom
    lines = body.lstrip("\ufeff").split("\r\n")
    heading = lines[0].split(separator)
    assert heading[0] == ("Månad" if lang == "sv" else "Month") and len(heading) == 6
    found = figures(b, demo)
    total = sum(found.totals)
    amounts = [line.split(separator)[3] for line in lines[1:] if line]
    assert sum(int(a.replace(decimal, "")) for a in amounts) == total  # every subscription's cost, once


@pytest.mark.parametrize("lang, typed, error", [
    ("sv", "", "Ange beloppet per månad"),
    ("sv", "tusen", "Ange ett belopp med siffror, till exempel 5 000,00 kr"),
    ("sv", "0", "Ange ett belopp som är större än noll"),
    ("en", "", "Enter the monthly amount"),
    ("en", "12,34,5", "Enter an amount in numbers, like SEK 5,000.00"),
    ("en", "0.00", "Enter an amount greater than zero"),
])
def test_i33_an_alert_amount_is_refused_with_the_reason_in_the_pages_language(browser, demo, b, lang, typed, error):
    sign_in_as(browser, "anna@example.com", lang)
    response = browser.post(f"{costs_url(demo, lang)}/alert", {"amount": typed}, token_from=costs_url(demo, lang))
    assert response.status_code == 422
    page = text(response.get_data(as_text=True))
    assert page.count(error) == 2  # in the summary and at the field
    assert b.session.scalars(select(SpendingAlert).where(SpendingAlert.account_id == demo.payg)).all() == []


def test_i33_an_alert_is_set_changed_and_removed_without_javascript_and_told_on_overview(browser, demo, b, clock):
    sign_in_as(browser, "anna@example.com", "sv")
    response = browser.post(f"{costs_url(demo)}/alert", {"amount": "1 000"}, token_from=costs_url(demo))
    assert response.status_code == 303 and response.location.endswith(costs_url(demo))
    page = text(browser.get(costs_url(demo)).get_data(as_text=True))
    assert "Kostnadsvarningen är inställd: du får ett e-postmeddelande när månadens kostnader når 80 % och 100 % " \
           "av 1 000,00 kr." in page
    assert "Varningen är inställd på 1 000,00 kr per månad." in page
    assert "når 80 % och igen vid 100 % av det" in page
    assert b.session.scalars(select(SpendingAlert.amount_minor).where(SpendingAlert.account_id == demo.payg)).all() == [1_000_00]
    b.session.rollback()
    run_billing_cycle(b)
    overview = text(browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True))
    assert "Månadens kostnader har nått 100 % av din kostnadsvarning" in overview
    assert "Se vad kontot kostar" in overview  # the notice links to the Costs page
    assert b.session.scalars(select(Notice.kind).where(Notice.kind == "spending_alert")).all()
    b.session.rollback()
    response = browser.post(f"{costs_url(demo)}/alert/remove", {}, token_from=costs_url(demo))
    assert response.status_code == 303
    assert "Kostnadsvarningen har tagits bort." in text(browser.get(costs_url(demo)).get_data(as_text=True))
    assert b.session.scalars(select(SpendingAlert).where(SpendingAlert.account_id == demo.payg)).all() == []


def test_i33_a_person_who_may_not_set_an_alert_sees_the_costs_and_the_reason(browser, demo, b):
    sign_in_as(browser, "erik@example.com", "en")
    page = browser.get(costs_url(demo, "en")).get_data(as_text=True)
    assert "Only the account administrator or an owner can set a spending alert." in text(page)
    assert 'name="amount"' not in page
    forced = browser.post(f"{costs_url(demo, 'en')}/alert", {"amount": "100"}, token_from=costs_url(demo, "en"))
    assert forced.status_code == 403
    assert b.session.scalars(select(SpendingAlert).where(SpendingAlert.account_id == demo.payg)).all() == []


def test_i33_a_stranger_gets_not_found(browser, demo):
    sign_in_as(browser, "jonas@example.com", "en")
    assert browser.get(costs_url(demo, "en")).status_code == 404
    assert browser.get(f"{costs_url(demo, 'en')}.csv").status_code == 404


@pytest.mark.parametrize("lang, done, listed, removed", [
    ("sv", "Kostnadsvarningen för Arkiv är inställd", "Arkiv: 500,00 kr per månad", "Kostnadsvarningen har tagits bort."),
    ("en", "The spending alert for Arkiv is set", "Arkiv: SEK 500.00 a month", "The spending alert has been removed.")])
def test_i33_a_subscriptions_alert_is_set_listed_and_removed_without_javascript(browser, demo, b, lang, done, listed,
                                                                                removed):
    sign_in_as(browser, "anna@example.com", lang)
    url = costs_url(demo, lang)
    page = browser.get(url).get_data(as_text=True)
    assert f'<option value="{demo.archive}">Arkiv</option>' in page  # a subscription of the table to choose
    response = browser.post(f"{url}/alert", {"amount": "500", "applies_to": str(demo.archive)}, token_from=url)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    page = text(browser.get(url).get_data(as_text=True))
    assert done in page and listed in page
    assert b.session.scalars(select(SpendingAlert.subscription_id).where(SpendingAlert.account_id == demo.payg)).all() == [
        demo.archive]
    b.session.rollback()
    # Not one of the choices: refused on the page; a forged id of no subscription: not found.
    assert browser.post(f"{url}/alert", {"amount": "500", "applies_to": "x"}, token_from=url).status_code == 422
    assert browser.post(f"{url}/alert/remove", {"applies_to": "99999"}, token_from=url).status_code == 404
    response = browser.post(f"{url}/alert/remove", {"applies_to": str(demo.archive)}, token_from=url)
    assert response.status_code == 303
    assert removed in text(browser.get(url).get_data(as_text=True))
    assert b.session.scalars(select(SpendingAlert).where(SpendingAlert.account_id == demo.payg)).all() == []
