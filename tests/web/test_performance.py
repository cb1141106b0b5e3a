"""Performance budgets that do not depend on machine speed (issue 8): SQL queries per
page do not grow with subscriptions or invoices and stay under 12; every query a
page runs can use an index; lists are paginated; static files are content-hashed
and cached for a year."""
from __future__ import annotations

import re
from datetime import date

import pytest

from bench import plans
from bench.seed import PASSWORD, seed_size
from portal.billing.paging import PAGE_SIZE
from portal.extensions import db
from portal.web.querycount import HEADER
from tests.web.conftest import csrf_from

MAX_QUERIES = 12


def signed_in(app, email, password=PASSWORD):
    client = app.test_client()
    page = client.get("/sv/sign-in").get_data(as_text=True)
    response = client.post("/sv/sign-in", data={"csrf_token": csrf_from(page), "email": email,
                                                "password": password})
    assert response.status_code == 303
    return client


def pages_of(s):
    payg, agr = f"/sv/accounts/{s.payg_account}", f"/sv/accounts/{s.agreement_account}"
    settle = f"{payg}/subscriptions/{s.settle_subscription}/settle"
    return {
        "overview": (s.payg_email, f"{payg}/", {}),
        "settle": (s.payg_email, settle, {}),
        "partial": (s.payg_email, f"{settle}?method={s.second_card}", {"HX-Request": "true"}),
        "agreement overview": (s.agreement_email, f"{agr}/", {}),
        "invoices": (s.agreement_email, f"{agr}/invoices", {}),
        "invoice filter": (s.agreement_email, f"{agr}/invoices?status=paid", {"HX-Request": "true"}),
        "invoice": (s.agreement_email, f"{agr}/invoices/{s.invoice}", {}),
        "pay now": (s.agreement_email, f"/sv/accounts/{s.agreement_account}/profiles/{s.profile}/pay", {}),
        "credit history": (s.agreement_email, f"{agr}/credit", {}),  # issue 33
    }


@pytest.fixture
def sized(app, b):
    """Accounts of 5 and 50 subscriptions (and as many invoices), as bench/ seeds them."""
    result = {size: seed_size(b.session, size, date(2026, 11, 25), b.policy) for size in (5, 50)}
    b.session.commit()
    return result


def queries(app, email, url, headers):
    response = signed_in(app, email).get(url, headers=headers)
    assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])
    return int(response.headers[HEADER])


def test_queries_per_page_do_not_grow_with_subscriptions_or_invoices(app, sized):
    counts = {size: {name: queries(app, *page) for name, page in pages_of(s).items()}
              for size, s in sized.items()}
    assert counts[5] == counts[50], counts
    assert max(counts[50].values()) < MAX_QUERIES, counts


def test_demo_pages_stay_under_the_query_budget(app, demo):
    pages = {"overview": ("anna@example.com", f"/sv/accounts/{demo.payg}/"),
             "settle": ("anna@example.com", f"/sv/accounts/{demo.payg}/subscriptions/{demo.production}/settle"
                        f"?method={demo.second_card}"),
             "agreement overview": ("olivia@example.com", f"/sv/accounts/{demo.agreement}/"),
             "invoices": ("olivia@example.com", f"/sv/accounts/{demo.agreement}/invoices"),
             "invoice": ("olivia@example.com", f"/sv/accounts/{demo.agreement}/invoices/{demo.paid}")}
    from portal.demo import DEMO_PASSWORD
    for name, (email, url) in pages.items():
        response = signed_in(app, email, DEMO_PASSWORD).get(url)
        assert response.status_code == 200 and int(response.headers[HEADER]) < MAX_QUERIES, name


def test_every_query_of_every_page_can_use_an_index(app, sized):
    """SQLite: no `SCAN <table>`; PostgreSQL (seq scans off): no `Seq Scan`."""
    with app.app_context():
        engine = db.engine
    recorder = plans.Recorder(engine)
    scans = []
    try:
        for name, (email, url, headers) in pages_of(sized[50]).items():
            client = signed_in(app, email)
            recorder.statements.clear()
            recorder.on = True
            assert client.get(url, headers=headers).status_code == 200
            recorder.on = False
            for statement, parameters in recorder.statements:
                plan = plans.explain(engine, statement, parameters)
                scans += [(name, table, plans.short(statement)) for table in plan.full_scans]
    finally:
        recorder.close()
    assert scans == []


def test_r06_overview_is_paginated_with_settleable_subscriptions_first(app, b):
    s = seed_size(b.session, 120, date(2026, 11, 25), b.policy)
    b.session.commit()
    client = signed_in(app, s.payg_email)
    html = client.get(f"/en/accounts/{s.payg_account}/").get_data(as_text=True)
    assert html.count('<th scope="row"') == PAGE_SIZE
    assert f"Showing 1–{PAGE_SIZE} of 120 subscriptions" in html
    assert ">Active<" not in html  # 108 past due come first: the Settle balance links are on page 1
    table = html[html.index('<table'):html.index('</table>')]
    assert table.count("/settle\"") == PAGE_SIZE
    assert '<nav class="pagination" aria-label="Pages of subscriptions">' in html
    second = client.get(pager_link(html, "next")).get_data(as_text=True)
    assert f"Showing {PAGE_SIZE + 1}–{2 * PAGE_SIZE} of 120 subscriptions" in second
    assert pager_link(html, "last") == f"/en/accounts/{s.payg_account}/?page=last"
    last = client.get(pager_link(html, "last")).get_data(as_text=True)
    assert f"Showing {120 - PAGE_SIZE + 1}–120 of 120 subscriptions" in last and ">Active<" in last
    assert client.get(f"/en/accounts/{s.payg_account}/?page=99").status_code == 200  # an old link: the first page
    swedish = client.get(f"/sv/accounts/{s.payg_account}/").get_data(as_text=True)
    assert f"Visar 1–{PAGE_SIZE} av 120 prenumerationer" in swedish and "Nästa sida" in swedish


def pager_link(html: str, which: str) -> str:
    """The address of a pager link (data-pager="first|previous|next|last") in a page."""
    import html as markup
    return markup.unescape(re.search(rf'<a href="([^"]+)"[^>]* data-pager="{which}"', html).group(1))


def test_b3_many_past_due_subscriptions_give_one_banner_with_the_earliest_date(app, b):
    s = seed_size(b.session, 20, date(2026, 11, 25), b.policy)
    b.session.commit()
    html = signed_in(app, s.payg_email).get(f"/en/accounts/{s.payg_account}/").get_data(as_text=True)
    assert html.count('class="banner banner--warning"') == 1
    assert "18 subscriptions are past due. The first of them will be disabled on" in html


def test_r04_r07_settle_page_sums_every_subscription_and_pages_through_them(app, b):
    s = seed_size(b.session, 120, date(2026, 11, 25), b.policy)
    b.session.commit()
    from portal.billing import payments
    from portal.models import User
    admin = b.session.query(User).filter_by(email=s.payg_email).one()
    quote = payments.quote_settlement(b, admin, s.settle_subscription)  # what Pay would charge
    client = signed_in(app, s.payg_email)
    url = f"/en/accounts/{s.payg_account}/subscriptions/{s.settle_subscription}/settle"
    html = client.get(url).get_data(as_text=True)
    from portal.i18n import money
    with app.test_request_context("/en/"):
        from flask import g
        g.lang = "en"
        total = money(quote.total)
    assert f"Total to pay <strong>{total}</strong>" in html
    subscriptions = len(quote.subscriptions)
    assert f"Showing 1–{PAGE_SIZE} of {subscriptions} subscriptions. The total covers all of them." in html
    assert "(2 charges)" in html
    names, text = [], html
    while True:  # Next page to the end
        names += re.findall(r'<th scope="row" data-label="Subscription">([^<]+)</th>', text)
        if 'data-pager="next"' not in text:
            break
        text = client.get(pager_link(text, "next")).get_data(as_text=True)
    assert sorted(names) == sorted(sub.name for sub in quote.subscriptions)  # every one can be seen, once


def test_static_files_have_hashed_names_and_are_cached_for_a_year(app, client):
    html = client.get("/sv/sign-in").get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert len(assets) == 4 and all(re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", a) for a in assets)
    for asset in assets:
        response = client.get(asset, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        if not asset.endswith(".svg"):  # the icon is smaller than its gzipped copy: sent as is
            assert response.headers["Content-Encoding"] == "gzip"
        again = client.get(asset, headers={"Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304
    with client.get("/static/css/portal.css") as plain:
        assert plain.status_code == 200 and plain.headers["Cache-Control"] == "no-cache"
    assert client.get("/static/css/portal.0123456789ab.css").status_code == 404


def test_baseline_page_only_with_benchmark_on(app, demo):
    from portal.demo import DEMO_PASSWORD
    client = signed_in(app, "anna@example.com", DEMO_PASSWORD)
    assert client.get("/sv/benchmark/baseline").status_code == 404
    app.config["BENCHMARK"] = True
    response = client.get("/sv/benchmark/baseline")
    assert response.status_code == 200 and response.headers[HEADER] == "1"
