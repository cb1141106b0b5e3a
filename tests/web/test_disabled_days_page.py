"""B16 on Overview: where a disabled subscription is shown (its banner line: "its services
have stopped"), the page says it is not charged while disabled and is charged again from
the day it is re-enabled — in Swedish and English; not where nothing is disabled."""
from __future__ import annotations

import re

import pytest

from tests.web.conftest import sign_in_as

SAID = {
    "sv": "En inaktiverad prenumeration debiteras inte för de dagar den är inaktiverad. "
          "Blir den aktiv igen debiteras den från och med den dagen.",
    "en": "A disabled subscription is not charged for the days it is disabled. "
          "If it becomes active again, it is charged from that day on.",
}


def banner_text(html: str) -> str:
    [banner] = re.findall(r'<div class="banner banner--\w+" role="region" aria-labelledby="banner-title">(.*?)</div>',
                          html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", banner)).strip()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_b16_overview_says_a_disabled_subscription_is_not_charged_while_disabled(browser, demo, lang):
    sign_in_as(browser, "anna@example.com", lang)  # Arkiv is disabled
    words = banner_text(browser.get(f"/{lang}/accounts/{demo.payg}/").get_data(as_text=True))
    assert SAID[lang] in words
    assert words.count(SAID[lang]) == 1  # once, however many lines are about disabled subscriptions


def test_b16_nothing_disabled_nothing_said(browser, demo):
    sign_in_as(browser, "olivia@example.com", "sv")  # the customer agreement: invoices, nothing disabled
    html = browser.get(f"/sv/accounts/{demo.agreement}/").get_data(as_text=True)
    assert SAID["sv"] not in re.sub(r"\s+", " ", html)
