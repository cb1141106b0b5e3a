"""Issue 31 item 6: `flask users` — the provider invites, lists and takes roles away
with the same services as the Access page, audited as the provider; the owner rules
hold for the provider too."""
from __future__ import annotations

from flask_babel import force_locale
from sqlalchemy import select

from portal.extensions import db
from portal.models import AccountKind, AuditEvent, Invitation, OutboxMessage, Role, RoleAssignment
from portal.wording import audit_actor
from tests import factories as f


def test_i31_users_cli_invites_lists_and_removes_roles(app, b, runner):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc)
    owner = f.user(b, Role.OWNER, acc)
    reader = f.user(b, Role.READER, acc, profile)
    f.commit(b)
    invited = runner.invoke(args=["users", "invite", "ny@example.com", "--account", str(acc.id), "--profile",
                                  str(profile.id), "--role", "owner", "--lang", "en"])
    assert invited.exit_code == 0 and "Invited ny@example.com as owner" in invited.output, invited.output
    with app.app_context():
        invitation = db.session.scalars(select(Invitation)).one()
        mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "invitation")).one()
        assert (invitation.invited_by_user_id, mail.locale, mail.to_address) == (None, "en", "ny@example.com")
    wrong = runner.invoke(args=["users", "invite", "x@example.com", "--account", str(acc.id), "--role",
                                "account_admin"])
    assert wrong.exit_code == 1 and "invalid role" in wrong.output

    listed = runner.invoke(args=["users", "list", "--account", str(acc.id)])
    assert owner.email in listed.output and f"profile {profile.id}\treader" in listed.output

    last = runner.invoke(args=["users", "remove-role", owner.email, "--account", str(acc.id), "--role", "owner"])
    assert last.exit_code == 1 and "refused: last_owner" in last.output
    removed = runner.invoke(args=["users", "remove-role", reader.email, "--account", str(acc.id), "--profile",
                                  str(profile.id), "--role", "reader"])
    assert removed.exit_code == 0, removed.output
    with app.app_context():
        assert db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == reader.id)).all() == []
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "role.removed")).one()
        with app.test_request_context(), force_locale("en"):
            assert event.actor_user_id is None and audit_actor(event) == "The provider (command line)"
