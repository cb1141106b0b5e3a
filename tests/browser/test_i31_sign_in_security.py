"""Issue 31 in real Chromium, one walk per language by keyboard alone (axe on every
page): set up two-step verification with a code computed here, sign out, sign in with
a code and with a recovery code, reset the password from the emailed link — and the
same without JavaScript. Each changes people's sign-in, so on a server of its own."""
from __future__ import annotations

import json
import sqlite3

import pyotp

from portal.billing.accounts.sign_in_links import link_token
from portal.billing.clock import epoch_seconds
from tests.browser.a11y import assert_accessible, focused, press_tab_until
from tests.browser.test_keyboard import press_and_wait_for_page

NEW_PASSWORD = "a lantern by the quiet harbour"
DEV_SECRET = "dev-only-not-secret"  # the live server runs as development (tests/browser/server.py)
WORDS = {
    "sv": dict(sign_in="Logga in", sign_out="Logga ut", security="Inloggning och säkerhet",
               setup="Konfigurera tvåstegsverifiering", turn_on="Slå på tvåstegsverifiering",
               saved="Jag har sparat koderna", recovery="Använd en återställningskod i stället",
               forgot="Har du glömt ditt lösenord?", send="Skicka länken", save="Spara det nya lösenordet",
               locked="För många försök att logga in", code_h1="Ange koden från din autentiseringsapp"),
    "en": dict(sign_in="Sign in", sign_out="Sign out", security="Sign-in and security",
               setup="Set up two-step verification", turn_on="Turn on two-step verification",
               saved="I have saved the codes", recovery="Use a recovery code instead",
               forgot="Forgot your password?", send="Send the link", save="Save the new password",
               locked="Too many attempts to sign in", code_h1="Enter the code from your authenticator app"),
}


def code(key: str, steps: int) -> str:
    """The code `steps` 30-second steps from now (-1, 0 or 1: all accepted, for a
    clock a little off). A walk takes them in that order, so each is later than the
    one accepted before it, however the steps fall (no code works twice)."""
    return pyotp.TOTP(key).at(epoch_seconds() + 30 * steps)


def emailed_link(site, purpose_template: str) -> str:
    """The link of the newest email of that kind, made as the mail edge makes it."""
    with sqlite3.connect(f"file:{site.server.folder / 'portal.sqlite'}?mode=ro", uri=True) as db:
        payload, locale = db.execute("SELECT payload, locale FROM outbox WHERE template = ? "
                                     "ORDER BY id DESC LIMIT 1", (purpose_template,)).fetchone()
    token = link_token(DEV_SECRET, json.loads(payload)["nonce"])
    path = "reset-password" if purpose_template == "password_reset" else "sign-in/unlock"
    return f"{site.url}/{locale}/{path}/{token}"


def type_into(page, field_id: str, text: str) -> None:
    press_tab_until(page, lambda w: w["id"] == field_id)
    page.keyboard.type(text)


def activate(page, predicate) -> None:
    press_tab_until(page, predicate)
    press_and_wait_for_page(page)


def button(text):
    return lambda w: w["tag"] == "button" and w["text"] == text


def link(text):
    return lambda w: w["tag"] == "a" and w["text"] == text


def sign_in(page, email, password) -> None:
    page.goto(f"{page.base}/{page.lang}/sign-in")
    type_into(page, "email", email)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(password)
    press_and_wait_for_page(page)


def walk(page, site, email) -> None:
    w = WORDS[page.lang]
    sign_in(page, email, "demo-password")
    page.goto(f"{page.base}/{page.lang}/settings")
    activate(page, lambda x: x["tag"] == "a" and x["text"].startswith(w["security"]))
    assert_accessible(page, f"sign-in and security, off ({page.lang})")
    activate(page, link(w["setup"]))
    assert_accessible(page, f"authenticator setup ({page.lang})")
    assert page.locator("img.qr").get_attribute("alt")
    key = page.locator(".totp-key").inner_text().replace(" ", "")
    type_into(page, "code", code(key, -1))
    press_and_wait_for_page(page)
    assert_accessible(page, f"recovery codes ({page.lang})")
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    activate(page, link(w["saved"]))
    activate(page, button(w["sign_out"]))

    # Password, then the code from the app.
    sign_in(page, email, "demo-password")
    assert page.locator("h1").inner_text() == w["code_h1"]
    assert_accessible(page, f"the code after the password ({page.lang})")
    type_into(page, "code", code(key, 0))
    press_and_wait_for_page(page)
    assert "/accounts/" in page.url
    activate(page, button(w["sign_out"]))

    # Password, then a recovery code.
    sign_in(page, email, "demo-password")
    activate(page, link(w["recovery"]))
    assert_accessible(page, f"a recovery code ({page.lang})")
    type_into(page, "code", codes[0])
    press_and_wait_for_page(page)
    assert "/accounts/" in page.url
    activate(page, button(w["sign_out"]))

    # Forgot the password: the emailed link, a new password, then password + code.
    activate(page, link(w["forgot"]))
    assert_accessible(page, f"forgot password ({page.lang})")
    type_into(page, "email", email)
    press_and_wait_for_page(page)
    assert_accessible(page, f"check your email ({page.lang})")
    page.goto(emailed_link(site, "password_reset"))
    type_into(page, "password", "qwerty123456")  # a common password: refused, said at the field
    press_and_wait_for_page(page)
    assert_accessible(page, f"new password refused ({page.lang})")
    page.fill("#password", "")
    type_into(page, "password", NEW_PASSWORD)
    press_and_wait_for_page(page)
    assert page.url.endswith(f"/{page.lang}/sign-in")
    sign_in(page, email, NEW_PASSWORD)
    type_into(page, "code", code(key, 1))
    press_and_wait_for_page(page)
    assert "/accounts/" in page.url


def test_i31_keyboard_only_two_step_verification_and_password_reset_sv(fresh_site, open_page):
    walk(open_page(fresh_site, lang="sv"), fresh_site, "anna@example.com")


def test_i31_keyboard_only_two_step_verification_and_password_reset_en(fresh_site, open_page):
    page = open_page(fresh_site, lang="en")
    walk(page, fresh_site, "olivia@example.com")
    # Lock-out without lock-out: five wrong passwords for an account this browser never
    # signed in to, and the page offers the owner's two ways in.
    for n in range(6):
        page.goto(f"{page.base}/en/sign-in")
        page.fill("#email", "ines@example.com")
        page.fill("#password", f"wrong-{n}")
        with page.expect_navigation():
            page.click("main button[type=submit]")
    assert page.locator("h1").inner_text() == WORDS["en"]["locked"]
    assert_accessible(page, "sign-in paused: password and code, or a link (en)")


def test_i31_two_step_verification_without_javascript(fresh_site, chromium):
    context = chromium.new_context(java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    base = f"{fresh_site.url}/en"

    def submit(selector="main button[type=submit]"):
        with page.expect_navigation():
            page.click(selector)

    try:
        page.goto(f"{base}/sign-in")
        page.fill("#email", "david@example.com")
        page.fill("#password", "demo-password")
        submit()
        page.goto(f"{base}/security/authenticator")
        key = page.locator(".totp-key").inner_text().replace(" ", "")
        page.fill("#code", code(key, -1))
        submit()
        codes = page.locator(".recovery-codes code").all_inner_texts()
        page.goto(f"{base}/security")
        submit("header button[type=submit]")  # sign out
        page.goto(f"{base}/sign-in")
        page.fill("#email", "david@example.com")
        page.fill("#password", "demo-password")
        submit()
        page.fill("#code", code(key, 0))
        page.check("#remember")
        submit()
        assert "/accounts/" in page.url
        submit("header button[type=submit]")
        page.goto(f"{base}/sign-in")  # remembered: the password is enough on this browser
        page.fill("#email", "david@example.com")
        page.fill("#password", "demo-password")
        submit()
        assert "/accounts/" in page.url
        submit("header button[type=submit]")
        page.goto(f"{base}/forgot-password")
        page.fill("#email", "david@example.com")
        submit()
        page.goto(emailed_link(fresh_site, "password_reset"))
        page.fill("#password", NEW_PASSWORD)
        submit()
        page.fill("#email", "david@example.com")
        page.fill("#password", NEW_PASSWORD)
        submit()  # the reset forgot this browser: the code again, or a recovery code
        with page.expect_navigation():
            page.click("text=Use a recovery code instead")
        page.fill("#code", codes[1])
        submit()
        assert "/accounts/" in page.url
    finally:
        context.close()
