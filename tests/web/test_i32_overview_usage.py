"""Issue 32: "Overview and the invoice show the lines" — on a pay-as-you-go Overview each
subscription's row says what it used this month (its usage lines counted, and their
amount), read for the whole page in one query: the Overview's query count does not
grow with the rows that have usage, nor with their lines. The lines themselves are on
the subscription's page."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from portal.billing.provider import catalog
from portal.models import UsageLine
from portal.web.querycount import HEADER
from tests import factories as f
from tests.web.conftest import sign_in_as

ANNA = "anna@example.com"
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))   # the tests' month ("today" 25 November 2026)


def post(b, subscription_id: int, lines: int, unit_price_minor: int) -> None:
    catalog.post_usage(b, subscription_id, [catalog.Usage(*NOVEMBER, Decimal("1.5"), "GB", unit_price_minor,
                                                          f"Lagring {n}") for n in range(lines)])
    f.commit(b)


def cell(html: str, name: str, label: str) -> str:
    """The text of one row's cell (by its data-label), tags and runs of space taken out."""
    row = re.search(r"<tr>\s*<th scope=\"row\"[^>]*><a [^>]*>" + re.escape(name) + r"</a></th>(.*?)</tr>", html, re.S)
    assert row, f"no row for {name}"
    found = re.search(r'<td data-label="' + re.escape(label) + r'"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert found, f"no {label} in the row of {name}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).replace("\xa0", " ").split())


@pytest.mark.parametrize("lang, heading, used, none", [
    ("sv", "Förbrukat den här månaden", "37,50 kr 25 förbrukningsrader", "–"),
    ("en", "Used this month", "SEK 37.50 25 usage lines", "–")])
def test_i32_the_overview_shows_what_each_subscription_used_this_month(app, b, demo, browser, lang, heading, used,
                                                                       none):
    post(b, demo.intranet, 25, 1_00)                       # 25 × 1.5 GB × 1,00 kr
    post(b, demo.backup, 1, 2_00)                          # one line: 3,00 kr
    b.session.add(UsageLine(subscription_id=demo.testing, period_start=date(2026, 10, 1),  # last month's: billed
                            period_end=date(2026, 10, 31), quantity="3", unit="GB", unit_price_minor=5_00,
                            amount_minor=15_00, description="Lagring", created_at=b.clock.now()))
    f.commit(b)
    html = sign_in_as(browser, ANNA, lang).get(f"/{lang}/accounts/{demo.payg}/").get_data(as_text=True)
    assert f'<th scope="col" class="num num--wraps">{heading}</th>' in html
    assert cell(html, "Intranät", heading) == used
    assert cell(html, "Säkerhetskopiering", heading) == ("3,00 kr 1 förbrukningsrad" if lang == "sv"
                                                         else "SEK 3.00 1 usage line")
    assert cell(html, "Webbshop – test", heading) == cell(html, "Webbshop – produktion", heading) == none


def test_i32_the_overviews_queries_do_not_grow_with_usage(app, b, demo, browser):
    url = f"/sv/accounts/{demo.payg}/"
    sign_in_as(browser, ANNA)
    without = int(browser.get(url).headers[HEADER])
    post(b, demo.intranet, 50, 1_00)
    post(b, demo.production, 3, 2_00)
    with_usage = browser.get(url)
    assert "50 förbrukningsrader" in with_usage.get_data(as_text=True)
    assert int(with_usage.headers[HEADER]) == without


@pytest.mark.parametrize("lang, quantity, amount, none", [
    ("sv", "1,5 GB", "1,50 kr", "Ingen förbrukning har rapporterats för den här månaden."),
    ("en", "1.5 GB", "SEK 1.50", "No usage has been posted for this month.")])
def test_i32_the_subscription_page_holds_the_lines_a_page_at_a_time(app, b, demo, browser, lang, quantity, amount,
                                                                     none):
    sign_in_as(browser, ANNA, lang)
    url = f"/{lang}/accounts/{demo.payg}/subscriptions/{demo.intranet}"
    assert none in browser.get(url).get_data(as_text=True)
    post(b, demo.intranet, 30, 1_00)  # Lagring 0 … 29, a page of 25 and a page of 5
    first = browser.get(url).get_data(as_text=True).replace("\xa0", " ")
    assert none not in first and first.count('<tr><th scope="row"') == 25
    assert re.search(r">Lagring 0</th>.*?" + re.escape(quantity) + ".*?" + re.escape(amount), first, re.S)
    following = re.search(r'href="([^"]*lines=a\.[^"]*)" rel="next"', first)
    assert following, "no link to the next page of lines"
    second = browser.get(following.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert second.count('<tr><th scope="row"') == 5 and ">Lagring 29</th>" in second and ">Lagring 0</th>" not in second
