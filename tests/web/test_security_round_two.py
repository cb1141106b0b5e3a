"""Security, second round (issue 14): never a 500 from ordinary requests, headers on
every answer (crashes included), sessions that really end, no telling accounts apart
by timing, and a payment key looked up only within its own account."""
from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from werkzeug.security import generate_password_hash

from portal.billing import payments
from portal.errors import PaymentFormReused
from portal.billing.payments import UseSavedCard
from portal.extensions import db
from portal.models import User
from tests import factories as f
from tests.conftest import separate_app
from tests.web.conftest import Browser, csrf_from, sign_in_as
from tests.web.test_flows import pay_url, settle_url

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
                    "X-Frame-Options", "Permissions-Policy")


def assert_security_headers(response) -> None:
    missing = [h for h in SECURITY_HEADERS if not response.headers.get(h)]
    assert missing == [], (response.status_code, missing)


# --- never a 500 -------------------------------------------------------------------------

@pytest.mark.parametrize("email", ["olivia@example.com", "david@example.com", "ines@example.com"])
def test_pay_now_for_an_invoice_already_paid_says_so_instead_of_failing(browser, demo, email):
    """The email's Pay now link after someone paid (every payer role, with and without htmx)."""
    sign_in_as(browser, email, "en")
    url = pay_url(demo, invoice=demo.paid)
    response = browser.get(url)
    assert response.status_code == 303 and response.headers["Location"].endswith("/invoices")
    assert "There is nothing left to pay: it has already been paid." in browser.get(
        response.headers["Location"]).get_data(as_text=True)
    partial = browser.get(url + "&method=new", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and partial.headers["HX-Redirect"].endswith("/invoices")
    assert_security_headers(partial)


@pytest.mark.parametrize("query", ["lang=en", "lang=sv&endpoint=x", "endpoint=pages.home", "_external=1",
                                   "_scheme=javascript&_external=1", "_anchor=x", "_method=POST", "values=1",
                                   "page=%C2%B2", "page=%D9%A3", "chosen_page=%EF%BC%91"])
def test_reserved_and_unicode_query_values_are_ignored_not_a_crash(browser, demo, query):
    for url in (f"/sv/sign-in?{query}", f"/sv/accessibility?{query}"):  # signed out
        response = browser.get(url)
        assert response.status_code == 200, url
        assert 'href="http://localhost' not in response.get_data(as_text=True)
    sign_in_as(browser, "anna@example.com")
    for url in (f"/sv/accounts/{demo.payg}/?{query}", settle_url(demo, lang="sv") + f"?{query}"):
        response = browser.get(url)
        assert response.status_code in (200, 422), url  # 422: "select a payment method" for a bad method
        html = response.get_data(as_text=True)
        assert 'href="http://localhost' not in html and "_external" not in html and "endpoint=" not in html


def test_every_answer_carries_the_security_headers_even_a_crash(tmp_path, monkeypatch):
    with separate_app(tmp_path) as app:
        crashing_app_answers_with_headers(app, monkeypatch)


def crashing_app_answers_with_headers(app, monkeypatch):
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.get("/sv/crash-for-the-test")
    def crash():
        raise RuntimeError("boom")
    client = app.test_client()
    response = client.get("/sv/crash-for-the-test")
    assert response.status_code == 500 and "Något gick fel hos oss" in response.get_data(as_text=True)
    assert_security_headers(response)
    # The error page itself fails: a minimal page, still translated, still with headers.
    import portal.web.errors as errors
    monkeypatch.setattr(errors, "error_page", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no template")))
    response = client.get("/sv/crash-for-the-test")
    assert response.status_code == 500 and "Något gick fel hos oss" in response.get_data(as_text=True)
    assert_security_headers(response)
    for url in ("/sv/no-such-page", "/static/nothing.css", "/sv/sign-in"):
        assert_security_headers(client.get(url))


# --- sessions that end ---------------------------------------------------------------------

def test_sign_out_ends_every_copy_of_the_session(app, demo, browser):
    sign_in_as(browser, "anna@example.com")
    copy = Browser(app.test_client())
    for cookie in browser.client._cookies.values():
        copy.client.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    assert copy.get(f"/sv/accounts/{demo.payg}/").status_code == 200  # a copy works while signed in
    browser.post("/sv/sign-out", {}, token_from=f"/sv/accounts/{demo.payg}/")
    stolen = copy.get(f"/sv/accounts/{demo.payg}/")
    assert stolen.status_code == 302 and "/sv/sign-in" in stolen.headers["Location"]
    # … and it cannot pay either.
    response = copy.client.post(settle_url(demo, lang="sv"), data={"method": str(demo.spare_card)})
    assert response.status_code in (302, 400) and b"Betalningen har tagits emot" not in response.data
    sign_in_as(browser, "anna@example.com")  # signing in again works
    assert browser.get(f"/sv/accounts/{demo.payg}/").status_code == 200


@pytest.mark.parametrize("idle, steps, signed_out", [
    (timedelta(minutes=29), 1, False),
    (timedelta(minutes=31), 1, True),             # idle longer than SESSION_IDLE_MINUTES
    (timedelta(minutes=25), 30, True),            # busy, but past SESSION_MAX_HOURS (12.5 h)
])
def test_idle_and_absolute_session_lifetimes_end_in_a_translated_sign_in(app, demo, browser, clock,
                                                                        idle, steps, signed_out):
    sign_in_as(browser, "anna@example.com")
    start = clock.now()
    moved = timedelta(0)
    for _ in range(steps):
        moved += idle
        clock.now = lambda moved=moved: start + moved
        response = browser.get(f"/sv/accounts/{demo.payg}/")
        if response.status_code != 200:
            break
    assert (response.status_code == 302) == signed_out
    if signed_out:
        page = browser.get(response.headers["Location"]).get_data(as_text=True)
        assert "Du har loggats ut eftersom sessionen har gått ut" in page


# --- no enumeration by timing --------------------------------------------------------------

def test_sign_in_takes_as_long_for_an_unknown_email_as_for_a_known_one(tmp_path):
    """Real hashes (scrypt, as in production); a dummy made the same way for unknown
    emails. The medians of both must be within 20 % of each other."""
    with separate_app(tmp_path, SIGN_IN_LIMIT_PER_ACCOUNT="1000 per minute", SIGN_IN_LIMIT_PER_ADDRESS="1000 per minute",
                      PASSWORD_HASH_METHOD="scrypt", WTF_CSRF_ENABLED=False) as app:
        known_and_unknown_take_as_long(app)


def known_and_unknown_take_as_long(app):
    with app.app_context():
        db.session.add(User(email="known@example.com", name="Known", locale="sv",
                            password_hash=generate_password_hash("right-password", method="scrypt")))
        db.session.commit()
    client = app.test_client()

    def attempt(email):
        began = time.perf_counter()
        response = client.post("/sv/sign-in", data={"email": email, "password": "wrong-password"})
        assert response.status_code == 422
        return time.perf_counter() - began
    attempt("unknown@example.com")  # warm up (the dummy hash is made once)
    known, unknown = [], []
    for _ in range(9):
        known.append(attempt("known@example.com"))
        unknown.append(attempt("nobody@example.com"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.8 <= ratio <= 1.25, (statistics.median(known), statistics.median(unknown))


# --- payment keys are looked up within their account ----------------------------------------

def test_the_key_of_another_accounts_payment_tells_nothing(b, demo):
    from sqlalchemy import select
    anna = b.session.scalars(select(User).where(User.email == "anna@example.com")).one()
    quote = payments.quote_settlement(b, anna, demo.production, demo.spare_card)
    payments.settle_balance(b, anna, demo.production, UseSavedCard(demo.spare_card), quote.total.minor,
                            "key-of-anna-0001")
    other = f.account(b)
    card = f.card(b, other)
    sub = f.past_due(b, other, card)
    admin = f.user(b, f.Role.ACCOUNT_ADMIN, other)
    f.commit(b)
    with pytest.raises(PaymentFormReused):  # not AlreadyPaid(anna's payment id)
        payments.settle_balance(b, admin, sub.id, UseSavedCard(card.id), 100_00, "key-of-anna-0001")


# --- no lock-out by strangers ---------------------------------------------------------------

def _sign_in(client, email, password, address):
    page = client.get("/sv/sign-in", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True)
    return client.post("/sv/sign-in", environ_base={"REMOTE_ADDR": address},
                       data={"csrf_token": csrf_from(page), "email": email, "password": password})


def test_strangers_cannot_lock_out_a_browser_that_signed_in_before(app, demo):
    """OWASP's device cookie: failures from browsers that never signed in to the account
    pause only those; the owner's browser keeps signing in (and has limits of its own)."""
    annas = app.test_client()
    assert _sign_in(annas, "anna@example.com", "demo-password", "198.51.100.1").status_code == 303
    device = annas.get_cookie("device")
    assert device is not None and device.http_only and "anna" not in device.value
    annas.post("/sv/sign-out", data={"csrf_token": csrf_from(annas.get("/sv/", follow_redirects=True).get_data(as_text=True))})
    stranger = app.test_client()
    for _ in range(5):
        assert _sign_in(stranger, "anna@example.com", "guess", "203.0.113.66").status_code == 422
    assert _sign_in(stranger, "anna@example.com", "demo-password", "203.0.113.66").status_code == 429
    assert _sign_in(app.test_client(), "anna@example.com", "demo-password", "198.51.100.2").status_code == 429
    assert _sign_in(annas, "anna@example.com", "demo-password", "198.51.100.1").status_code == 303
    # A device cookie is for its own account only.
    annas.post("/sv/sign-out", data={"csrf_token": csrf_from(annas.get("/sv/", follow_redirects=True).get_data(as_text=True))})
    for _ in range(5):
        _sign_in(stranger, "erik@example.com", "guess", "203.0.113.66")
    assert _sign_in(annas, "erik@example.com", "demo-password", "198.51.100.1").status_code == 429
