"""Every page in both languages, for each kind of user: R06, R14, R20, B1, B2, B3."""
from __future__ import annotations

import re

import pytest

from tests.web.conftest import sign_in_as

LANGS = ("sv", "en")


def pages_for(demo, who):
    a, p = demo.payg, demo.agreement
    if who == "anna@example.com":
        return [f"/{{lang}}/accounts/{a}/", f"/{{lang}}/accounts/{a}/subscriptions/{demo.production}/settle",
                f"/{{lang}}/accounts/{a}/subscriptions/{demo.production}/settle?method={demo.second_card}",
                f"/{{lang}}/accounts/{a}/subscriptions/{demo.production}/settle?method=new",
                f"/{{lang}}/accounts/{a}/subscriptions/{demo.archive}/settle",
                f"/{{lang}}/accounts/{a}/notifications", f"/{{lang}}/accounts/{a}/support",
                f"/{{lang}}/accounts/{a}/payments", f"/{{lang}}/accounts/{a}/payment-methods",
                f"/{{lang}}/accounts/{a}/payment-methods/move?subscriptions={demo.production}&to={demo.spare_card}",
                "/{lang}/settings"]
    return [f"/{{lang}}/accounts/{p}/", f"/{{lang}}/accounts/{p}/invoices",
            f"/{{lang}}/accounts/{p}/invoices?status=paid", f"/{{lang}}/accounts/{p}/invoices/{demo.due}",
            f"/{{lang}}/accounts/{p}/invoices/{demo.paid}", f"/{{lang}}/accounts/{p}/profiles/{demo.profile}/pay",
            f"/{{lang}}/accounts/{p}/profiles/{demo.profile}/pay?method=new&invoice={demo.due}",
            f"/{{lang}}/accounts/{p}/notifications", f"/{{lang}}/accounts/{p}/support",
            f"/{{lang}}/accounts/{p}/payments", f"/{{lang}}/accounts/{p}/payments?first=2026-01-01&last=2026-12-31",
            f"/{{lang}}/accounts/{p}/payment-methods", "/{lang}/settings"]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("who", ["anna@example.com", "olivia@example.com"])
def test_every_page_renders_in_both_languages(browser, demo, who, lang):
    sign_in_as(browser, who, lang)
    for url in pages_for(demo, who):
        response = browser.get(url.format(lang=lang))
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (url, html[:2000])
        assert f'<html lang="{lang}">' in html
        assert 'hreflang="sv"' in html and 'hreflang="en"' in html
        assert response.headers["Cache-Control"] == "no-store"
        assert "HX-Request" in response.headers["Vary"]


def test_root_picks_the_language_from_accept_language(client):
    assert client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).location == "/en/"
    assert client.get("/", headers={"Accept-Language": "de-DE"}).location == "/sv/"
    assert client.get("/").location == "/sv/"


def test_language_switcher_leads_to_the_same_page(browser, demo):
    sign_in_as(browser, "anna@example.com")
    html = browser.get(f"/sv/accounts/{demo.payg}/notifications").get_data(as_text=True)
    assert f'href="/en/accounts/{demo.payg}/notifications" hreflang="en" lang="en">English<' in html


def test_r06_overview_lists_subscriptions_with_status_and_settle_links(browser, demo):
    sign_in_as(browser, "anna@example.com")
    html = browser.get(f"/sv/accounts/{demo.payg}/").get_data(as_text=True)
    for name in ("Webbshop – produktion", "Webbshop – test", "Säkerhetskopiering", "Intranät", "Arkiv"):
        assert name in html
    assert html.count(">Förfallen<") == 3 and ">Aktiv<" in html and ">Inaktiverad<" in html
    assert f"/sv/accounts/{demo.payg}/subscriptions/{demo.production}/settle" in html
    assert f"/subscriptions/{demo.intranet}/settle" not in html  # active: nothing to settle


def test_b1_disabled_subscription_has_settle_link_and_deletion_date(browser, demo):
    sign_in_as(browser, "anna@example.com", "en")
    html = browser.get(f"/en/accounts/{demo.payg}/").get_data(as_text=True)
    assert f"/subscriptions/{demo.archive}/settle" in html
    assert "Data will be deleted on" in html


def test_b3_banners_on_overview(browser, demo):
    sign_in_as(browser, "anna@example.com", "en")
    html = browser.get(f"/en/accounts/{demo.payg}/").get_data(as_text=True)
    # One banner (issue 20 item 3), named by the worst level, saying both.
    assert html.count('class="banner ') == 1 and "banner--error" in html
    assert "will be deleted on" in html and "will be disabled on" in html


def test_r02_b2_non_admin_is_not_offered_settle_and_told_why(browser, demo):
    sign_in_as(browser, "erik@example.com", "en")
    html = browser.get(f"/en/accounts/{demo.payg}/").get_data(as_text=True)
    assert "/settle" not in html
    assert "Only the account administrator can do this" in html
    refused = browser.get(f"/en/accounts/{demo.payg}/subscriptions/{demo.production}/settle")
    assert refused.status_code == 403
    assert "Only the account administrator" in refused.get_data(as_text=True)


def test_r14_overview_shows_agreement_type_and_role(browser, demo):
    sign_in_as(browser, "ines@example.com")
    html = browser.get(f"/sv/accounts/{demo.agreement}/").get_data(as_text=True)
    assert "Kundavtal" in html and "Fakturaansvarig" in html


def test_r20_summary_shows_total_due_and_pay_now(browser, demo):
    sign_in_as(browser, "olivia@example.com")
    html = browser.get(f"/sv/accounts/{demo.agreement}/").get_data(as_text=True)
    assert "Sammanfattning" in html
    assert "15\xa0780,00\xa0kr" in html  # 8 640,00 past due + (8 640,00 − 1 500,00 credits)
    assert f"/sv/accounts/{demo.agreement}/profiles/{demo.profile}/pay" in html
    assert "Betala nu" in html


def test_r19_b2_reader_sees_no_pay_now_and_is_told_why(browser, demo):
    sign_in_as(browser, "rasmus@example.com", "en")
    html = browser.get(f"/en/accounts/{demo.agreement}/").get_data(as_text=True)
    pay_link = re.compile(r'/pay[?"]')  # Pay now (…/pay or …/pay?invoice=), not …/payments
    assert not pay_link.search(html) and "Readers can see invoices but cannot pay them" in html
    listing = browser.get(f"/en/accounts/{demo.agreement}/invoices").get_data(as_text=True)
    assert not pay_link.search(listing)


def test_signed_out_visitor_is_sent_to_sign_in(client, demo):
    response = client.get(f"/en/accounts/{demo.payg}/")
    assert response.status_code == 302
    assert response.location.startswith("/en/sign-in?next=")


def test_translated_404_page(browser, demo):
    sign_in_as(browser, "anna@example.com")
    response = browser.get("/sv/accounts/999999/")
    assert response.status_code == 404
    assert "Sidan hittades inte" in response.get_data(as_text=True)
    assert browser.get(f"/sv/accounts/{demo.agreement}/").status_code == 404  # not Anna's


def test_404_for_an_address_no_route_matches_speaks_the_address_language(client):
    """/sv/… with no page behind it is answered in Swedish, whatever the browser
    prefers: the page's language and <html lang> follow the address (WCAG 3.1.1)."""
    response = client.get("/sv/no-such-page", headers={"Accept-Language": "en"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert '<html lang="sv">' in html and "Sidan hittades inte" in html
    english = client.get("/en/no-such-page", headers={"Accept-Language": "sv"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Page not found" in english


def test_unknown_language_prefix_redirects_to_a_supported_one(browser, demo):
    response = browser.get("/de/sign-in", headers={"Accept-Language": "en"})
    assert (response.status_code, response.location) == (302, "/en/sign-in")
    assert browser.get("/fr/", headers={"Accept-Language": "fr"}).location == "/sv/"


def test_malformed_accept_language_falls_back_to_swedish(client):
    assert client.get("/", headers={"Accept-Language": ";;;q=abc,,"}).location == "/sv/"


def test_translated_500_page(app, browser, demo, monkeypatch):
    from portal.billing.accounts import overview
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(overview, "subscription_page", broken)
    sign_in_as(browser, "anna@example.com", "en")
    response = browser.get(f"/en/accounts/{demo.payg}/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.get_data(as_text=True)


def test_root_remembers_the_language_last_read(client):
    client.get("/en/sign-in", headers={"Accept-Language": "sv"})
    assert client.get("/", headers={"Accept-Language": "sv"}).location == "/en/"


def test_404_under_a_language_prefix_is_in_that_language(client):
    response = client.get("/en/no-such-page")
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)


def test_wrong_method_gets_a_translated_405_page_while_signed_in(browser, demo):
    sign_in_as(browser, "anna@example.com", "sv")
    response = browser.get("/sv/sign-out")
    assert response.status_code == 405
    assert "Åtgärden går inte att utföra här" in response.get_data(as_text=True)
def test_accessibility_statement_in_both_languages_linked_from_every_footer(browser, demo):
    """The statement (Tillgänglighetsredogörelse): the standard met, how it is tested,
    where to report a problem and the supervisory authority — open to everyone."""
    sv = browser.get("/sv/accessibility")
    html = sv.get_data(as_text=True)
    assert sv.status_code == 200 and "<h1>Tillgänglighetsredogörelse</h1>" in html
    assert "WCAG) 2.2 på nivå AA" in html and "axe-core" in html and "enbart med tangentbordet" in html
    assert "400 % " in html  # the catalog's %% is a percent sign on the page
    assert 'href="mailto:accessibility@example.com"' in html
    assert "Myndigheten för digital förvaltning (Digg)" in html and 'href="https://www.digg.se/' in html
    en = browser.get("/en/accessibility").get_data(as_text=True)
    assert "<h1>Accessibility statement</h1>" in en and "WCAG) 2.2 at level AA" in en and "400%" in en
    # The footer of every page links to it, signed out and signed in.
    assert 'href="/sv/accessibility"' in browser.get("/sv/sign-in").get_data(as_text=True)
    sign_in_as(browser, "anna@example.com", "en")
    for url in (f"/en/accounts/{demo.payg}/", f"/en/accounts/{demo.payg}/subscriptions/{demo.production}/settle",
                "/en/no-such-page"):
        page = browser.get(url).get_data(as_text=True)
        assert '<a href="/en/accessibility"' in page and ">Accessibility statement</a>" in page, url
