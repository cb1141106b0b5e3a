"""Issue 31 (items 3, 4, 5 and `flask users reset-mfa`): password reset by a single-use
link, the second factor (TOTP with codes computed here from the injected clock,
recovery codes, remembered browsers, step-up), and lock-out without lock-out."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote
from datetime import timedelta, timezone

import pyotp
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from portal.billing.accounts import second_factor
from portal.billing.accounts.passwords import password_problem
from portal.billing.clock import FixedClock
from portal.demo import DEMO_PASSWORD
from portal.mail.render import render_email
from portal.models import AuditEvent, OutboxMessage, RecoveryCode, SignInToken, User
from tests.conftest import TODAY, examples
from tests.web.conftest import Browser, csrf_from

ANNA, RASMUS = "anna@example.com", "rasmus@example.com"
NEW_PASSWORD = "a lantern by the quiet harbour"


@dataclass
class MinuteClock(FixedClock):
    """The suite's fixed noon, moved on by whole minutes (a TOTP step is 30 s)."""
    minutes: int = 0

    def now(self):
        return super().now() + timedelta(minutes=self.minutes)


@pytest.fixture
def clock():
    return MinuteClock(TODAY)


def code_at(key: str, clock) -> str:
    return pyotp.TOTP(key).at(clock.now().replace(tzinfo=timezone.utc))


def rows(b, statement):
    """What the portal wrote (a fresh look: the test's session sees no old snapshot)."""
    b.session.rollback()
    return b.session.scalars(statement)


def person(b, email) -> User:
    b.session.rollback()
    return b.session.scalars(select(User).where(User.email == email)).one()


def setup_totp(app, b, clock, email=ANNA) -> tuple[Browser, str, list[str]]:
    """Sign in, set up an authenticator: (the signed-in browser, the key, the codes)."""
    browser = Browser(app.test_client())
    browser.sign_in(email, "en")
    page = browser.get("/en/security/authenticator").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page and 'autocomplete="one-time-code"' in page
    assert 'inputmode="numeric"' in page and "QR code with the key" in page
    key = "".join(re.search(r'<code class="totp-key"[^>]*>(.*?)</code>', page).group(1)
                  .replace("<span>", "").replace("</span>", "").split())
    done = browser.post("/en/security/authenticator", {"code": code_at(key, clock)})
    assert done.status_code == 200, done.get_data(as_text=True)[:800]
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    clock.minutes += 1
    return browser, key, codes


def password_step(client, email=ANNA, password=DEMO_PASSWORD, lang="en"):
    page = client.get(f"/{lang}/sign-in")
    return client.post(f"/{lang}/sign-in", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                 "email": email, "password": password})


def signed_in(client, demo) -> bool:
    return client.get(f"/en/accounts/{demo.payg}/").status_code == 200


# ---- Password rule -----------------------------------------------------------------

def test_i31_password_rule_is_length_and_common_passwords_only():
    assert password_problem("short-one") == "too_short"
    assert password_problem("qwerty123456") == "too_common"
    assert password_problem("x" * 129) == "too_long"
    assert password_problem("lowercase only words") is None  # no composition rules


# ---- Password reset ----------------------------------------------------------------

def reset_link(app, b, to=ANNA) -> str:
    message = rows(b, select(OutboxMessage).where(OutboxMessage.to_address == to)
                                .order_by(OutboxMessage.id.desc())).first()
    email = render_email(app, message)
    text = email.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+", text[text.index("http"):]).group(0).split("127.0.0.1:5000")[1]


def test_i31_reset_link_works_once_and_ends_every_other_session(app, demo, b, clock):
    elsewhere = Browser(app.test_client())
    elsewhere.sign_in(ANNA, "en")
    browser = Browser(app.test_client())
    sent = browser.post("/en/forgot-password", {"email": " Anna@Example.com "})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/en/email-sent")
    link = reset_link(app, b)
    assert link.startswith("/en/reset-password/")
    token = link.rsplit("/", 1)[1]
    # Only a hash is stored, and the outbox keeps a nonce, not the token.
    assert rows(b, select(SignInToken.token_hash)).one() != token
    assert token not in str(rows(b, select(OutboxMessage.payload)).all())
    form = browser.get(link).get_data(as_text=True)
    assert 'autocomplete="new-password"' in form and ANNA in form
    too_short = browser.post(link, {"password": "short"})
    assert too_short.status_code == 422 and "at least 12 characters" in too_short.get_data(as_text=True)
    common = browser.post(link, {"password": "qwerty123456"})
    assert common.status_code == 422 and "most commonly used" in common.get_data(as_text=True)
    done = browser.post(link, {"password": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"].endswith("/en/sign-in")
    assert browser.get(link).status_code == 410  # used up
    assert not signed_in(elsewhere.client, demo)  # the other session ended
    assert password_step(app.test_client(), password=DEMO_PASSWORD).status_code == 422
    assert password_step(app.test_client(), password=NEW_PASSWORD).status_code == 303
    assert rows(b, select(AuditEvent.action).where(AuditEvent.action == "password.reset")).one()


def test_i31_reset_link_expires_after_an_hour(app, demo, b, clock):
    browser = Browser(app.test_client())
    browser.post("/en/forgot-password", {"email": ANNA})
    link = reset_link(app, b)
    clock.minutes += 59
    assert browser.get(link).status_code == 200
    clock.minutes += 2
    assert browser.get(link).status_code == 410
    assert browser.post(link, {"password": NEW_PASSWORD}).status_code == 410


def test_i31_reset_answers_the_same_for_an_unknown_address(app, demo, b):
    browser = Browser(app.test_client())
    known = browser.post("/en/forgot-password", {"email": ANNA})
    unknown = browser.post("/en/forgot-password", {"email": "nobody@example.com"})
    assert (known.status_code, known.headers["Location"]) == (unknown.status_code, unknown.headers["Location"])
    # The same work either way: one token made and one email queued (and no link for nobody).
    queued = {m.to_address: m.template for m in rows(b, select(OutboxMessage))}
    assert queued == {ANNA: "password_reset", "nobody@example.com": "password_reset_unknown"}
    text = render_email(app, b.session.scalars(select(OutboxMessage).where(
        OutboxMessage.to_address == "nobody@example.com")).one()).get_body(("plain",)).get_content()
    text = " ".join(text.split())
    assert "no account there uses this address" in text and "reset-password" not in text


# ---- TOTP, recovery codes, remembered browsers -------------------------------------

def test_i31_totp_sign_in_with_a_code_computed_in_the_test(app, demo, b, clock):
    _browser, key, _codes = setup_totp(app, b, clock)
    assert second_factor.has_second_factor(person(b, ANNA))
    assert key not in person(b, ANNA).totp_secret  # kept encrypted
    client = app.test_client()
    asked = password_step(client)
    assert asked.status_code == 303 and asked.headers["Location"].endswith("/en/sign-in/code")
    assert not signed_in(client, demo)  # the password alone is not enough
    browser = Browser(client)
    wrong = browser.post("/en/sign-in/code", {"code": "000000"})
    assert wrong.status_code == 422 and "The code is not right" in wrong.get_data(as_text=True)
    code = code_at(key, clock)
    assert browser.post("/en/sign-in/code", {"code": code[:3] + " " + code[3:]}).status_code == 303
    assert signed_in(client, demo)
    # The same code never works twice.
    again = Browser(app.test_client())
    password_step(again.client)
    assert again.post("/en/sign-in/code", {"code": code}).status_code == 422


def test_i31_a_recovery_code_works_once(app, demo, b, clock):
    _browser, _key, codes = setup_totp(app, b, clock)
    for expected in (303, 422):
        browser = Browser(app.test_client())
        password_step(browser.client)
        answer = browser.post("/en/sign-in/recovery-code", {"code": codes[0].upper()})
        assert answer.status_code == expected
    assert rows(b, select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).all()
    assert second_factor.recovery_codes_left(b.session, person(b, ANNA)) == 9


def test_i31_a_remembered_browser_skips_the_code_until_revoked(app, demo, b, clock, runner):
    _browser, key, _codes = setup_totp(app, b, clock)
    browser = Browser(app.test_client())
    password_step(browser.client)
    browser.post("/en/sign-in/code", {"code": code_at(key, clock), "remember": "y"})
    browser.post("/en/sign-out", token_from=f"/en/accounts/{demo.payg}/")
    skipped = password_step(browser.client)
    assert skipped.status_code == 303 and "/sign-in/code" not in skipped.headers["Location"]
    assert signed_in(browser.client, demo)
    # Another browser is not remembered.
    assert password_step(app.test_client()).headers["Location"].endswith("/sign-in/code")
    # Resetting the factor (the provider's command, audited) revokes the cookie.
    result = runner.invoke(args=["users", "reset-mfa", ANNA])
    assert result.exit_code == 0, result.output
    assert rows(b, select(AuditEvent.details).where(AuditEvent.action == "second_factor.reset")).one()
    assert not second_factor.has_second_factor(person(b, ANNA))
    assert runner.invoke(args=["users", "reset-mfa", "nobody@example.com"]).exit_code != 0
    _again, key, _codes = setup_totp(app, b, clock)
    assert password_step(browser.client).headers["Location"].endswith("/sign-in/code")


def test_i31_a_password_reset_revokes_remembered_browsers(app, demo, b, clock):
    _browser, key, _codes = setup_totp(app, b, clock)
    browser = Browser(app.test_client())
    password_step(browser.client)
    browser.post("/en/sign-in/code", {"code": code_at(key, clock), "remember": "y"})
    browser.post("/en/forgot-password", {"email": ANNA})
    browser.post(reset_link(app, b), {"password": NEW_PASSWORD})
    assert password_step(browser.client, password=NEW_PASSWORD).headers["Location"].endswith("/sign-in/code")


def test_i31_step_up_before_adding_a_card(app, demo, b, clock):
    browser, key, _codes = setup_totp(app, b, clock)
    card = {"method": "new", "card_number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2031",
            "cvc": "123", "holder": "Anna Lind"}
    methods = f"/en/accounts/{demo.payg}/payment-methods"
    clock.minutes += 16  # the code at set-up was given longer ago than STEP_UP_MINUTES
    asked = browser.post(f"{methods}/cards", card, token_from=methods, headers={"Referer": f"http://localhost{methods}"})
    assert asked.status_code == 303 and "/en/confirm-identity?next=" in asked.headers["Location"]
    assert b.gateway.charges_for() == [] and len(person(b, ANNA).roles) and "4242" not in asked.location
    page = browser.get(asked.headers["Location"])
    assert 'autocomplete="one-time-code"' in page.get_data(as_text=True)
    confirmed = browser.post(asked.headers["Location"], {"code": code_at(key, clock)})
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == methods
    added = browser.post(f"{methods}/cards", card, token_from=methods)
    assert added.status_code == 303


def test_i31_the_second_factor_is_required_for_paying_roles_optional_for_readers(app, demo, b, clock):
    app.config["REQUIRE_SECOND_FACTOR"] = True
    anna = Browser(app.test_client())
    anna.sign_in(ANNA, "en")
    forced = anna.get(f"/en/accounts/{demo.payg}/")
    assert forced.status_code == 303 and "/en/security/authenticator" in forced.headers["Location"]
    assert "set it up now to continue" in anna.get(forced.headers["Location"]).get_data(as_text=True).lower()
    rasmus = Browser(app.test_client())
    rasmus.sign_in(RASMUS, "en")
    assert rasmus.get(f"/en/accounts/{demo.agreement}/").status_code == 200
    assert "Set up two-step verification" in rasmus.get("/en/security").get_data(as_text=True)
    # Once on, Anna may not turn it off (her roles can pay); a reader may.
    _browser, _key, _codes = setup_totp(app, b, clock)
    assert _browser.post("/en/security/turn-off", token_from="/en/security").status_code == 403


# ---- Lock-out without lock-out -------------------------------------------------------

def test_i31_after_a_strangers_20_wrong_passwords_the_owner_signs_in_on_a_new_device(app, demo, b, clock):
    _browser, key, _codes = setup_totp(app, b, clock)
    stranger_ip = {"REMOTE_ADDR": "203.0.113.9"}
    stranger = app.test_client()
    answers = []
    for n in range(20):
        page = stranger.get("/en/sign-in", environ_base=stranger_ip)
        answers.append(stranger.post("/en/sign-in", environ_base=stranger_ip, data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "email": ANNA, "password": f"guess-{n}"})
            .status_code)
    assert answers[:5] == [422] * 5 and set(answers[5:]) == {429}
    # The owner, on a new device and another address: the password alone is paused…
    owner = Browser(app.test_client())
    paused = password_step(owner.client)
    html = paused.get_data(as_text=True)
    assert paused.status_code == 429 and "Sign in with your password and a code" in html
    # …a stranger's password and code together get one answer for every mistake…
    wrong = owner.post("/en/sign-in/with-code", {"email": ANNA, "password": "guess-21", "code": "123456"},
                       token_from="/en/forgot-password")
    assert wrong.status_code == 422 and "The email address, password or code is not right" in \
        wrong.get_data(as_text=True)
    # …and the owner's password and code sign in.
    ok = owner.post("/en/sign-in/with-code", {"email": ANNA, "password": DEMO_PASSWORD,
                                              "code": code_at(key, clock)}, token_from="/en/forgot-password")
    assert ok.status_code == 303 and signed_in(owner.client, demo)

    # Or through the unlock link sent by email (another new device).
    other = Browser(app.test_client())
    assert password_step(other.client).status_code == 429
    sent = other.post("/en/sign-in/unlock", {"email": ANNA}, token_from="/en/forgot-password")
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/en/email-sent")
    message = rows(b, select(OutboxMessage).where(OutboxMessage.template == "sign_in_unlock")).one()
    link = reset_link(app, b)
    assert message.to_address == ANNA and link.startswith("/en/sign-in/unlock/")
    assert other.get(link).status_code == 200  # asks first: a mail scanner uses nothing up
    assert other.post(link, {}).status_code == 303
    clock.minutes += 1
    asked = password_step(other.client)
    assert asked.status_code == 303 and asked.headers["Location"].endswith("/sign-in/code")
    assert other.post("/en/sign-in/code", {"code": code_at(key, clock)}).status_code == 303
    assert signed_in(other.client, demo)
    assert other.post(link, {}).status_code == 410  # once only
    # The stranger is still paused.
    page = stranger.get("/en/sign-in", environ_base=stranger_ip)
    assert stranger.post("/en/sign-in", environ_base=stranger_ip, data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "email": ANNA,
        "password": DEMO_PASSWORD}).status_code == 429


# ---- Bad input: any text in any field, never a 500 -------------------------------------

FORMS = {  # endpoint → (path, its fields); signed out, or signed in as Anna
    "sign_in_links.forgot_password": ("/sv/forgot-password", ("email",)),
    "sign_in_links.send_unlock": ("/sv/sign-in/unlock", ("email",)),
    "sign_in_links.reset_password": ("/sv/reset-password/{text}", ("password",)),
    "sign_in_links.unlock": ("/sv/sign-in/unlock/{text}", ()),
    "second_factor.code": ("/sv/sign-in/code", ("code", "remember")),
    "second_factor.recovery_code": ("/sv/sign-in/recovery-code", ("code", "remember")),
    "second_factor.with_code": ("/sv/sign-in/with-code", ("email", "password", "code")),
    "second_factor.setup": ("/sv/security/authenticator", ("code",)),
    "second_factor.step_up": ("/sv/confirm-identity?next={text}", ("code",)),
}
# Take no input, or only a token (checked by tests/web/test_security.py).
NO_INPUT = {"sign_in_links.email_sent", "second_factor.security", "second_factor.new_recovery_codes",
            "second_factor.forget_browsers", "second_factor.turn_off"}
ENDPOINTS = set(FORMS) | NO_INPUT
weird_text = st.one_of(  # as tests/web/test_bad_input.py's, plus what codes and links look like
    st.text(min_size=0, max_size=40), st.text(min_size=300, max_size=3000),
    st.sampled_from(["", " ", "000000", "123 456", "１２３４５６", "١٢٣٤٥٦", "abcde-23456", "ABCDE 23456", "-1",
                     "9" * 40, "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc/passwd", "\u202e1234"]))


@settings(max_examples=examples(20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_i31_any_text_in_any_field_is_answered_never_a_500(app, demo, data):
    endpoint = data.draw(st.sampled_from(sorted(FORMS)), label="endpoint")
    path, fields = FORMS[endpoint]
    text = data.draw(weird_text, label="value")
    browser = Browser(app.test_client())
    if endpoint in ("second_factor.setup", "second_factor.step_up"):
        browser.sign_in(ANNA, "sv")
    elif endpoint.startswith("second_factor."):
        password_step(browser.client, lang="sv")
    url = path.format(text=quote(text[:200], safe=""))
    token = csrf_from(browser.get("/sv/sign-in").get_data(as_text=True))
    response = browser.client.post(url, data={"csrf_token": token, **{name: text for name in fields}})
    assert response.status_code in (200, 303, 400, 404, 410, 413, 422, 429), (endpoint, response.status_code)


def test_i31_the_own_security_pages_send_a_visitor_to_sign_in(app, demo):
    anonymous = Browser(app.test_client())
    token = csrf_from(anonymous.get("/en/sign-in").get_data(as_text=True))
    for path, method in [("/en/security", "get"), ("/en/security/authenticator", "get"),
                         ("/en/security/recovery-codes", "post"), ("/en/security/forget-browsers", "post"),
                         ("/en/security/turn-off", "post"), ("/en/confirm-identity", "get")]:
        response = getattr(anonymous.client, method)(path, data={"csrf_token": token} if method == "post" else None)
        assert response.status_code == 302 and "/en/sign-in?next=" in response.location, path
