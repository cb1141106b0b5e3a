"""Issue 31: the Access page and accepting an invitation, as a browser without
JavaScript uses them (forms, POST, redirect): invite, accept as a new person, sign in,
change and remove a role, each refusal said on the page in the page's language."""
from __future__ import annotations

from sqlalchemy import select

from portal.billing.accounts import people
from portal.models import AuditEvent, Invitation, OutboxMessage, Role, RoleAssignment, User
from tests.web.conftest import csrf_from

PASSWORD = "blåbär i skogen 2026"


def token_of(app, b, email: str) -> str:
    mail = b.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "invitation", OutboxMessage.to_address == email)
        .order_by(OutboxMessage.id.desc())).first()
    return people.link_token(app.secret_key, mail.payload["nonce"])


def test_i31_owner_invites_a_new_person_who_accepts_and_signs_in(app, b, demo, browser):
    browser.sign_in("olivia@example.com")
    assert f'href="/sv/accounts/{demo.agreement}/access"' in browser.get(
        f"/sv/accounts/{demo.agreement}/").get_data(as_text=True)
    # A profile's owner manages that profile: the account's Access link takes her there.
    to_profile = browser.get(f"/sv/accounts/{demo.agreement}/access")
    assert to_profile.headers["Location"].endswith(f"/sv/accounts/{demo.agreement}/profiles/{demo.profile}/access")
    access = browser.get(to_profile.headers["Location"])
    html = access.get_data(as_text=True)
    assert access.status_code == 200 and "Åtkomst" in html and "Den sista ägaren" in html, html[:2000]
    sent = browser.post(f"/sv/accounts/{demo.agreement}/access/invite", {
        "csrf_token": csrf_from(html), "email": "eva@example.com", "role": "contributor",
        "scope": str(demo.profile), "locale": "en", "page_profile": str(demo.profile)})
    assert sent.status_code == 303, sent.get_data(as_text=True)[:3000]
    html = browser.get(sent.headers["Location"]).get_data(as_text=True)
    assert "eva@example.com" in html and "Inbjudan har skickats" in html
    token = token_of(app, b, "eva@example.com")
    assert b.session.scalars(select(Invitation).where(Invitation.email == "eva@example.com")).one().token_hash == \
        people.token_hash(token)

    browser.post("/sv/sign-out", token_from="/sv/settings")
    form = browser.get(f"/en/invitations/{token}")
    assert form.status_code == 200 and 'autocomplete="new-password"' in form.get_data(as_text=True)
    weak = browser.post(f"/en/invitations/{token}", {"name": "Eva Berg", "password": "qwerty123456"})
    assert weak.status_code == 422 and "most commonly used" in weak.get_data(as_text=True)
    done = browser.post(f"/en/invitations/{token}", {"name": "Eva Berg", "password": PASSWORD})
    assert done.status_code == 303 and done.headers["Location"].endswith("/en/sign-in")
    again = browser.get(f"/en/invitations/{token}")
    assert again.status_code == 410 and "already been accepted" in again.get_data(as_text=True)
    signed_in = browser.post("/en/sign-in", {"email": "eva@example.com", "password": PASSWORD})
    assert signed_in.status_code == 303
    b.session.commit()
    eva = b.session.scalars(select(User).where(User.email == "eva@example.com")).one()
    role = b.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == eva.id)).one()
    assert role.role == Role.CONTRIBUTOR and role.granted_by.email == "olivia@example.com"


def test_i31_change_remove_and_every_refusal_is_said_on_the_page(app, b, demo, browser):
    browser.sign_in("olivia@example.com", "en")
    url = f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/access"
    html = browser.get(url).get_data(as_text=True)
    assignments = {a.user.email: a for a in b.session.scalars(select(RoleAssignment).where(
        RoleAssignment.account_id == demo.agreement))}
    mine = assignments["olivia@example.com"]
    token = csrf_from(html)
    # Her own last owner role: refused, said on the page (403), nothing changed.
    refused = browser.post(f"/en/accounts/{demo.agreement}/access/roles/{mine.id}/remove", {"csrf_token": token})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403 and "The change was not made" in text and "your own owner role" in text
    refused = browser.post(f"/en/accounts/{demo.agreement}/access/roles/{mine.id}",
                           {"csrf_token": token, "role": "reader"})
    assert refused.status_code == 403 and "your own owner role" in refused.get_data(as_text=True)
    # Change the reader to invoice manager, then remove the role.
    rasmus = assignments["rasmus@example.com"]
    changed = browser.post(f"/en/accounts/{demo.agreement}/access/roles/{rasmus.id}",
                           {"csrf_token": token, "role": "invoice_manager"})
    assert changed.status_code == 303
    removed = browser.post(f"/en/accounts/{demo.agreement}/access/roles/{rasmus.id}/remove", {"csrf_token": token})
    assert removed.status_code == 303
    b.session.commit()
    actions = [e.action for e in b.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-2:] == ["role.changed", "role.removed"] and actions.count("access.refused") == 2
    # A contributor is not offered the page and is refused if they go there.
    browser.post("/en/sign-out", token_from="/en/settings")
    browser.sign_in("david@example.com", "en")
    assert f"/accounts/{demo.agreement}/access" not in browser.get(
        f"/en/accounts/{demo.agreement}/overview").get_data(as_text=True)
    page = browser.get(url)
    assert page.status_code == 403 and "can give and take roles" in page.get_data(as_text=True)


def test_i31_a_person_who_exists_accepts_signed_in_as_themselves(app, b, demo, browser):
    browser.sign_in("anna@example.com", "en")
    html = browser.get(f"/en/accounts/{demo.payg}/access").get_data(as_text=True)
    sent = browser.post(f"/en/accounts/{demo.payg}/access/invite", {
        "csrf_token": csrf_from(html), "email": "Erik@example.com", "role": "account_admin", "scope": "",
        "locale": "sv"})
    assert sent.status_code == 303
    token = token_of(app, b, "Erik@example.com")
    path = f"/sv/invitations/{token}"
    # Signed in as someone else: told to sign out, and a forced POST accepts nothing.
    other = browser.get(path).get_data(as_text=True)
    assert "anna@example.com" in other and "Logga ut" in other
    assert browser.post(path, {"csrf_token": csrf_from(other)}).status_code == 404
    browser.post("/en/sign-out", token_from="/en/settings")
    signed_out = browser.get(path).get_data(as_text=True)
    assert f"/sv/sign-in?next=/sv/invitations/{token}" in signed_out
    browser.sign_in("erik@example.com")
    accepted = browser.post(path, {}, token_from=path)
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith(f"/sv/accounts/{demo.payg}/")
    b.session.commit()
    erik = b.session.scalars(select(User).where(User.email == "erik@example.com")).one()
    role = b.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == erik.id)).one()
    assert role.role == Role.ACCOUNT_ADMIN
    assert browser.get(path).status_code == 410
