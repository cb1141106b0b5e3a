"""Issue 31 in real Chromium, once per language: an owner invites a person by
keyboard alone; the invitation arrives at a real SMTP server (`flask mail send`); the
person accepts it in a browser of their own and signs in; the owner changes the
person's role, is refused removing her own last owner role (the reason on the page),
and removes the person's role — axe clean at each step. Then the same page with
JavaScript off: an invitation sent again and withdrawn, another accepted, a role
changed, a refusal said on the page, and the role removed. And the two other refusals,
by keyboard in each language: the last owner of a scope, and a scope beyond one's own
(a forced form)."""
from __future__ import annotations

import re
import sqlite3

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
        with page.expect_navigation():  # each button names its invitation (the demo has one waiting)
            page.click("button:has-text('Send again – nojs@example.com')")
        assert "again, with a new link" in page.locator(".flash").inner_text()
        with page.expect_navigation():
            page.click("button:has-text('Withdraw – nojs@example.com')")
        assert "has been withdrawn" in page.locator(".flash").inner_text()
        waiting = page.locator("section[aria-labelledby=pending-title]").inner_text()
        assert "nojs@example.com" not in waiting and "per@example.com" in waiting
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


ERIK = "erik@example.com"
REFUSALS = {
    "sv": dict(refused="Ändringen gjordes inte",
               last="Det här är den sista ägaren, så rollen kan inte tas ifrån eller ändras.",
               beyond="Du kan bara ge och ta ifrån roller där du är ägare: på din faktureringsprofil, "
                      "inte på hela faktureringskontot eller en annan profil.",
               whole="Hela faktureringskontot", send="Skicka inbjudan", remove="Ta ifrån rollen"),
    "en": dict(refused="The change was not made",
               last="This is the last owner, so the role cannot be removed or changed.",
               beyond="You can give and take roles only where you are an owner: on your billing profile, not on the "
                      "whole billing account or another profile.",
               whole="The whole billing account", send="Send the invitation", remove="Remove role"),
}


def erik_owns_the_whole_agreement_and_a_profile_has_no_owner_of_its_own(site) -> None:
    """Written into the server's own database (the first time): Erik owns the whole
    customer agreement and Olivia's profile; a second profile has no owner but his
    account-wide role — so that role is its last owner (docs/access.md: a profile keeps an
    owner, on it or on the whole account)."""
    with sqlite3.connect(site.server.folder / "portal.sqlite") as db:
        erik = db.execute("SELECT id FROM users WHERE email = ?", (ERIK,)).fetchone()[0]
        agreement, profile = site.ids["agreement"], site.ids["profile"]
        if db.execute("SELECT 1 FROM billing_profiles WHERE name = 'Lager'").fetchone() is None:
            db.execute("INSERT INTO billing_profiles (account_id, name, check_wire_approved) VALUES (?, 'Lager', 0)",
                       (agreement,))
            db.executemany("INSERT INTO role_assignments (user_id, account_id, billing_profile_id, role) "
                           "VALUES (?, ?, ?, 'owner')", [(erik, agreement, None), (erik, agreement, profile)])
    db.close()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_i31_last_owner_and_beyond_own_scope_refused_on_the_page_by_keyboard(mail_site, open_page, lang):
    """The Done when's "every refusal above", the two the walk above leaves: (a) the last
    owner of a scope is not removed — Erik, owner of the whole agreement, tries to take
    away his account-wide role, the only owner of the profile Lager; (b) nobody grants
    more than they hold — the page offers Olivia no scope but her profile, so the form is
    forced (the scope's option made the whole account's) and sent by keyboard. Each
    refused, the reason said on the page in the page's language and focused, axe clean."""
    w = REFUSALS[lang]
    erik_owns_the_whole_agreement_and_a_profile_has_no_owner_of_its_own(mail_site)

    # (a) The last owner of a scope.
    page = open_page(mail_site, user=ERIK, lang=lang)  # signed in once for both languages
    page.goto(f"{mail_site.url}/{lang}/")  # two accounts now: the list of them
    press_tab_until(page, lambda x: x["tag"] == "a" and x["text"].startswith("Fjällström Logistik AB"))
    press_and_wait_for_page(page)
    press_tab_until(page, lambda x: x["tag"] == "a" and x["text"] == WORDS[lang]["access"])
    press_and_wait_for_page(page)
    assert page.url.endswith(f"/accounts/{mail_site.ids['agreement']}/access"), "the whole account's page"
    button = tab_to_button(page, f"{w['remove']}\n– Erik Berg")
    row = page.evaluate("() => document.activeElement.closest('tr').innerText")
    assert w["whole"] in row, f"the account-wide role comes first: {row!r} ({button})"
    press_and_wait_for_page(page)
    alert = page.locator(".error-summary")
    assert w["refused"] in alert.inner_text() and w["last"] in alert.inner_text()
    assert "error-summary" in focused(page)["html"]
    assert_accessible(page, f"access page refusing the last owner ({lang})")
    assert page.locator("main table").first.locator("tbody th", has_text=ERIK).count() == 2, "both roles kept"

    # (b) Beyond one's own scope: only forced.
    page = open_page(mail_site, user=OLIVIA, lang=lang)
    profile = mail_site.ids["profile"]
    page.goto(f"{mail_site.url}/{lang}/accounts/{mail_site.ids['agreement']}/profiles/{profile}/access")
    assert page.locator("#scope option").evaluate_all("os => os.map(o => o.value)") == [str(profile)]
    press_tab_until(page, lambda x: x["id"] == "email")
    page.keyboard.type(f"forced-{lang}@example.com")
    press_tab_until(page, is_radio)  # Owner
    page.keyboard.press("Space")
    press_tab_until(page, lambda x: is_radio(x) and x["id"] == "locale-1")
    page.keyboard.press("Space")
    page.evaluate("() => { document.querySelector('#scope option').value = ''; }")  # the whole account
    tab_to_button(page, w["send"])
    press_and_wait_for_page(page)
    alert = page.locator(".error-summary")
    assert w["refused"] in alert.inner_text() and w["beyond"] in alert.inner_text(), alert.all_inner_texts()
    assert "error-summary" in focused(page)["html"]
    assert_accessible(page, f"access page refusing a scope beyond one's own ({lang})")
    assert f"forced-{lang}@example.com" not in page.locator("main table").all_inner_texts()
