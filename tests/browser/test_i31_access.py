"""Issue 31 in real Chromium, once per language: an owner invites a person by
keyboard alone; the invitation arrives at a real SMTP server (`flask mail send`); the
person accepts it in a browser of their own and signs in; the owner changes the
person's role, is refused removing her own last owner role (the reason on the page),
and removes the person's role — axe clean at each step. Then the same page with
JavaScript off: an invitation sent again and withdrawn, another accepted, a role
changed, a refusal said on the page, and the role removed."""
from __future__ import annotations

import re

import pytest

from tests.browser.a11y import assert_accessible, focused, press_tab_until
from tests.browser.conftest import Site
from tests.browser.server import LiveServer
from tests.browser.test_keyboard import is_radio, press_and_wait_for_page, sign_in_by_keyboard
from tests.mail.conftest import SmtpServer

OLIVIA = "olivia@example.com"
PASSWORD = "tre små grodor i en bäck"
WORDS = {
    "sv": dict(access="Åtkomst", send="Skicka inbjudan", sent="Inbjudan har skickats", accept="Acceptera och skapa min inloggning",
               ready="Din inloggning är klar", change="Ändra roll", changed="Rollen har ändrats",
               remove="Ta ifrån rollen", refused="Ändringen gjordes inte", own="din egen ägarroll",
               removed="Rollen har tagits ifrån", subject="Du är inbjuden till"),
    "en": dict(access="Access", send="Send the invitation", sent="The invitation has been sent",
               accept="Accept and create my sign-in", ready="Your sign-in is ready", change="Change role",
               changed="The role has been changed", remove="Remove role", refused="The change was not made",
               own="your own owner role", removed="The role has been removed", subject="You are invited to"),
}


@pytest.fixture(scope="module")
def mail_site(chromium, seeded, tmp_path_factory):
    """A server of its own whose `flask mail send` delivers to a real SMTP server."""
    smtp = SmtpServer().start()
    server = LiveServer(tmp_path_factory.mktemp("access-site"), seeded_from=seeded)
    server.env.update({"MAIL_BACKEND": "smtp", "MAIL_SMTP_HOST": "127.0.0.1", "MAIL_SMTP_PORT": str(smtp.port),
                       "MAIL_SMTP_SECURITY": "none", "PORTAL_BASE_URL": server.url})
    with server:
        site = Site(server)
        site.smtp = smtp
        yield site
    smtp.stop()


def tab_to_button(page, text):
    return press_tab_until(page, lambda w: w["tag"] == "button" and w["text"].startswith(text))


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i31_invite_accept_sign_in_change_and_remove_by_keyboard(mail_site, open_page, lang):
    w, eva = WORDS[lang], f"eva-{lang}@example.com"
    page = open_page(mail_site, lang=lang)
    sign_in_by_keyboard(page, OLIVIA)
    press_tab_until(page, lambda x: x["tag"] == "a" and x["text"] == w["access"])
    press_and_wait_for_page(page)
    assert page.locator("h1").inner_text().endswith(w["access"])
    assert_accessible(page, f"access page ({lang})")

    # Invite: the address typed, a role and the language chosen with the arrow keys.
    press_tab_until(page, lambda x: x["id"] == "email")
    page.keyboard.type(eva)
    assert press_tab_until(page, is_radio)["id"] == "role-1"
    page.keyboard.press("ArrowDown")  # Contributor
    press_tab_until(page, lambda x: x["id"] == "scope")  # the profile, already chosen
    press_tab_until(page, is_radio)
    page.keyboard.press("Space" if lang == "sv" else "ArrowDown")
    tab_to_button(page, w["send"])
    press_and_wait_for_page(page)
    assert w["sent"] in page.locator(".flash").inner_text() and eva in page.locator("main").inner_text()
    assert_accessible(page, f"access page after inviting ({lang})")

    # The email, through `flask mail send` and a real SMTP server.
    mail_site.server._flask("mail", "send")
    [mail] = mail_site.smtp.inbox.to(eva)
    assert mail.subject.startswith(w["subject"]) and mail.message["Content-Language"] == lang

    # Accepted in a browser of the invitee's own, by keyboard; then signed in.
    newcomer = open_page(mail_site, lang=lang)
    newcomer.goto(mail.links[0].replace("&amp;", "&"))
    assert_accessible(newcomer, f"accept the invitation ({lang})")
    press_tab_until(newcomer, lambda x: x["id"] == "name")
    newcomer.keyboard.type("Eva Berg")
    newcomer.keyboard.press("Tab")
    assert focused(newcomer)["id"] == "password"
    newcomer.keyboard.type(PASSWORD)
    tab_to_button(newcomer, w["accept"])
    press_and_wait_for_page(newcomer)
    assert w["ready"] in newcomer.locator(".flash").inner_text()
    press_tab_until(newcomer, lambda x: x["id"] == "email")
    newcomer.keyboard.type(eva)
    newcomer.keyboard.press("Tab")
    newcomer.keyboard.type(PASSWORD)
    press_and_wait_for_page(newcomer)
    assert "/accounts/" in newcomer.url, "Eva signed in"

    # The owner changes Eva's role with the keyboard…
    page.reload()
    press_tab_until(page, lambda x: x["tag"] == "select" and x["id"].startswith("new-role-")
                    and page.evaluate("() => document.activeElement.labels[0].textContent").endswith("Eva Berg"))
    page.keyboard.press("ArrowDown")  # Contributor → Invoice manager
    tab_to_button(page, w["change"])
    press_and_wait_for_page(page)
    assert w["changed"] in page.locator(".flash").inner_text()
    # …is refused removing her own last owner role, and told why, on the page…
    press_tab_until(page, lambda x: x["tag"] == "button" and x["text"].startswith(w["remove"])
                    and "Olivia" in x["text"])
    press_and_wait_for_page(page)
    alert = page.locator(".error-summary")
    assert w["refused"] in alert.inner_text() and w["own"] in alert.inner_text()
    assert 'error-summary' in focused(page)["html"]
    assert_accessible(page, f"access page with a refusal ({lang})")
    # …and removes Eva's role.
    press_tab_until(page, lambda x: x["tag"] == "button" and x["text"].startswith(w["remove"])
                    and "Eva Berg" in x["text"])
    press_and_wait_for_page(page)
    assert w["removed"] in page.locator(".flash").inner_text()
    assert "Eva Berg" not in page.locator("main table").first.inner_text()


def test_i31_invitations_sent_again_withdrawn_and_accepted_roles_changed_and_removed_without_javascript(mail_site, chromium):
    context = chromium.new_context(java_script_enabled=False, storage_state=mail_site.signed_in(chromium, OLIVIA))
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"{mail_site.url}/en/accounts/{mail_site.ids['agreement']}/access")
        page.fill("#email", "nojs@example.com")
        page.check("#role-4")  # Reader
        page.check("#locale-2")  # English
        with page.expect_navigation():
            page.click("text=Send the invitation")
        assert "The invitation has been sent to nojs@example.com" in page.locator(".flash").inner_text()
        with page.expect_navigation():
            page.click("button:has-text('Send again')")
        assert "again, with a new link" in page.locator(".flash").inner_text()
        with page.expect_navigation():
            page.click("button:has-text('Withdraw')")
        assert "has been withdrawn" in page.locator(".flash").inner_text()
        assert "No invitations are waiting." in page.locator("main").inner_text()
        # Invited again and accepted, the email through the SMTP server, in a browser without JavaScript.
        page.fill("#email", "nojs@example.com")
        page.check("#role-4")
        page.check("#locale-2")
        with page.expect_navigation():
            page.click("text=Send the invitation")
        mail_site.server._flask("mail", "send")
        link = mail_site.smtp.inbox.to("nojs@example.com")[-1].links[0].replace("&amp;", "&")
        newcomer = chromium.new_context(java_script_enabled=False).new_page()
        try:
            newcomer.goto(link)
            newcomer.fill("#name", "Nils Oj")
            newcomer.fill("#password", PASSWORD)
            with newcomer.expect_navigation():
                newcomer.click("text=Accept and create my sign-in")
            assert "Your sign-in is ready" in newcomer.locator(".flash").inner_text()
        finally:
            newcomer.context.close()
        # A role changed and removed, and a refusal said on the page — without JavaScript too.
        page.get_by_label("New role for Rasmus Ek").select_option("invoice_manager")
        with page.expect_navigation():
            page.get_by_role("button", name="Change role – Rasmus Ek").click()
        assert "The role has been changed" in page.locator(".flash").inner_text()
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile(r"^Remove role – Olivia")).click()
        assert "your own owner role" in page.locator(".error-summary").inner_text()
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile(r"^Remove role – Rasmus Ek")).click()
        assert "The role has been removed" in page.locator(".flash").inner_text()
        assert "Rasmus Ek" not in page.locator("main table").first.inner_text()
    finally:
        context.close()
