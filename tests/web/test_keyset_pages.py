"""Paged lists on the web (issue 28): the pager's links (First / Previous / Next / Last,
marked data-pager for the benchmark) keep the page's other query parameters, say
only what is known ("more than 1,000" past the count's bound) and work without
JavaScript."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html import unescape

from sqlalchemy import insert

from portal.billing import paging
from portal.models import Invoice, InvoiceStatus, Payment, PaymentPurpose
from tests.web.conftest import sign_in_as

MANY = paging.COUNT_BOUND + 100


def _link(html: str, which: str) -> str:
    return unescape(re.search(rf'<a href="([^"]+)"[^>]* data-pager="{which}"', html).group(1))


def _pager(html: str) -> list[str]:
    return re.findall(r'data-pager="(\w+)"', html)


def test_i28_payments_page_by_key_with_the_period_kept_and_more_than_1000_said_so(browser, demo, b):
    start = datetime(2020, 3, 1, 8)
    b.session.execute(insert(Payment), [
        {"idempotency_key": f"web-pages-{n}", "account_id": demo.payg, "payment_method_id": demo.spare_card,
         "purpose": PaymentPurpose.SETTLE, "amount_minor": 100_00 + n, "currency": "SEK", "gateway_reference": "sbx",
         "created_at": start + timedelta(minutes=n // 3)} for n in range(MANY)])
    b.session.commit()
    sign_in_as(browser, "anna@example.com", "en")
    url = f"/en/accounts/{demo.payg}/payments?first=2020-03-01&last=2020-03-31"
    first = browser.get(url).get_data(as_text=True)
    assert "Showing 1–25 of more than 1,000 payments" in first
    assert '<nav class="pagination" aria-label="Pages of payments">' in first
    assert _pager(first) == ["next", "last"]
    assert '<li class="pagination__current" aria-current="page">1–25</li>' in first
    for which in ("next", "last"):  # the period goes along
        assert "first=2020-03-01" in _link(first, which) and "last=2020-03-31" in _link(first, which)
    second = browser.get(_link(first, "next")).get_data(as_text=True)
    assert "Showing 26–50 of more than 1,000 payments" in second
    assert _pager(second) == ["first", "previous", "next", "last"]
    assert browser.get(_link(second, "previous")).get_data(as_text=True).count("SEK") \
        == first.count("SEK")  # back to the same rows
    last = browser.get(_link(first, "last")).get_data(as_text=True)
    assert "Showing 25 of more than 1,000 payments" in last  # too far from the top to count its place
    assert _pager(last) == ["first", "previous"]
    oldest = re.compile(r"[^\d,.]100\.00[^\d]")  # the oldest payment's amount
    assert oldest.search(last) and not oldest.search(first) and not oldest.search(second)
    swedish = browser.get(url.replace("/en/", "/sv/") + "&page=last").get_data(as_text=True)
    assert "Visar 25 av fler än 1\u00a0000 betalningar" in swedish
    assert browser.get(url + "&page=a.bad").status_code == 200


def test_i28_the_invoice_filter_holds_on_every_page(browser, demo, b):
    b.session.execute(insert(Invoice), [
        {"billing_profile_id": demo.profile, "number": f"T-{n:05}", "currency": "SEK",
         "period_start": date(2010, 1, 1) + timedelta(days=31 * n), "period_end": date(2010, 1, 28) + timedelta(days=31 * n),
         "issued_on": date(2010, 2, 1), "due_on": date(2010, 3, 1), "status": InvoiceStatus.PAID,
         "subtotal_minor": 100_00, "credits_applied_minor": 0, "paid_minor": 100_00} for n in range(40)])
    b.session.commit()
    sign_in_as(browser, "olivia@example.com", "en")
    url = f"/en/accounts/{demo.agreement}/invoices?status=paid"
    first = browser.get(url).get_data(as_text=True)
    assert "Showing 1–25 of 41 invoices" in first
    assert "status=paid" in _link(first, "next")
    second = browser.get(_link(first, "next")).get_data(as_text=True)
    assert "Showing 26–41 of 41 invoices" in second and "status=paid" in _link(second, "first")
    numbers = re.findall(r">(T-\d{5})<", first + second)
    assert len(numbers) == len(set(numbers)) == 40  # each once (and the demo's paid invoice)
    partial = browser.get(_link(first, "next"), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and "Showing 26–41 of 41 invoices" in partial  # the filter's partial too
