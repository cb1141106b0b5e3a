"""The pages' cheaper reads (issue 28's page budget): plain values read on the session's
connection (`transaction.reader`) and rows read by a statement built once
(`ids.by_id`/`ids.get_by`) answer exactly as the ORM's own calls did — unflushed
changes seen, the session's own copy returned, no autoflush where Session.get has none."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import ids
from portal.billing.accounts import access
from portal.billing.transaction import reader
from portal.models import BillingAccount, Role, RoleAssignment
from tests import factories as f


def test_i28_reader_is_the_connection_of_a_clean_session_and_the_session_while_it_holds_changes(b):
    acc = f.account(b)
    f.commit(b)
    assert reader(b.session) is b.session.connection()
    count = select(func.count()).select_from(BillingAccount)
    before = reader(b.session).scalar(count)
    b.session.add(BillingAccount(kind=acc.kind, name="Ny", currency="SEK", notification_email="ny@example.com",
                                 created_on=acc.created_on))
    assert reader(b.session) is b.session  # its autoflush writes the new account first
    assert reader(b.session).scalar(count) == before + 1
    b.session.rollback()


def test_i28_roles_read_on_the_connection_see_a_role_given_in_the_same_transaction(b):
    acc = f.account(b)
    someone = f.user(b)
    f.commit(b)
    assert access.roles_of(b.session, someone, acc.id) == set()
    b.session.add(RoleAssignment(user_id=someone.id, account_id=acc.id, role=Role.ACCOUNT_ADMIN))
    assert access.roles_of(b.session, someone, acc.id) == {Role.ACCOUNT_ADMIN}
    b.session.rollback()


def test_i28_get_by_answers_as_session_get(b):
    acc = f.account(b)
    f.commit(b)
    acc_id, name = acc.id, acc.name
    statement = ids.by_id(BillingAccount)
    b.session.expunge_all()
    read = ids.get_by(b.session, statement, BillingAccount, acc_id)
    assert read.id == acc_id and read.name == name
    assert ids.get_by(b.session, statement, BillingAccount, acc_id) is read  # the session's own copy
    assert ids.get_by(b.session, statement, BillingAccount, ids.MAX_ID) is None
    assert ids.get_by(b.session, statement, BillingAccount, ids.MAX_ID + 1) is None  # not an id: no query
    assert ids.get_by(b.session, statement, BillingAccount, True) is None


def test_i28_get_by_does_not_autoflush_as_session_get_does_not(b):
    acc = f.account(b)
    f.commit(b)
    acc_id, kind, created_on = acc.id, acc.kind, acc.created_on
    b.session.expunge_all()
    other = BillingAccount(kind=kind, name="Ny", currency="SEK", notification_email="ny@example.com",
                           created_on=created_on)
    b.session.add(other)
    read = ids.get_by(b.session, ids.by_id(BillingAccount), BillingAccount, acc_id)
    assert read.id == acc_id
    assert other in b.session.new  # still pending: Session.get would not have flushed it either
    b.session.rollback()


def test_i28_an_account_read_with_its_profiles_has_them_all_in_order(b):
    agreement = f.account(b, kind="customer_agreement")
    first, second = f.profile(b, agreement), f.profile(b, agreement)
    owner = f.user(b, Role.OWNER, agreement)
    f.commit(b)
    agreement_id, profile_ids = agreement.id, sorted([first.id, second.id])
    b.session.expunge_all()
    owner = b.session.merge(owner, load=True)
    account = access.get_account(b.session, owner, agreement_id, profiles=True)
    assert "profiles" in account.__dict__  # loaded by the same statement
    assert [p.id for p in account.profiles] == profile_ids
    assert Session.object_session(account) is b.session
