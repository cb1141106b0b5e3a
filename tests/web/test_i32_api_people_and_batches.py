"""Issue 32: the provider's people endpoints (invite to a role, withdraw, list and remove
roles — the Access page's rules, R02/R14/R19) and subscriptions created a thousand at a
time, in process. Over HTTP: tests/server/test_live_api.py."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.models import AuditEvent, Invitation, OutboxMessage, Role, RoleAssignment, Subscription, User
from tests.i32_api import Api, make_tokens
from tests.web.test_i32_api import ACME, agreement, problem_type


@pytest.fixture
def api(client, app):
    return Api(client, make_tokens(app)[0])


def test_i32_r14_the_provider_invites_and_withdraws_with_the_access_pages_rules(api, b, demo):
    account, profile, _sub = agreement(api)
    wrong_kind = api.post(f"/accounts/{account}/invitations", {"email": "x@acme.example", "role": "account_admin"})
    assert wrong_kind.status_code == 422 and problem_type(wrong_kind) == "invalid_input"
    assert wrong_kind.get_json()["errors"][0]["loc"] == ["body", "role"]
    foreign = api.post(f"/accounts/{account}/invitations", {"email": "x@acme.example", "role": "reader",
                                                            "billing_profile_id": demo.profile})
    assert foreign.status_code == 404  # another account's profile
    body = {"email": "Eva@Acme.example", "role": "reader", "billing_profile_id": profile, "locale": "sv"}
    sent = api.post(f"/accounts/{account}/invitations", body, key="inv-1")
    assert sent.status_code == 201 and api.post(f"/accounts/{account}/invitations", body, key="inv-1").get_json() \
        == sent.get_json()  # the same key: the same answer, one email
    invitation = sent.get_json()
    # The address as the Access page keeps it: the domain in lower case.
    assert (invitation["email"], invitation["role"], invitation["locale"]) == ("Eva@acme.example", "reader", "sv")
    mails = b.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == "invitation", OutboxMessage.to_address == "Eva@acme.example"))
    assert mails == 1
    listed = api.get(f"/accounts/{account}/invitations").get_json()["items"]
    assert [i["id"] for i in listed] == [invitation["id"]]
    withdrawn = api.send("DELETE", f"/accounts/{account}/invitations/{invitation['id']}", None)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["closed_at"] is not None
    assert api.send("DELETE", f"/accounts/{account}/invitations/{invitation['id']}", None).status_code == 404
    b.session.rollback()
    assert b.session.get(Invitation, invitation["id"]).closed_at is not None
    audited = b.session.scalars(select(AuditEvent.action).where(AuditEvent.account_id == account)).all()
    assert {"invitation.sent", "invitation.withdrawn"} <= set(audited)


def test_i32_r19_the_provider_lists_and_removes_roles_but_never_the_last_owner(api, b, demo):
    roles = api.get(f"/accounts/{demo.agreement}/roles", limit=100).get_json()["items"]
    by_email = {(r["user"]["email"], r["role"]): r for r in roles}
    owners = [r for r in roles if r["role"] == "owner"]
    reader = next(r for r in roles if r["role"] == "reader")
    assert owners and all(r["account_id"] == demo.agreement for r in roles) and len(by_email) == len(roles)
    removed = api.send("DELETE", f"/accounts/{demo.agreement}/roles/{reader['id']}", None, key="rm-1")
    assert removed.status_code == 200 and removed.get_json() == reader
    assert api.send("DELETE", f"/accounts/{demo.agreement}/roles/{reader['id']}", None, key="rm-1").get_json() \
        == reader  # the same key: the same answer
    assert api.send("DELETE", f"/accounts/{demo.agreement}/roles/{reader['id']}", None).status_code == 404
    b.session.rollback()
    assert b.session.get(RoleAssignment, reader["id"]) is None
    # Owners go one by one until the last of a scope, which stays.
    refused = None
    for owner in owners:
        answer = api.send("DELETE", f"/accounts/{demo.agreement}/roles/{owner['id']}", None)
        if answer.status_code != 200:
            refused = answer
            break
    assert refused is not None and refused.status_code == 409, "the last owner was removed"
    assert problem_type(refused) == "not_authorized" and "last_owner" in refused.get_json()["detail"]
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(RoleAssignment).where(
        RoleAssignment.account_id == demo.agreement, RoleAssignment.role == Role.OWNER)) >= 1
    assert api.send("DELETE", f"/accounts/{demo.payg}/roles/{owners[-1]['id']}", None).status_code == 404


def test_i32_subscriptions_a_thousand_at_a_time_in_order_all_or_none(api, b):
    payg = api.post("/accounts", {**ACME, "kind": "pay_as_you_go"}).get_json()["id"]
    wanted = [{"name": f"VM {n}", "monthly_fee_minor": 100 * n, "started_on": "2026-11-01"} for n in range(1, 1001)]
    made = api.post(f"/accounts/{payg}/subscriptions/batch", {"subscriptions": wanted}, key="batch-1")
    assert made.status_code == 201, made.get_json()
    items = made.get_json()["items"]
    assert [(i["name"], i["monthly_fee_minor"], i["status"]) for i in items] == [
        (w["name"], w["monthly_fee_minor"], "active") for w in wanted]
    assert len({i["id"] for i in items}) == 1000
    again = api.post(f"/accounts/{payg}/subscriptions/batch", {"subscriptions": wanted}, key="batch-1")
    assert again.get_json() == made.get_json()  # the same key: the same answer, nothing more made
    count = select(func.count()).select_from(Subscription).where(Subscription.account_id == payg)
    assert b.session.scalar(count) == 1000
    # One refused, none made: a pay-as-you-go subscription names no billing profile.
    bad = api.post(f"/accounts/{payg}/subscriptions/batch", {"subscriptions": [
        wanted[0], {**wanted[1], "billing_profile_id": 1}]})
    assert bad.status_code == 422 and problem_type(bad) == "wrong_account_kind"
    too_many = api.post(f"/accounts/{payg}/subscriptions/batch", {"subscriptions": wanted + wanted[:1]})
    assert too_many.status_code == 422
    b.session.rollback()
    assert b.session.scalar(count) == 1000
    overview = api.get(f"/accounts/{payg}/subscriptions", limit=100).get_json()
    assert len(overview["items"]) == 100 and overview["next_after"] is not None


def test_i32_a_customer_agreements_batch_names_its_own_profiles_only(api, b, demo):
    account, profile, _sub = agreement(api)
    item = {"name": "Lagring", "monthly_fee_minor": 5000, "started_on": "2026-11-01"}
    assert problem_type(api.post(f"/accounts/{account}/subscriptions/batch", {"subscriptions": [item]})) \
        == "billing_profile_required"
    foreign = api.post(f"/accounts/{account}/subscriptions/batch", {"subscriptions": [
        {**item, "billing_profile_id": profile}, {**item, "billing_profile_id": demo.profile}]})
    assert foreign.status_code == 404
    made = api.post(f"/accounts/{account}/subscriptions/batch", {"subscriptions": [
        {**item, "billing_profile_id": profile}]})
    assert made.status_code == 201 and made.get_json()["items"][0]["billing_profile_id"] == profile
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(User)) > 0
