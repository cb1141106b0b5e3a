"""Issue 31: invitations and roles (portal/billing/accounts/people.py) — nobody grants
beyond their role, the last owner stays, nobody removes their own last owner role; an
invitation's link works once and for 7 days; every change audited and told by email."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.billing.accounts import people
from portal.billing.accounts.passwords import password_problem
from portal.errors import InvalidInput, InvitationInvalid, NotAuthorized, NotFound
from portal.models import AccountKind, AuditEvent, Invitation, OutboxMessage, Role, RoleAssignment, User
from tests import factories as f

SECRET = "test-secret"
GOOD_PASSWORD = "lingon och kanel 42"


@pytest.fixture
def agreement(b):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    north, south = f.profile(b, acc), f.profile(b, acc)
    owner = f.user(b, Role.OWNER, acc)                      # the whole account
    north_owner = f.user(b, Role.OWNER, acc, north)
    contributor = f.user(b, Role.CONTRIBUTOR, acc, north)
    reader = f.user(b, Role.READER, acc, south)
    f.commit(b)
    return type("Agreement", (), dict(acc=acc, north=north, south=south, owner=owner, north_owner=north_owner,
                                      contributor=contributor, reader=reader))


def assignment(b, person, acc, profile=None) -> RoleAssignment:
    return people._assignment_of(b.session, person.id, acc.id, profile.id if profile else None)


def refusal(call) -> str:
    with pytest.raises(NotAuthorized) as refused:
        call()
    return refused.value.reason


def test_b19_nobody_grants_beyond_their_role(b, agreement):
    a = agreement
    # Not an owner: no roles to give at all.
    assert refusal(lambda: people.invite(b, a.contributor, a.acc.id, a.north.id, "x@example.com", "reader", "sv",
                                         SECRET)) == "cannot_manage_roles"
    # A profile owner: not on the whole account, not on another profile.
    assert refusal(lambda: people.invite(b, a.north_owner, a.acc.id, None, "x@example.com", "reader", "sv",
                                         SECRET)) == "beyond_own_scope"
    assert refusal(lambda: people.invite(b, a.north_owner, a.acc.id, a.south.id, "x@example.com", "reader", "en",
                                         SECRET)) == "beyond_own_scope"
    reader_role = assignment(b, a.reader, a.acc, a.south)
    assert refusal(lambda: people.change_role(b, a.north_owner, a.acc.id, reader_role.id, "owner")) == \
        "beyond_own_scope"
    # Nor takes away a role wider than theirs: the account owner's.
    top = assignment(b, a.owner, a.acc)
    assert refusal(lambda: people.remove_role(b, a.north_owner, a.acc.id, top.id)) == "beyond_own_scope"
    # On their own profile they may, and each refusal was audited.
    invitation, _token = people.invite(b, a.north_owner, a.acc.id, a.north.id, "x@example.com", "owner", "sv", SECRET)
    assert invitation.role == Role.OWNER
    refused = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).all()
    assert [e.details["reason"] for e in refused] == ["cannot_manage_roles", "beyond_own_scope", "beyond_own_scope",
                                                      "beyond_own_scope", "beyond_own_scope"]


def test_i31_only_the_account_kinds_roles_are_given(b):
    payg = f.account(b)
    admin, member = f.user(b, Role.ACCOUNT_ADMIN, payg), f.user(b, Role.ACCOUNT_USER, payg)
    f.commit(b)
    with pytest.raises(InvalidInput):  # a customer-agreement role on a pay-as-you-go account
        people.invite(b, admin, payg.id, None, "y@example.com", "owner", "sv", SECRET)
    assert refusal(lambda: people.invite(b, member, payg.id, None, "y@example.com", "account_user", "sv",
                                         SECRET)) == "cannot_manage_roles"


def test_b19_the_last_owner_cannot_be_removed_or_lowered(b, agreement):
    a = agreement
    f.commit(b)
    # The south profile's only owner is the account owner: removing them leaves it without one.
    top = assignment(b, a.owner, a.acc)
    second = f.user(b, Role.OWNER, a.acc, a.north)
    f.commit(b)
    assert refusal(lambda: people.remove_role(b, second, a.acc.id, top.id)) == "beyond_own_scope"
    assert refusal(lambda: people.remove_role(b, None, a.acc.id, top.id)) == "last_owner"
    assert refusal(lambda: people.change_role(b, None, a.acc.id, top.id, "reader")) == "last_owner"
    # A profile with two owners may lose one.
    people.remove_role(b, a.owner, a.acc.id, assignment(b, second, a.acc, a.north).id)
    assert assignment(b, second, a.acc, a.north) is None


def test_i31_the_last_administrator_of_a_pay_as_you_go_account_stays(b):
    acc = f.account(b)
    admin, member = f.user(b, Role.ACCOUNT_ADMIN, acc), f.user(b, Role.ACCOUNT_USER, acc)
    f.commit(b)
    assert refusal(lambda: people.change_role(b, None, acc.id, assignment(b, admin, acc).id,
                                              "account_user")) == "last_owner"
    people.change_role(b, admin, acc.id, assignment(b, member, acc).id, "account_admin")
    assert assignment(b, member, acc).role == Role.ACCOUNT_ADMIN
    assert assignment(b, member, acc).granted_by_user_id == admin.id


def test_i31_a_person_cannot_remove_their_own_last_owner_role(b, agreement):
    a = agreement
    second = f.user(b, Role.OWNER, a.acc)
    f.commit(b)
    mine = assignment(b, a.owner, a.acc)
    assert refusal(lambda: people.remove_role(b, a.owner, a.acc.id, mine.id)) == "own_last_owner"
    assert refusal(lambda: people.change_role(b, a.owner, a.acc.id, mine.id, "reader")) == "own_last_owner"
    # Another owner may take it away (an owner remains).
    people.remove_role(b, second, a.acc.id, mine.id)
    assert assignment(b, a.owner, a.acc) is None


def test_i31_every_change_is_audited_and_told_to_the_person_and_the_owners(b, agreement):
    a = agreement
    role = assignment(b, a.contributor, a.acc, a.north)
    people.change_role(b, a.north_owner, a.acc.id, role.id, "invoice_manager")
    event = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "role.changed")).one()
    assert (event.actor_user_id, event.details["from_role"], event.details["role"]) == \
        (a.north_owner.id, "contributor", "invoice_manager")
    told = {m.to_address for m in b.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "role_changed"))}
    assert told == {a.contributor.email, a.north_owner.email, a.owner.email}  # not the south reader


def test_b19_an_invitation_link_works_once(b, agreement, clock):
    a = agreement
    invitation, token = people.invite(b, a.owner, a.acc.id, a.south.id, "Eva@Example.com", "contributor", "en",
                                      SECRET)
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "invitation")).one()
    assert (mail.to_address, mail.locale) == ("Eva@example.com", "en")
    assert token not in str(mail.payload) and token not in invitation.token_hash  # only its hash is kept
    assert people.link_token(SECRET, mail.payload["nonce"]) == token
    with pytest.raises(InvalidInput):
        people.accept_as_new(b, token, "Eva Berg", "qwerty123456")  # a common password
    eva = people.accept_as_new(b, token, "Eva Berg", GOOD_PASSWORD, "pbkdf2:sha256:1000")
    got = assignment(b, eva, a.acc, a.south)
    assert (got.role, got.granted_by_user_id, got.granted_at) == (Role.CONTRIBUTOR, a.owner.id, clock.now())
    with pytest.raises(InvitationInvalid, match="used"):
        people.accept_as_new(b, token, "Someone Else", GOOD_PASSWORD)
    assert b.session.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.accepted")).one()


def test_i31_an_invitation_expires_after_7_days_and_sent_again_kills_the_old_link(b, agreement, clock):
    a = agreement
    invitation, old = people.invite(b, a.owner, a.acc.id, None, "ny@example.com", "reader", "sv", SECRET)
    _again, new = people.resend_invitation(b, a.owner, a.acc.id, invitation.id, SECRET)
    with pytest.raises(InvitationInvalid, match="unknown"):
        people.invitation_for(b, old)
    clock.advance(6)
    assert people.invitation_for(b, new).id == invitation.id
    clock.advance(1)
    with pytest.raises(InvitationInvalid, match="expired"):
        people.invitation_for(b, new)


def test_i31_a_withdrawn_invitation_is_dead_and_an_existing_person_accepts_signed_in(b, agreement):
    a = agreement
    first, token = people.invite(b, a.owner, a.acc.id, a.north.id, a.reader.email, "owner", "sv", SECRET)
    people.withdraw_invitation(b, a.owner, a.acc.id, first.id)
    with pytest.raises(InvitationInvalid, match="used"):
        people.invitation_for(b, token)
    _second, token = people.invite(b, a.owner, a.acc.id, a.north.id, a.reader.email, "owner", "sv", SECRET)
    with pytest.raises(InvitationInvalid, match="sign_in_first"):
        people.accept_as_new(b, token, "Reader", GOOD_PASSWORD)
    with pytest.raises(InvitationInvalid, match="other_person"):
        people.accept_as(b, a.contributor, token)
    people.accept_as(b, a.reader, token)
    assert assignment(b, a.reader, a.acc, a.north).role == Role.OWNER
    assert assignment(b, a.reader, a.acc, a.south).role == Role.READER
    assert b.session.scalar(select(User).where(User.email == a.reader.email)).id == a.reader.id


def test_i31_strangers_learn_nothing(b, agreement):
    a = agreement
    stranger = f.user(b)
    f.commit(b)
    with pytest.raises(NotFound):
        people.invite(b, stranger, a.acc.id, None, "x@example.com", "reader", "sv", SECRET)
    assert b.session.scalars(select(Invitation)).all() == []


def test_i31_password_rule_is_nist_length_and_common_list_without_composition():
    assert password_problem("kort") == "too_short"
    assert password_problem("1qaz2wsx3edc") == "too_common"
    assert password_problem("alla små bokstäver här") is None  # no composition rules
    assert password_problem("x" * 129) == "too_long"
