"""Issue 31, checked against its list: what the Access page's tests had left to the
service tests — the last owner's and the scope's refusals said on the page (403) in
Swedish and English, the step-up before a role change (item 4: "asked again before role
changes"), the second factor on by default in production, off in development, and the
password reset rate-limited like sign-in, the roles page's since when and by whom, the
recovery codes shown once."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.config import from_environment
from portal.models import (AuditEvent, BillingAccount, Invitation, OutboxMessage, RecoveryCode, Role, RoleAssignment,
                           User)
from tests import factories as f
from tests.conftest import TODAY
from tests.web.conftest import Browser
from tests.web.test_i31_sign_in_security import MinuteClock, code_at, setup_totp


@pytest.fixture
def clock():
    return MinuteClock(TODAY)


def role_of(b, assignment_id: int) -> Role | None:
    b.session.rollback()
    found = b.session.get(RoleAssignment, assignment_id)
    return found.role if found else None


def test_i31_last_owner_and_beyond_own_scope_refusals_are_said_on_the_page_in_sv_and_en(b, demo, browser):
    # Erik owns the whole agreement and its first profile; a second profile has no owner
    # but the whole account's — so his account-wide role is its last owner.
    erik = b.session.scalars(select(User).where(User.email == "erik@example.com")).one()
    account = b.session.get(BillingAccount, demo.agreement)
    f.profile(b, account)
    top = RoleAssignment(user_id=erik.id, account_id=account.id, billing_profile_id=None, role=Role.OWNER)
    b.session.add_all([top, RoleAssignment(user_id=erik.id, account_id=account.id,
                                           billing_profile_id=demo.profile, role=Role.OWNER)])
    f.commit(b)
    top_id = top.id
    browser.sign_in("erik@example.com", "sv")
    page = f"/sv/accounts/{demo.agreement}/access"
    refused = browser.post(f"/sv/accounts/{demo.agreement}/access/roles/{top_id}/remove", token_from=page)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403 and "Ändringen gjordes inte" in text
    assert "Det här är den sista ägaren, så rollen kan inte tas ifrån eller ändras." in text
    assert role_of(b, top_id) == Role.OWNER
    browser.post("/sv/sign-out", token_from="/sv/settings")

    # Olivia owns the first profile only: the whole account's roles are beyond her scope.
    browser.sign_in("olivia@example.com", "en")
    page = f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/access"
    refused = browser.post(f"/en/accounts/{demo.agreement}/access/roles/{top_id}", {"role": "reader"},
                           token_from=page)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403 and "The change was not made" in text
    assert "You can give and take roles only where you are an owner" in text
    assert role_of(b, top_id) == Role.OWNER
    reasons = [e.details["reason"] for e in b.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.refused").order_by(AuditEvent.id))]
    assert reasons == ["last_owner", "beyond_own_scope"]


def test_i31_step_up_before_a_role_change(app, b, demo, clock):
    browser, key, _codes = setup_totp(app, b, clock, email="olivia@example.com")
    rasmus = b.session.scalars(select(RoleAssignment).join(User, RoleAssignment.user_id == User.id).where(
        User.email == "rasmus@example.com")).one()
    page = f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/access"
    change = f"/en/accounts/{demo.agreement}/access/roles/{rasmus.id}"
    clock.minutes += 16  # the code was given longer ago than STEP_UP_MINUTES
    asked = browser.post(change, {"role": "invoice_manager", "page_profile": str(demo.profile)}, token_from=page,
                         headers={"Referer": f"http://localhost{page}"})
    assert asked.status_code == 303 and "/en/confirm-identity?next=" in asked.headers["Location"]
    assert role_of(b, rasmus.id) == Role.READER  # nothing changed before the code
    confirmed = browser.post(asked.headers["Location"], {"code": code_at(key, clock)})
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == page
    changed = browser.post(change, {"role": "invoice_manager", "page_profile": str(demo.profile)}, token_from=page)
    assert changed.status_code == 303 and role_of(b, rasmus.id) == Role.INVOICE_MANAGER


def test_i31_second_factor_on_by_default_in_production_off_in_development():
    assert from_environment({"PORTAL_ENV": "production", "SECRET_KEY": "s3cret"})["REQUIRE_SECOND_FACTOR"] is True
    assert from_environment({})["REQUIRE_SECOND_FACTOR"] is False  # development: the demo people
    assert from_environment({"PORTAL_ENV": "production", "SECRET_KEY": "s3cret",
                             "REQUIRE_SECOND_FACTOR": "0"})["REQUIRE_SECOND_FACTOR"] is False  # per provider


def test_i31_password_reset_is_rate_limited_like_sign_in(app, demo, b):
    """Item 3: every request counts (each may send an email) — per address asked for,
    in the database's counters: the sixth for one person within the window is refused
    and queues nothing; another person's still goes."""
    browser = Browser(app.test_client())
    answers = [browser.post("/en/forgot-password", {"email": "anna@example.com"}).status_code for _ in range(6)]
    assert answers == [303] * 5 + [429]
    b.session.rollback()
    sent = b.session.scalars(select(OutboxMessage.to_address).where(OutboxMessage.template == "password_reset")).all()
    assert sent == ["anna@example.com"] * 5
    assert Browser(app.test_client()).post("/en/forgot-password", {"email": "erik@example.com"}).status_code == 303


def test_i31_the_roles_page_says_since_when_and_given_by_whom(b, demo, browser):
    """Item 2: who has which role, since when, granted by whom — a role Olivia gives shows
    her name and its time; the demo's seeded roles say "Not recorded"."""
    browser.sign_in("olivia@example.com", "en")
    page = f"/en/accounts/{demo.agreement}/profiles/{demo.profile}/access"
    rasmus = b.session.scalars(select(RoleAssignment).join(User, RoleAssignment.user_id == User.id).where(
        User.email == "rasmus@example.com")).one()
    assert browser.post(f"/en/accounts/{demo.agreement}/access/roles/{rasmus.id}",
                        {"role": "invoice_manager", "page_profile": str(demo.profile)},
                        token_from=page).status_code == 303
    html = browser.get(page).get_data(as_text=True)
    row = html[html.index("Rasmus Ek"):].split("</tr>")[0]
    assert "Invoice manager" in row and "Olivia" in row and '<time datetime="' in row, row
    olivia_row = html[html.index("olivia@example.com"):].split("</tr>")[0]
    assert olivia_row.count("Not recorded") == 2, olivia_row


def test_i31_recovery_codes_are_shown_once(app, demo, b, clock):
    """Item 4: ten codes on the page that turns the factor on, and never again — the
    security page lists how many are left, not the codes (only their digests are kept)."""
    browser, _key, codes = setup_totp(app, b, clock)
    later = browser.get("/en/security").get_data(as_text=True)
    assert later and not [c for c in codes if c in later]
    b.session.rollback()
    assert not [c for c in codes if c in str(b.session.scalars(select(RecoveryCode.code_hash)).all())]


def test_i31_a_forced_scope_beyond_ones_own_is_refused_by_the_rule_said_on_the_page(b, demo, browser):
    """The page offers Olivia no scope but her profile; a form forced to the whole account
    is refused by the rule (beyond_own_scope, 403, its reason on the page, audited), not by
    the form's "one of the options" — which still answers a value naming no scope at all."""
    browser.sign_in("olivia@example.com", "sv")
    page = f"/sv/accounts/{demo.agreement}/profiles/{demo.profile}/access"
    sent = {"email": "ny@example.com", "role": "reader", "locale": "sv", "page_profile": str(demo.profile)}
    refused = browser.post(f"/sv/accounts/{demo.agreement}/access/invite", {**sent, "scope": ""}, token_from=page)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403 and "Ändringen gjordes inte" in text
    assert "Du kan bara ge och ta ifrån roller där du är ägare" in text
    assert 'id="scope"' in text and 'value=""' not in text.split('id="scope"')[1].split("</select>")[0]
    nowhere = browser.post(f"/sv/accounts/{demo.agreement}/access/invite", {**sent, "scope": "987654"},
                           token_from=page)
    assert nowhere.status_code == 422 and "Välj ett av alternativen i listan" in nowhere.get_data(as_text=True)
    b.session.rollback()
    assert b.session.scalars(select(Invitation.email)).all() == ["per@example.com"]  # the demo's, only
    assert [e.details["reason"] for e in b.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.refused"))] == ["beyond_own_scope"]
