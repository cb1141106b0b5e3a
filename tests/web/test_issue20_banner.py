"""Issue 20 item 3: one notification banner per page, naming what needs doing and
linking to it — or saying who may do it (B2); notices never repeat it."""
from __future__ import annotations

import re

import pytest

from tests.web.conftest import sign_in_as


def banners(html: str) -> list[str]:
    return re.findall(r'<div class="banner banner--\w+" role="region" aria-labelledby="banner-title">(.*?)</div>',
                      html, re.S)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.mark.parametrize("lang, title, settle", [("sv", "Åtgärd krävs", "Reglera saldot för"),
                                                 ("en", "Action required", "Settle the balance for")])
def test_i20_3_overview_has_one_banner_that_links_to_what_needs_doing(browser, demo, lang, title, settle):
    sign_in_as(browser, "anna@example.com", lang)
    html = browser.get(f"/{lang}/accounts/{demo.payg}/").get_data(as_text=True)
    assert html.count('class="banner ') == 1 and html.count("role=\"alert\"") == 0
    [banner] = banners(html)
    assert f'<h2 id="banner-title" class="banner__title">{title}</h2>' in banner
    links = re.findall(r'<a href="(/%s/accounts/%d/subscriptions/\d+/settle)">([^<]+)</a>' % (lang, demo.payg), banner)
    assert links and all(name.startswith(settle) for _, name in links)
    assert len(re.findall(r"<li>", banner)) >= 2  # several things, one banner


def test_i20_3_notices_do_not_repeat_the_banner(browser, demo):
    sign_in_as(browser, "anna@example.com", "sv")
    html = browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True)
    notices = re.search(r'<section class="notices".*?</section>', html, re.S)
    shown = text(notices.group(0)) if notices else ""
    assert "gick inte igenom, så prenumerationen är förfallen" not in shown
    assert "Påminnelse:" not in shown and "har inaktiverats" not in shown


@pytest.mark.parametrize("user, may_pay", [("olivia@example.com", True), ("rasmus@example.com", False)])
def test_i20_3_b2_a_reader_is_told_who_can_pay_never_to_pay(browser, demo, user, may_pay):
    sign_in_as(browser, user, "sv")
    html = browser.get(f"/sv/accounts/{demo.agreement}/").get_data(as_text=True)
    [banner] = banners(html)
    words = text(banner)
    assert "är förfallen" in words
    assert ("Betala fakturorna för" in words) is may_pay
    assert ("En ägare, deltagare eller fakturaansvarig" in words) is not may_pay
    assert "Betala den nu" not in text(html)


def test_i20_3_the_settle_page_has_one_banner_without_links(browser, demo):
    sign_in_as(browser, "anna@example.com", "sv")
    overview = browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True)
    settle = re.search(r'href="(/sv/accounts/%d/subscriptions/\d+/settle)"' % demo.payg, overview).group(1)
    page = browser.get(settle, follow_redirects=True).get_data(as_text=True)
    assert page.count('class="banner ') <= 1
    for banner in banners(page):
        assert "<a " not in banner
