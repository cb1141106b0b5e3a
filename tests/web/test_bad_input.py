"""Bad input at scale (hypothesis): generated values — unicode, very long, negative,
zero, huge amounts, malformed ids and dates — posted to every form and sent to every
route. The answer is always a translated 4xx (never a 500), nothing in the database
changes, and nothing is charged.

Each generated request keeps everything valid but one thing, so that the one bad
value is what is being answered."""
from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import text

from portal.extensions import db
from tests.web.conftest import Browser, csrf_from
from tests.web.test_flows import pay_form
from tests.conftest import examples
from tests.web import test_i31_sign_in_security as i31

SETTINGS = settings(max_examples=examples(30), deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# What an untranslated Swedish page would show: none of it may appear on one.
ENGLISH = ("Page not found", "The page has expired", "Something is wrong with the request",
           "There is a problem", "You cannot do this", "This action is not possible here",
           "Too many attempts", "Too much data", "The amount to pay has changed", "Select a payment method",
           "Enter a valid", "Enter the", "Check this field")

# --- generated values ------------------------------------------------------------

weird_text = st.one_of(
    st.text(min_size=0, max_size=40),                                          # any unicode
    st.text(alphabet=st.characters(codec="utf-8"), min_size=300, max_size=3000),  # very long
    st.sampled_from(["", " ", "\t", "-1", "0", "00", "1e9", "NaN", "Infinity", "12.50", "-0",
                     "١٢٣", "１２３", "²", "9" * 40, "<script>alert(1)</script>", "' OR 1=1 --",
                     "%00", "../../etc/passwd", "2026-02-30", "31/12/2026", "\u202e1234", "𝟙𝟚𝟛"]),
).filter(lambda t: not any(phrase in t for phrase in ENGLISH))  # echoed back, it is no untranslated page
amounts = st.one_of(st.integers(min_value=-10**30, max_value=0), st.integers(min_value=10**15, max_value=10**40),
                    st.floats(allow_nan=True, allow_infinity=True), weird_text)


def bad_ids(own: set[int]):
    """Anything but one of the user's own ids, as it would appear in an address."""
    numbers = st.one_of(st.integers(min_value=-10**20, max_value=10**25), st.just(0),
                        st.integers(min_value=1, max_value=2**31 + 10)).filter(lambda n: n not in own)
    variants = [numbers.map(str), weird_text.filter(lambda t: t.strip() != "" and t not in map(str, own))]
    if own:  # an own id written in Arabic-Indic digits is not that id
        variants.append(st.sampled_from(sorted(own)).map(lambda n: "".join(chr(0x0660 + int(d)) for d in str(n))))
    return st.one_of(*variants)


def segment(value: str) -> str:
    return quote(value, safe="")


# --- the world -------------------------------------------------------------------

class Fuzz:
    """Signed-in browsers for the pay-as-you-go administrator and the agreement's
    owner, the database as it was, and checks for every answer."""

    def __init__(self, app, demo, b):
        self.app, self.demo, self.b = app, demo, b
        self.anna = self._browser("anna@example.com")
        self.olivia = self._browser("olivia@example.com")
        self.before = self.snapshot()

    def _browser(self, email):
        browser = Browser(self.app.test_client())
        browser.sign_in(email, "sv")
        return browser

    def token(self, browser, account):
        return csrf_from(browser.get(f"/sv/accounts/{account}/").get_data(as_text=True))

    def snapshot(self) -> str:
        """A digest of every row of every table (the sign-in counters aside: counting
        failed attempts is what they are for)."""
        self.b.session.rollback()
        digest = hashlib.sha256()
        for table in db.metadata.sorted_tables:
            if table.name == "rate_limits":
                continue
            for row in self.b.session.execute(text(f'SELECT * FROM "{table.name}" ORDER BY 1')):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    def check(self, response, lang="sv", allowed=None):
        status = response.status_code
        body = response.get_data(as_text=True)
        allowed = allowed or range(400, 500)
        assert status in allowed, (status, body[:1500])
        assert status < 500
        if 400 <= status < 500:
            assert f'<html lang="{lang}">' in body or body.lstrip().startswith("<section"), body[:500]
            if lang == "sv":
                assert not [e for e in ENGLISH if e in body], [e for e in ENGLISH if e in body]
        assert self.snapshot() == self.before, "a bad request changed the database"
        assert self.b.gateway.charges_for() == [], "a bad request reached the gateway"


@pytest.fixture
def fuzz(app, demo, b):
    return Fuzz(app, demo, b)


def own(demo):
    return {"account": {demo.payg, demo.agreement}, "subscription": {demo.production, demo.testing, demo.backup,
                                                                      demo.intranet, demo.archive},
            "profile": {demo.profile}, "invoice": {demo.due, demo.past_due, demo.paid}, "request": {demo.request}}


# --- GET: every page with malformed ids, and garbage in every query parameter -----

PAGES = {  # endpoint → (who, path template with {account} and the id being fuzzed)
    "overview.show": ("anna", "/sv/accounts/{id}/", "account"),
    "settle.start": ("anna", "/sv/accounts/{payg}/subscriptions/{id}/settle", "subscription"),
    "receipts.show": ("anna", "/sv/accounts/{payg}/payments/{id}", "payment"),
    "receipts.pdf": ("anna", "/sv/accounts/{payg}/payments/{id}/pdf", "payment"),
    "receipts.declined": ("anna", "/sv/accounts/{payg}/payments/declined/{id}", "attempt"),
    "invoices.index": ("olivia", "/sv/accounts/{id}/invoices", "account"),
    "invoices.detail": ("olivia", "/sv/accounts/{agreement}/invoices/{id}", "invoice"),
    "invoices.pdf": ("olivia", "/sv/accounts/{agreement}/invoices/{id}/pdf", "invoice"),
    "invoices.ubl": ("olivia", "/sv/accounts/{agreement}/invoices/{id}/ubl", "invoice"),
    "account.profile_billing_details": ("olivia", "/sv/accounts/{agreement}/profiles/{id}/billing-details",
                                        "profile"),
    "invoices.start": ("olivia", "/sv/accounts/{agreement}/profiles/{id}/pay", "profile"),
    "account.notifications": ("anna", "/sv/accounts/{id}/notifications", "account"),
    "account.support": ("anna", "/sv/accounts/{id}/support", "account"),
    "account.audit_log": ("anna", "/sv/accounts/{id}/audit", "account"),
    "payments.index": ("anna", "/sv/accounts/{id}/payments", "account"),
    "payments.payments_csv": ("anna", "/sv/accounts/{id}/payments.csv", "account"),
    "payments.invoices_csv": ("olivia", "/sv/accounts/{id}/invoices.csv", "account"),
    "payments.credit": ("anna", "/sv/accounts/{id}/credit", "account"),  # issue 33
    "methods.index": ("anna", "/sv/accounts/{id}/payment-methods", "account"),
    "methods.preview_move": ("anna", "/sv/accounts/{id}/payment-methods/move", "account"),
    "invoices.bulk": ("olivia", "/sv/accounts/{id}/invoices/download", "account"),  # issue 30
    "statements.show": ("anna", "/sv/accounts/{id}/statement", "account"),
    "statements.pdf": ("anna", "/sv/accounts/{id}/statement.pdf", "account"),
    "statements.csv": ("anna", "/sv/accounts/{id}/statement.csv", "account"),
    "costs.show": ("anna", "/sv/accounts/{id}/costs", "account"),  # issue 33
    "costs.csv": ("anna", "/sv/accounts/{id}/costs.csv", "account"),
    "people.index": ("anna", "/sv/accounts/{id}/access", "account"),
    "people.profile": ("olivia", "/sv/accounts/{agreement}/profiles/{id}/access", "profile"),
    # Issue 33: a subscription's page and its confirmations (their POST: test_bad_input_people_and_cards.py).
    "subscriptions.show": ("anna", "/sv/accounts/{payg}/subscriptions/{id}", "subscription"),
    "subscriptions.cancel": ("anna", "/sv/accounts/{payg}/subscriptions/{id}/cancel", "subscription"),
    "subscriptions.undo": ("anna", "/sv/accounts/{payg}/subscriptions/{id}/undo-cancel", "subscription"),
    "subscriptions.change_plan": ("anna", "/sv/accounts/{payg}/subscriptions/{id}/plan", "subscription"),  # B24
    "subscriptions.pause": ("anna", "/sv/accounts/{payg}/subscriptions/{id}/pause", "subscription"),  # B21
    "subscriptions.resume": ("anna", "/sv/accounts/{payg}/subscriptions/{id}/resume", "subscription"),  # B21
    # B22: one OCR reference for several invoices (its POST: tests/web/test_b22_payment_request_pages.py).
    "payment_requests.new": ("olivia", "/sv/accounts/{agreement}/profiles/{id}/one-transfer", "profile"),
    "payment_requests.show": ("olivia", "/sv/accounts/{agreement}/one-transfer/{id}", "request"),
}


def _payments_of(fuzz, account_id) -> set[int]:
    """Every payment of the account (the demo has several): a valid id, never a bad one."""
    from sqlalchemy import select
    from portal.models import Payment
    fuzz.b.session.rollback()
    found = set(fuzz.b.session.scalars(select(Payment.id).where(Payment.account_id == account_id)))
    fuzz.b.session.rollback()
    return found


@pytest.mark.parametrize("endpoint", sorted(PAGES))
@SETTINGS
@given(data=st.data())
def test_malformed_ids_in_every_page_address_are_a_translated_404(fuzz, endpoint, data):
    who, template, kind = PAGES[endpoint]
    ids = own(fuzz.demo).get(kind, set()) | (_payments_of(fuzz, fuzz.demo.payg) if kind == "payment" else set())
    value = data.draw(bad_ids(ids))
    path = template.format(id=segment(value), payg=fuzz.demo.payg, agreement=fuzz.demo.agreement)
    response = getattr(fuzz, who).get(path)
    if response.status_code == 308:
        # An id holding a '/' ("1/") makes '//' once the address is decoded, and Werkzeug
        # answers with a redirect to the merged path — an address of another id, which
        # the examples try on their own. Nothing else may redirect.
        merged = re.sub("/{2,}", "/", unquote(path))
        assert merged != unquote(path) and unquote(urlsplit(response.location).path) == merged, response.location
        return
    fuzz.check(response, allowed={400, 404})


QUERIES = [  # (who, path) with every query parameter the pages read
    ("anna", "/sv/accounts/{payg}/subscriptions/{production}/settle", ["method"]),
    ("olivia", "/sv/accounts/{agreement}/profiles/{profile}/pay", ["method", "invoice", "part"]),
    ("olivia", "/sv/accounts/{agreement}/invoices", ["status"]),
    ("anna", "/sv/accounts/{payg}/support", ["subscription"]),
    ("anna", "/sv/accounts/{payg}/audit", ["before"]),
    ("anna", "/sv/accounts/{payg}/payments", ["first", "last", "page"]),
    ("anna", "/sv/accounts/{payg}/payments.csv", ["first", "last"]),
    ("olivia", "/sv/accounts/{agreement}/credit", ["page"]),  # issue 33: the credit history's pages
    ("anna", "/sv/accounts/{payg}/payment-methods/move", ["subscriptions", "to"]),
    ("anna", "/sv/accounts/{payg}/support", ["topic"]),
    ("anna", "/sv/accounts/{payg}/support", ["payment"]),
    ("olivia", "/sv/accounts/{agreement}/statement", ["first", "last", "profile"]),  # issue 30
    ("olivia", "/sv/accounts/{agreement}/invoices/download", ["year", "first", "last", "xml"]),
    ("anna", "/sv/settings", ["next"]),
    ("anna", "/sv/", ["next"]),
    ("anna", "/sv/sign-in", ["next"]),
]


@pytest.mark.parametrize("who, template, params", QUERIES, ids=[q[1] for q in QUERIES])
@SETTINGS
@given(data=st.data())
def test_garbage_query_parameters_never_break_a_page(fuzz, who, template, params, data):
    values = {p: data.draw(st.lists(weird_text, min_size=1, max_size=3), label=p) for p in params}
    path = template.format(payg=fuzz.demo.payg, production=fuzz.demo.production,
                           agreement=fuzz.demo.agreement, profile=fuzz.demo.profile)
    response = getattr(fuzz, who).get(f"{path}?{urlencode(values, doseq=True)}")
    # Unknown values are ignored (200, or a redirect home) or refused with a reason (4xx).
    fuzz.check(response, allowed=set(range(200, 500)) - {201, 204})


# url_for's own keywords and the ones the language switcher passes: a query string
# must never steer the links a page builds (issue 14: 500s and external links).
RESERVED_KEYS = ["lang", "endpoint", "_external", "_scheme", "_anchor", "_method", "values", "page",
                 "chosen_page", "method", "invoice"]
query_keys = st.one_of(st.sampled_from(RESERVED_KEYS), st.text(min_size=1, max_size=20))


@pytest.mark.parametrize("who, template, params", QUERIES, ids=[q[1] for q in QUERIES])
@SETTINGS
@given(data=st.data())
def test_unknown_and_reserved_query_keys_never_break_a_page_or_its_links(fuzz, who, template, params, data):
    pairs = data.draw(st.lists(st.tuples(query_keys, st.one_of(weird_text, st.sampled_from(
        ["1", "sv", "en", "https", "javascript", "evil.example", "²", "٣", "x" * 5000]))), min_size=1, max_size=6))
    path = template.format(payg=fuzz.demo.payg, production=fuzz.demo.production,
                           agreement=fuzz.demo.agreement, profile=fuzz.demo.profile)
    response = getattr(fuzz, who).get(f"{path}?{urlencode(pairs)}")
    fuzz.check(response, allowed=set(range(200, 500)) - {201, 204})
    assert response.headers.get("Content-Security-Policy"), "every answer carries the security headers"
    body = response.get_data(as_text=True)
    assert not re.search(r'(href|action|hx-get|hx-post)="(https?://localhost|javascript:|//)', body), \
        "a link was made absolute (or worse) by the query"


# --- POST: every form, one field at a time ----------------------------------------

def bad_card_field(draw):
    field = draw(st.sampled_from(["card_number", "exp_month", "exp_year", "cvc", "holder"]))
    bad = {
        "card_number": weird_text.filter(lambda t: not _luhn_ascii(t)),
        "exp_month": weird_text.filter(lambda t: not re.fullmatch(r"0?[1-9]|1[0-2]", t)),
        "exp_year": st.one_of(weird_text, st.integers(-10**6, 10**6).map(str)).filter(
            lambda t: not (re.fullmatch(r"20[0-9][0-9]", t) and 2026 <= int(t) <= 2076)),
        "cvc": weird_text.filter(lambda t: not re.fullmatch(r"[0-9]{3}", t)),
        "holder": st.one_of(st.sampled_from(["", " ", "\t\n"]), st.text(min_size=201, max_size=400)),
    }[field]
    return field, draw(bad)


def _luhn_ascii(value: str) -> bool:
    from portal.billing.gateway import luhn_valid, normalize_card_number
    digits = normalize_card_number(value)
    return digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19 and luhn_valid(digits)


GOOD_CARD = {"card_number": "4242 4242 4242 4242", "exp_month": "4", "exp_year": "2030", "cvc": "123",
             "holder": "Anna Lindqvist"}


@pytest.mark.parametrize("form", ["settle", "pay_now"])
@SETTINGS
@given(data=st.data())
def test_payment_forms_with_one_bad_value_change_nothing_and_charge_nothing(fuzz, form, data):
    demo = fuzz.demo
    if form == "settle":
        browser, path, cards = fuzz.anna, f"/sv/accounts/{demo.payg}/subscriptions/{demo.production}/settle", \
            _cards_of(fuzz, demo.payg)
    else:
        browser, path = fuzz.olivia, f"/sv/accounts/{demo.agreement}/profiles/{demo.profile}/pay"
        cards = {_agreement_card(fuzz)}
    new_card = data.draw(st.booleans(), label="new card")
    saved = demo.spare_card if form == "settle" else _agreement_card(fuzz)
    page = browser.get(path + ("?method=new" if new_card else f"?method={saved}"))
    fields = pay_form(page.get_data(as_text=True)) | (GOOD_CARD if new_card else {})
    choices = ["expected_total", "idempotency_key", "method", "csrf_token", "path"] + (["card"] if new_card else [])
    what = data.draw(st.sampled_from(choices), label="bad")
    if what == "expected_total":
        fields["expected_total"] = str(data.draw(amounts))
    elif what == "idempotency_key":
        fields["idempotency_key"] = data.draw(weird_text.filter(lambda t: not re.fullmatch(r"[A-Za-z0-9-]{8,100}", t)))
    elif what == "method":
        valid = {"new"} | {str(c) for c in cards}
        fields["method"] = data.draw(st.one_of(weird_text, bad_ids(set()).filter(lambda v: v not in valid))
                                     .filter(lambda v: v not in valid))
    elif what == "csrf_token":
        fields["csrf_token"] = data.draw(weird_text)
    elif what == "path":
        ids = own(demo)["subscription" if form == "settle" else "profile"]
        bad = segment(data.draw(bad_ids(ids)))
        path = re.sub(r"/(subscriptions|profiles)/\d+/", rf"/\1/{bad}/", path)
    else:
        field, value = bad_card_field(data.draw)
        fields[field] = value
    response = browser.client.post(path, data=fields)
    fuzz.check(response)


def _cards_of(fuzz, account_id) -> set[int]:
    """Every card of the account: any of them is a valid choice, never a bad value."""
    from sqlalchemy import select
    from portal.models import PaymentMethod
    fuzz.b.session.rollback()
    return set(fuzz.b.session.scalars(select(PaymentMethod.id).where(PaymentMethod.account_id == account_id,
                                                                     PaymentMethod.kind == "card")))


def _agreement_card(fuzz):
    from sqlalchemy import select
    from portal.models import PaymentMethod
    fuzz.b.session.rollback()
    return fuzz.b.session.scalars(select(PaymentMethod.id).where(
        PaymentMethod.account_id == fuzz.demo.agreement, PaymentMethod.kind == "card")).first()


def _valid_email(value: str) -> bool:
    try:
        validate_email(value.strip(), check_deliverability=False)
        return True
    except (EmailNotValidError, ValueError):
        return False


@SETTINGS
@given(data=st.data())
def test_notification_address_form_refuses_what_is_not_an_address(fuzz, data):
    url = f"/sv/accounts/{fuzz.demo.payg}/notifications"
    token = fuzz.token(fuzz.anna, fuzz.demo.payg)
    email = data.draw(st.one_of(weird_text, st.emails().map(lambda e: e + "\x00" if data.draw(st.booleans())
                                                             else "a" * 250 + e)).filter(
        lambda e: not _valid_email(e) or len(e) > 254))
    fuzz.check(fuzz.anna.client.post(url, data={"csrf_token": token, "email": email}))


@SETTINGS
@given(data=st.data())
def test_support_form_refuses_empty_or_oversized_or_foreign_values(fuzz, data):
    url = f"/sv/accounts/{fuzz.demo.payg}/support"
    token = fuzz.token(fuzz.anna, fuzz.demo.payg)
    fields = {"csrf_token": token, "subject": "Betalat men inaktiverad", "body": "Hej!", "subscription": ""}
    what = data.draw(st.sampled_from(["subject", "body", "subscription"]))
    if what == "subject":
        fields["subject"] = data.draw(st.one_of(st.sampled_from(["", "   ", "\n"]), st.text(min_size=201, max_size=600)
                                                .filter(lambda t: len(t.strip()) > 200)))
    elif what == "body":
        fields["body"] = data.draw(st.one_of(st.sampled_from(["", " \t "]), st.text(min_size=5001, max_size=6000)
                                             .filter(lambda t: len(t.strip()) > 5000)))
    else:
        fields["subscription"] = data.draw(bad_ids(own(fuzz.demo)["subscription"]))
    fuzz.check(fuzz.anna.client.post(url, data=fields))


@SETTINGS
@given(data=st.data())
def test_sign_in_with_generated_credentials_is_refused_in_swedish(fuzz, data):
    client = fuzz.app.test_client()
    page = client.get("/sv/sign-in")
    email = data.draw(st.one_of(weird_text, st.emails()), label="email")
    password = data.draw(weird_text.filter(lambda p: p != "demo-password"), label="password")
    nxt = data.draw(weird_text, label="next")
    response = client.post(f"/sv/sign-in?{urlencode({'next': nxt})}", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "email": email, "password": password})
    fuzz.check(response, allowed={400, 422, 429})


@SETTINGS
@given(data=st.data())
def test_b8_add_card_form_with_one_bad_value_saves_nothing_and_charges_nothing(fuzz, data):
    path = f"/sv/accounts/{fuzz.demo.payg}/payment-methods/cards"
    fields = {"csrf_token": fuzz.token(fuzz.anna, fuzz.demo.payg)} | GOOD_CARD
    field, value = bad_card_field(data.draw)
    fuzz.check(fuzz.anna.client.post(path, data=fields | {field: value}))


@SETTINGS
@given(data=st.data())
def test_b8_move_confirmation_with_garbage_moves_nothing(fuzz, data):
    path = f"/sv/accounts/{fuzz.demo.payg}/payment-methods/move"
    fields = {"csrf_token": fuzz.token(fuzz.anna, fuzz.demo.payg), "expected_outstanding": "246900",
              "subscriptions": [str(fuzz.demo.production)], "to": str(fuzz.demo.second_card)}
    what = data.draw(st.sampled_from(["expected_outstanding", "subscriptions", "to"]))
    if what == "expected_outstanding":
        fields[what] = data.draw(st.one_of(weird_text, st.integers(0, 10**16).map(str)).filter(
            lambda v: not (v.isascii() and v.isdigit() and int(v) == 246900)))
    else:
        from sqlalchemy import select
        from portal.models import PaymentMethod
        fuzz.b.session.rollback()
        cards = set(fuzz.b.session.scalars(select(PaymentMethod.id)))
        fields[what] = data.draw(bad_ids(own(fuzz.demo)["subscription"] if what == "subscriptions" else cards))
    fuzz.check(fuzz.anna.client.post(path, data=fields), allowed=set(range(300, 500)))


@SETTINGS
@given(data=st.data())
def test_b10_personal_settings_refuse_unknown_languages_and_zones(fuzz, data):
    fields = {"csrf_token": fuzz.token(fuzz.anna, fuzz.demo.payg), "locale": "sv", "timezone": "Europe/Stockholm"}
    what = data.draw(st.sampled_from(["locale", "timezone"]))
    fields[what] = data.draw(weird_text.filter(lambda t: t not in ("sv", "en", "Europe/Stockholm")))
    fuzz.check(fuzz.anna.client.post("/sv/settings", data=fields))


@SETTINGS
@given(data=st.data())
def test_i33_a_spending_alerts_bad_amount_is_refused_never_an_error(fuzz, data):
    # No digit: never an amount, so nothing may change (valid ones: tests/web/test_i33_costs_pages.py).
    amount = data.draw(weird_text.filter(lambda t: not any(c.isdigit() for c in t)))
    fields = {"csrf_token": fuzz.token(fuzz.anna, fuzz.demo.payg), "amount": amount}
    fuzz.check(fuzz.anna.client.post(f"/sv/accounts/{fuzz.demo.payg}/costs/alert", data=fields),
               allowed={400, 422})


ACTIONS = {  # the POST routes without a form of their own: malformed ids, or a bad token
    "receipts.check": "/sv/accounts/{id}/payments/check",
    "account.dismiss_notice": "/sv/accounts/{payg}/notices/{id}/dismiss",
    "auth.sign_out": "/sv/sign-out",
    "methods.remove": "/sv/accounts/{payg}/payment-methods/{id}/remove",
    "methods.set_default": "/sv/accounts/{payg}/profiles/{id}/default-method",
    # Issue 31: the Access page's buttons (a role, an invitation).
    "people.change": "/sv/accounts/{payg}/access/roles/{id}",
    "people.remove": "/sv/accounts/{payg}/access/roles/{id}/remove",
    "people.resend": "/sv/accounts/{payg}/access/invitations/{id}/resend",
    "people.withdraw": "/sv/accounts/{payg}/access/invitations/{id}/withdraw",
    "costs.remove_alert": "/sv/accounts/{id}/costs/alert/remove",  # issue 33
    "methods.cancel_mandate": "/sv/accounts/{payg}/autogiro/{id}/cancel",  # issue 34
}


@pytest.mark.parametrize("endpoint", sorted(ACTIONS))
@SETTINGS
@given(data=st.data())
def test_actions_with_malformed_ids_or_tokens_do_nothing(fuzz, endpoint, data):
    token = fuzz.token(fuzz.anna, fuzz.demo.payg)
    if "{id}" in ACTIONS[endpoint] and data.draw(st.booleans(), label="bad id"):
        from sqlalchemy import select
        from portal.models import Notice
        fuzz.b.session.rollback()
        from portal.models import RoleAssignment
        mine = set(fuzz.b.session.scalars(select(Notice.id))) | {fuzz.demo.payg, fuzz.demo.agreement} \
            | _cards_of(fuzz, fuzz.demo.payg)  # a real card's "remove" is an answer, not a bad id
        mine |= set(fuzz.b.session.scalars(select(RoleAssignment.id)))  # so is a real role's
        path = ACTIONS[endpoint].format(id=segment(data.draw(bad_ids(mine))), payg=fuzz.demo.payg)
        fields = {"csrf_token": token}
        allowed = {400, 404}
    else:
        path = ACTIONS[endpoint].format(id=fuzz.demo.payg, payg=fuzz.demo.payg)
        fields = {"csrf_token": data.draw(weird_text.filter(lambda t: t != token))}
        allowed = {400}
    fuzz.check(fuzz.anna.client.post(path, data=fields), allowed=allowed)


def test_every_route_is_fuzzed(app):
    covered = set(PAGES) | set(ACTIONS) | {"settle.pay", "invoices.pay", "account.notifications",
                                           "methods.add_card", "methods.move", "account.settings",
                                           "methods.update",  # test_i33_item3_a_card_update_with_one_bad_value…
                                           "subscriptions.cancel",  # test_i33_a_cancellation_with_a_bad_last_day…
                                           "costs.set_alert",  # test_i33_a_spending_alerts_bad_amount_is_refused…
                                           "payment_requests.new",  # test_b22_bad_invoice_choices_change_nothing
                                           "methods.give_mandate",  # test_bad_input_people_and_cards.py: test_i34_a_mandate…
                                           "methods.give_account_mandate",  # … test_b23_a_pay_as_you_go_mandate…
                                           "account.billing_details",  # tests/web/test_billing_details.py
                                           "account.support", "auth.sign_in", "pages.home"}
    covered |= {"pages.accessibility", "pages.baseline", "favicon", "health.ready"}  # take no input: nothing to fuzz
    # B13: garbage keys, challenges and return addresses: tests/web/test_authentication_pages.py
    covered |= {"receipts.authenticated", "sandbox.challenge"}
    covered |= {"people.invite", "people.accept"}  # issue 31: below
    # Issue 31: sign-in security's forms and links: tests/web/test_i31_sign_in_security.py
    covered |= i31.ENDPOINTS
    # The provider's API: every operation by Schemathesis (tests/server/test_live_api.py).
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if not rule.endpoint.startswith("api.")}
    assert routes - {"static", "root"} == covered


@SETTINGS
@given(data=st.data())
def test_b7_billing_details_with_one_bad_value_change_nothing(fuzz, data):
    """B7: any text in any one field of an otherwise valid form: saved cleanly, or a
    translated 422 that changes nothing — never a 500."""
    url = f"/sv/accounts/{fuzz.demo.agreement}/profiles/{fuzz.demo.profile}/billing-details"
    form = {"company_name": "Fjällström Logistik AB", "country": "SE", "org_number": "556677-8899",
            "vat_number": "", "street": "Hamngatan 1", "postcode": "411 14", "city": "Göteborg", "reference": "",
            "recipients": "", "invoice_language": "sv"}
    name = data.draw(st.sampled_from(sorted(form)), label="field")
    form[name] = data.draw(weird_text, label="value")
    response = fuzz.olivia.client.post(url, data=form | {"csrf_token": fuzz.token(fuzz.olivia, fuzz.demo.agreement)})
    if response.status_code == 303:  # acceptable after all: saved, cleaned; the new state is the baseline
        fuzz.before = fuzz.snapshot()
        return
    fuzz.check(response, allowed={400, 422})  # 400: a NUL byte, refused before any view
