"""Every page and partial rendered in the pseudo-locale (en-XA): any visible text
or attribute people read that is not pseudo-translated did not pass through the
catalogs — and fails here, with the page and the text."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import String, Text, select

from portal.extensions import db
from portal.i18n import LANGUAGE_NAMES
from portal.pseudo import CLOSE, OPEN
from tests.web.conftest import hidden, sign_in_as

X = "en-XA"
READ_ATTRIBUTES = {"title", "alt", "aria-label", "placeholder", "data-label", "data-announce"}
MONTHS = ("January February March April May June July August September October November December "
          "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec AM PM").split()  # CLDR output
INNERMOST = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")


class ReadableText(HTMLParser):
    """Text nodes and the attributes a person reads or hears, with the tag they sit in."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in READ_ATTRIBUTES & attrs.keys():
            self.found.append((f"<{tag} {name}>", attrs[name] or ""))
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.found.append(("<input value>", attrs["value"]))
        if tag not in ("input", "meta", "link", "br", "img", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop() == tag:
                break

    def handle_data(self, data):
        if data.strip() and not {"script", "style"} & set(self.stack):
            self.found.append((f"<{self.stack[-1] if self.stack else '?'}>", data))


def data_values(app) -> list[str]:
    """Every string the database holds (names, emails, invoice numbers…): data, not UI."""
    from portal.billing.invoicing.remittance import remittance_from_config
    from portal.billing.seller import seller_from_config
    remittance, seller = remittance_from_config(app.config), seller_from_config(app.config)
    values = {app.config["PROVIDER_NAME"], *LANGUAGE_NAMES.values(), "Visa", "Mastercard",
              "American Express", "SEK", remittance.iban_display, remittance.bic,
              app.config["ACCESSIBILITY_EMAIL"], seller.name, *seller.address, seller.vat_number, seller.email,
              seller.registered_office}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
            if columns:
                for row in db.session.execute(select(*columns)):
                    values.update(str(v) for v in row if v)
    return sorted(values, key=len, reverse=True)


def untranslated(html: str, data: list[str]) -> list[tuple[str, str]]:
    parser = ReadableText()
    parser.feed(html)
    problems = []
    for where, text in parser.found:
        rest = text
        while INNERMOST.search(rest):
            rest = INNERMOST.sub(" ", rest)
        for value in data:
            rest = rest.replace(value, " ")
        rest = re.sub(r"\b(?:%s)\b" % "|".join(MONTHS), " ", rest)
        if re.search(r"[^\W\d_]", rest):
            problems.append((where, text.strip()))
    return problems


def assert_pseudo(app, response, label):
    assert response.status_code < 500, label
    problems = untranslated(response.get_data(as_text=True), data_values(app))
    assert not problems, f"{label}: text outside the catalogs:\n" + "\n".join(
        f"  {where}: {text!r}" for where, text in problems)


def test_pseudo_translation_keeps_placeholders_and_markup():
    from portal.pseudo import pseudo
    assert pseudo("Pay %(amount)s <b>now</b> &amp; later").startswith(OPEN)
    out = pseudo("Pay %(amount)s <b>now</b> &amp; later")
    assert "%(amount)s" in out and "<b>" in out and "</b>" in out and "&amp;" in out
    assert len(out) > len("Pay %(amount)s <b>now</b> &amp; later")


def test_the_check_catches_an_unmarked_string(app):
    html = f"<p>{OPEN}Ŧřȧƞşŀȧŧḗḓ{CLOSE}</p><p>Forgot to translate</p><button aria-label='Close'>x</button>"
    assert untranslated(html, []) == [
        ("<p>", "Forgot to translate"), ("<button aria-label>", "Close"), ("<button>", "x")]


def pages(demo):
    a, p = demo.payg, demo.agreement
    anna = [f"/{X}/accounts/{a}/", f"/{X}/accounts/{a}/subscriptions/{demo.production}/settle",
            f"/{X}/accounts/{a}/subscriptions/{demo.production}/settle?method={demo.second_card}",
            f"/{X}/accounts/{a}/subscriptions/{demo.production}/settle?method=new",
            f"/{X}/accounts/{a}/subscriptions/{demo.production}/settle?method=bogus",
            f"/{X}/accounts/{a}/subscriptions/{demo.archive}/settle",
            f"/{X}/accounts/{a}/notifications", f"/{X}/accounts/{a}/support",
            f"/{X}/accounts/{a}/invoices", f"/{X}/accounts/999999/",
            # B21: a subscription's page, its confirmation, and the refusal while past due.
            f"/{X}/accounts/{a}/subscriptions/{demo.intranet}", f"/{X}/accounts/{a}/subscriptions/{demo.intranet}/cancel",
            f"/{X}/accounts/{a}/subscriptions/{demo.production}/cancel",
            # B21 (pauses allowed below): the pause confirmation, refused while past due, nothing to resume.
            f"/{X}/accounts/{a}/subscriptions/{demo.intranet}/pause",
            f"/{X}/accounts/{a}/subscriptions/{demo.production}/pause",
            f"/{X}/accounts/{a}/subscriptions/{demo.intranet}/resume"]
    olivia = [f"/{X}/accounts/{p}/", f"/{X}/accounts/{p}/invoices", f"/{X}/accounts/{p}/invoices?status=paid",
              f"/{X}/accounts/{p}/invoices?status=nonsense", f"/{X}/accounts/{p}/invoices/{demo.due}",
              f"/{X}/accounts/{p}/invoices/{demo.paid}", f"/{X}/accounts/{p}/profiles/{demo.profile}/pay",
              f"/{X}/accounts/{p}/profiles/{demo.profile}/pay?invoice={demo.due}&method=new"]
    erik = [f"/{X}/accounts/{a}/", f"/{X}/accounts/{a}/notifications",
            f"/{X}/accounts/{a}/subscriptions/{demo.production}/settle"]
    rasmus = [f"/{X}/accounts/{p}/", f"/{X}/accounts/{p}/invoices", f"/{X}/accounts/{p}/invoices/{demo.due}",
              f"/{X}/accounts/{p}/profiles/{demo.profile}/pay",
              f"/{X}/accounts/{p}/subscriptions/{demo.customer_portal}",  # B21: cancelled, undo refused
              f"/{X}/accounts/{p}/subscriptions/{demo.customer_portal}/undo-cancel"]
    olivia += [f"/{X}/accounts/{p}/subscriptions/{demo.customer_portal}/undo-cancel"]
    return {"anna@example.com": anna, "olivia@example.com": olivia, "erik@example.com": erik,
            "rasmus@example.com": rasmus}


def test_signed_out_pages_are_fully_translated(app, browser, demo):
    assert_pseudo(app, browser.get(f"/{X}/sign-in"), "sign-in")
    assert_pseudo(app, browser.post(f"/{X}/sign-in", {"email": "x", "password": ""}), "sign-in errors")
    assert_pseudo(app, browser.post(f"/{X}/sign-in", {"email": "anna@example.com", "password": "wrong"}),
                  "sign-in refused")
    assert_pseudo(app, browser.get(f"/{X}/no-such-page"), "404 signed out")
    assert_pseudo(app, browser.get(f"/{X}/accessibility"), "accessibility statement")


@pytest.mark.parametrize("who", ["anna@example.com", "olivia@example.com", "erik@example.com",
                                 "rasmus@example.com"])
def test_every_page_and_partial_is_fully_translated(app, browser, demo, who):
    app.config.update(SUBSCRIPTION_PAUSE=True)  # B21: the provider's setting, so its pages show their words
    sign_in_as(browser, who, X)
    for url in pages(demo)[who]:
        assert_pseudo(app, browser.get(url), url)
        assert_pseudo(app, browser.get(url, headers={"HX-Request": "true"}), f"{url} (htmx partial)")


def test_forms_with_errors_and_payment_outcomes_are_fully_translated(app, browser, demo):
    sign_in_as(browser, "anna@example.com", X)
    a = demo.payg
    settle = f"/{X}/accounts/{a}/subscriptions/{demo.production}/settle"
    html = browser.get(settle + "?method=new").get_data(as_text=True)
    form = html[html.index('<form method="post" action="'):]
    fields = {n: hidden(form, n) for n in ("csrf_token", "method", "expected_total", "idempotency_key")}
    bad_card = fields | {"card_number": "1234", "exp_month": "13", "exp_year": "1", "cvc": "x", "holder": ""}
    assert_pseudo(app, browser.post(settle, bad_card), "card errors")
    expired = fields | {"card_number": "4242424242424242", "exp_month": "1", "exp_year": "2020",
                        "cvc": "123", "holder": "A"}
    assert_pseudo(app, browser.post(settle, expired), "expired card")
    stale = fields | {"method": str(demo.spare_card), "expected_total": "1"}
    assert_pseudo(app, browser.post(settle, stale), "balance changed")
    declined = fields | {"method": str(demo.failed_card)}
    assert_pseudo(app, browser.post(settle, declined), "declined")
    reused = browser.post(settle, fields | {"method": str(demo.spare_card)})
    assert reused.status_code == 409
    assert_pseudo(app, reused, "payment form reused after a decline")
    html = browser.get(settle + f"?method={demo.spare_card}").get_data(as_text=True)
    form = html[html.index('<form method="post" action="'):]
    fresh = {n: hidden(form, n) for n in ("csrf_token", "method", "expected_total", "idempotency_key")}
    paid = browser.post(settle, fresh)
    assert_pseudo(app, browser.get(paid.location), "receipt")
    assert_pseudo(app, browser.post(settle, fresh, follow_redirects=True), "already paid")
    notifications = f"/{X}/accounts/{a}/notifications"
    assert_pseudo(app, browser.post(notifications, {"email": "nope"}), "notification email error")
    assert_pseudo(app, browser.post(notifications, {"email": "ok@example.com"}, follow_redirects=True),
                  "notification email saved")
    support = f"/{X}/accounts/{a}/support"
    assert_pseudo(app, browser.post(support, {"subject": "", "body": "", "subscription": "bogus"}),
                  "support errors")
    assert_pseudo(app, browser.post(support, {"subject": "Hej", "body": "Text", "subscription": ""},
                                    follow_redirects=True), "support sent")


def test_refusals_and_expired_forms_are_fully_translated(app, browser, demo):
    sign_in_as(browser, "erik@example.com", X)
    a = demo.payg
    assert_pseudo(app, browser.post(f"/{X}/accounts/{a}/notifications", {"email": "evil@example.com"},
                                    token_from=f"/{X}/accounts/{a}/"), "403")
    assert_pseudo(app, browser.post(f"/{X}/accounts/{a}/notifications",
                                    {"email": "x@example.com", "csrf_token": "forged"}), "csrf")
    assert_pseudo(app, browser.get(f"/{X}/accounts/{a}/notices/1/dismiss"), "405")


def test_i20_11_every_email_is_fully_translated(app, demo):
    """Issue 20 item 11: each billing email, HTML and plain text, in the pseudo-locale:
    nothing a reader sees outside the catalogs (names and addresses are data)."""
    from datetime import datetime

    from portal.mail.render import render_email
    from portal.models import OutboxMessage
    from tests.mail.test_accessibility import PAYLOADS

    data = data_values(app) + ["anna@example.com", "ekonomi@example.com", "Webbshop – produktion",
                               "Webbshop – test", "Arkiv", "Betalat men fortfarande inaktiverad",
                               "Fjällström Logistik AB", "202611000001", "202610000001",
                               "Standard", "Premium"]  # B24: the provider's plan names
    for template, payload in PAYLOADS.items():
        message = OutboxMessage(template=template, to_address="anna@example.com", locale=X,
                                payload={**payload, "account_id": demo.payg}, message_key=f"pseudo-{template}",
                                created_at=datetime(2026, 12, 1, 12))
        email = render_email(app, message)
        html = email.get_body(("html",)).get_content()
        assert f'lang="{X}"' in html, template
        problems = untranslated(html, sorted(data, key=len, reverse=True))
        assert not problems, f"{template}: text outside the catalogs:\n" + "\n".join(
            f"  {where}: {text!r}" for where, text in problems)
        plain = email.get_body(("plain",)).get_content()
        assert OPEN in plain and OPEN in str(email["Subject"]), template
