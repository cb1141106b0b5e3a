"""The keyset pager's markup (templates/macros/pagination.html, issue 28) passes every
accessibility check in both languages: a labelled nav of plain links, the page shown
marked aria-current. The demo's lists are one page long, so the browser states never
show a pager; the real macro is rendered here, by the app, and checked in Chromium."""
from __future__ import annotations

import pytest
from flask import render_template_string

from portal.billing import paging
from tests.browser.a11y import HTMX_PROBE, assert_accessible, tab_through
from tests.browser.test_helpers import page_html

PAGER = """{% from "macros/pagination.html" import pagination, how_many %}
<h1>{{ _("Payments") }}</h1>
<p>{{ ngettext("Showing %(first)s–%(last)s of %(num)s payment", "Showing %(first)s–%(last)s of %(num)s payments",
               rows.count, first=rows.first|number, last=rows.last|number, num=how_many(rows)) }}</p>
{{ pagination(rows, _("Pages of payments")) }}"""


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i28_the_pager_is_a_labelled_nav_of_links_that_passes_axe(app, chromium, lang):
    rows = paging.Page(list(range(25)), 25, True, True, "b.1796083199999999.12", "a.1796083199999999.37", 26, None)
    with app.test_request_context(f"/{lang}/accounts/1/payments?first=2026-11-01&last=2026-11-30"):
        from flask import g
        g.lang = lang
        body = render_template_string(PAGER, rows=rows)
    assert body.count("data-pager=") == 4 and "first=2026-11-01" in body and 'aria-current="page"' in body
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(HTMX_PROBE)
    try:
        page = context.new_page()
        page.set_content(page_html(body).replace('lang="en"', f'lang="{lang}"'))
        assert_accessible(page, f"pager ({lang})")
        tab_through(page)
    finally:
        context.close()
