"""/api/v1: people — invite a person to a role, withdraw an invitation, list and remove
role assignments — for the provider, with the Access page's rules (the last owner
stays, the role fits the account's kind; portal/billing/accounts/people.py). The
provider acts as nobody in particular: audited and emailed "by the provider", as
`flask users` is."""
from __future__ import annotations

from flask import current_app, request

from portal.billing.accounts import people
from portal.billing.provider import reads
from portal.services import billing
from portal.web.api.core import WRITE, answers, bp, dump, idempotent, listed, spec
from portal.web.api.schemas import (InvitationIn, InvitationList, InvitationOut, ListQuery,
                                    RoleList, RoleOut)

PROVIDER = None  # the actor of a provider's change: no person


@bp.post("/accounts/<int:account_id>/invitations")
@spec.validate(json=InvitationIn, resp=answers(201, InvitationOut, 404, 409, 422), tags=["people"], **WRITE)
def invite(account_id: int):
    """Invite a person by email (sv or en) to a role on the account or one billing
    profile; the email carries a single-use link valid 7 days. A pending invitation of
    the same address to the same scope is replaced."""
    body = request.context.json
    return idempotent(lambda: (201, dump(InvitationOut, people.invite(
        billing(), PROVIDER, account_id, body.billing_profile_id, body.email, body.role, body.locale,
        current_app.secret_key)[0])), own_transactions=True)


@bp.get("/accounts/<int:account_id>/invitations")
@spec.validate(query=ListQuery, resp=answers(200, InvitationList, 404, 422), tags=["people"])
def list_invitations(account_id: int):
    q = request.context.query
    return listed(InvitationOut, reads.invitations(billing(), account_id, q.after, q.limit, q.updated_since))


@bp.delete("/accounts/<int:account_id>/invitations/<int:invitation_id>")
@spec.validate(resp=answers(200, InvitationOut, 404, 409), tags=["people"], **WRITE)
def withdraw_invitation(account_id: int, invitation_id: int):
    """Withdraw an open invitation: its link no longer works."""
    return idempotent(lambda: (200, dump(InvitationOut, people.withdraw_invitation(
        billing(), PROVIDER, account_id, invitation_id))), own_transactions=True)


@bp.get("/accounts/<int:account_id>/roles")
@spec.validate(query=ListQuery, resp=answers(200, RoleList, 404, 422), tags=["people"])
def list_roles(account_id: int):
    q = request.context.query
    return listed(RoleOut, reads.roles(billing(), account_id, q.after, q.limit, q.updated_since))


@bp.delete("/accounts/<int:account_id>/roles/<int:assignment_id>")
@spec.validate(resp=answers(200, RoleOut, 404, 409), tags=["people"], **WRITE)
def remove_role(account_id: int, assignment_id: int):
    """Take a role away (the person and the owners are told by email); the last owner
    of a scope cannot be removed (409 not_authorized, detail last_owner). Answers the
    assignment as it was."""
    def work():
        b = billing()
        removed = dump(RoleOut, reads.role(b, account_id, assignment_id))
        people.remove_role(b, PROVIDER, account_id, assignment_id)
        return 200, removed
    return idempotent(work, own_transactions=True)
