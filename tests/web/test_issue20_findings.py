"""Issue 20, what testers found — each item a named test (the rest of the issue is
still open; see the README)."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.mail.render import render_email
from portal.models import OutboxMessage
from tests.web.conftest import csrf_from, sign_in_as


def test_i20_15_every_page_has_absolute_hreflang_links_a_description_and_an_icon(app, browser, demo):
    base = app.config["PORTAL_BASE_URL"]
    sign_in_as(browser, "anna@example.com", "sv")
    for path in ("/sv/sign-in", f"/sv/accounts/{demo.payg}/", f"/en/accounts/{demo.payg}/payments"):
        # The sign-in page asked for under another Host: the links still name ours.
        headers = {"Host": "evil.example"} if path.endswith("sign-in") else {}
        html = browser.get(path, headers=headers).get_data(as_text=True)
        links = dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)"', html))
        assert set(links) == {"sv", "en", "x-default"}, path
        assert all(href.startswith(base + "/") for href in links.values()), links  # never the request's Host
        assert links["en"].endswith(path.replace("/sv/", "/en/", 1)) and links["x-default"] == base + "/"
        assert re.search(r'<meta name="description" content="[^"]{50,160}">', html), path
        assert re.search(r'<link rel="icon" href="/static/img/favicon\.[0-9a-f]{12}\.svg" type="image/svg\+xml">', html)
    swedish = browser.get("/sv/sign-in").get_data(as_text=True)
    assert 'content="Se vad du är skyldig' in swedish


def test_i20_15_favicon_ico_answers(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.get_data().startswith(b"<svg")


def test_i20_11_a_swedish_email_names_its_role_in_swedish(app, browser, demo, b):
    sign_in_as(browser, "anna@example.com", "sv")
    page = browser.get(f"/sv/accounts/{demo.payg}/support").get_data(as_text=True)
    browser.post(f"/sv/accounts/{demo.payg}/support",
                 {"csrf_token": csrf_from(page), "subject": "Fråga", "body": "Hej"})
    b.session.rollback()
    for message in b.session.scalars(select(OutboxMessage)):
        html = render_email(app, message).get_body(("html",)).get_content()
        want = "e-postmeddelande" if message.locale == "sv" else "email message"
        assert f'aria-roledescription="{want}"' in html, message.template
