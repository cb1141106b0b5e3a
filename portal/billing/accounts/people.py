"""Issue 31: people and their roles — invitations by email, and giving, changing and
taking away roles on the Access page and with `flask users` (the same functions; an
actor of None is the provider, from the command line).

The rules, said on the page too:
- who manages roles: the account administrator (pay-as-you-go); an owner of the whole
  billing account, or of one billing profile for that profile (customer agreement);
- nobody grants more than they hold: a role ranked above their own, or a scope wider
  than the one they manage (a profile owner cannot give a role on the whole account);
- the last owner (administrator) cannot be removed or changed: every billing profile
  keeps an owner (on it, or on the whole account), a pay-as-you-go account an
  administrator;
- a person cannot remove or lower their own last owner (administrator) role.

Every change is audited and told by email to the person and to the scope's owners.
An invitation's link carries a token made from a random nonce and the application's
secret (`link_token`); the database keeps only its SHA-256 (`Invitation.token_hash`),
the outbox only the nonce. Accepted, withdrawn or sent again, the old link is dead."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from portal.billing.accounts import access, notify, sign_in_links
from portal.billing.accounts.access import Decision
from portal.billing.accounts.notify import refusals_audited
from portal.billing.accounts.passwords import password_problem
from portal.billing.accounts.sign_in_links import token_hash
from portal.billing.context import Billing
from portal.billing.transaction import lock_account, write_transaction
from portal.errors import InvalidInput, InvitationInvalid, NotAuthorized, NotFound
from portal.models import AccountKind, BillingAccount, BillingProfile, Invitation, Role, RoleAssignment, User

INVITATION_DAYS = 7
LANGUAGES = ("sv", "en")
ROLES = {AccountKind.PAY_AS_YOU_GO: (Role.ACCOUNT_ADMIN, Role.ACCOUNT_USER),
         AccountKind.CUSTOMER_AGREEMENT: (Role.OWNER, Role.CONTRIBUTOR, Role.INVOICE_MANAGER, Role.READER)}
MANAGER = {AccountKind.PAY_AS_YOU_GO: Role.ACCOUNT_ADMIN, AccountKind.CUSTOMER_AGREEMENT: Role.OWNER}
# What a role may do, highest first: nobody grants a role ranked above their own.
RANK = {Role.ACCOUNT_ADMIN: 4, Role.OWNER: 4, Role.CONTRIBUTOR: 3, Role.INVOICE_MANAGER: 2,
        Role.ACCOUNT_USER: 1, Role.READER: 1}
MANAGE_ROLES = "manage_roles"  # the attempted action an audited refusal names


@dataclass(frozen=True)
class Scope:
    """Where a role counts: a billing profile, or (profile None) the whole account."""
    id: int | None
    name: str | None


@dataclass(frozen=True)
class AccessPage:
    account: BillingAccount
    profile: BillingProfile | None
    assignments: list[RoleAssignment]
    invitations: list[Invitation]
    scopes: list[Scope]        # where the person may give roles (the invitation form's choices)
    grantable: list[Role]      # which roles they may give
    may_manage: Decision


# -- who may do what ------------------------------------------------------------------

def _held(session: Session, actor: User, account: BillingAccount) -> list[tuple[Role, int | None]]:
    return [(role, scope) for role, scope in session.execute(
        select(RoleAssignment.role, RoleAssignment.billing_profile_id).where(
            RoleAssignment.user_id == actor.id, RoleAssignment.account_id == account.id))]


def decide_manage(session: Session, actor: User | None, account: BillingAccount, profile_id: int | None,
                  role: Role | None = None) -> Decision:
    """May `actor` give (`role`) or take roles on this scope? The provider (None) may."""
    if actor is None:
        return access.ALLOW
    held = _held(session, actor, account)
    manager = MANAGER[account.kind]
    managing = [scope for r, scope in held if r == manager]
    if not managing:
        return Decision(False, "cannot_manage_roles" if held else "not_a_member")
    if None not in managing and profile_id not in managing:
        return Decision(False, "beyond_own_scope")
    if role is not None:
        mine = max(RANK[r] for r, scope in held if scope is None or scope == profile_id)
        if RANK[role] > mine:
            return Decision(False, "beyond_own_role")
    return access.ALLOW


def _require(session: Session, actor: User | None, account: BillingAccount, profile_id: int | None,
             role: Role | None = None) -> None:
    decision = decide_manage(session, actor, account, profile_id, role)
    if decision.reason == "not_a_member":
        raise NotFound("billing account")
    if not decision:
        raise NotAuthorized(decision.reason or "forbidden", account_id=account.id, action=MANAGE_ROLES,
                            profile_id=profile_id)


def _account(b: Billing, actor: User | None, account_id: int) -> BillingAccount:
    if actor is not None:
        return access.get_account(b.session, actor, account_id)
    account = b.session.get(BillingAccount, account_id)
    if account is None:
        raise NotFound("billing account")
    return account


def _profile(session: Session, account: BillingAccount, profile_id: int | None) -> BillingProfile | None:
    if profile_id is None:
        return None
    profile = session.get(BillingProfile, profile_id)
    if profile is None or profile.account_id != account.id:
        raise NotFound("billing profile")
    return profile


def _role(account: BillingAccount, role: str | Role, profile_id: int | None) -> Role:
    try:
        chosen = Role(role)
    except ValueError:
        raise InvalidInput("role") from None
    if chosen not in ROLES[account.kind]:
        raise InvalidInput("role")
    if account.kind == AccountKind.PAY_AS_YOU_GO and profile_id is not None:
        raise NotFound("billing profile")
    return chosen


# -- the page -------------------------------------------------------------------------

@refusals_audited
def access_page(b: Billing, actor: User, account_id: int, profile_id: int | None = None) -> AccessPage:
    """Who has which role on the account (or on one profile, with the account's own
    roles that count there), since when, from whom; the pending invitations; what the
    person may give. Only for those who manage roles somewhere on the account."""
    account = access.get_account(b.session, actor, account_id)
    profile = _profile(b.session, account, profile_id)
    held = _held(b.session, actor, account)
    managing = [scope for role, scope in held if role == MANAGER[account.kind]]
    _require(b.session, actor, account, profile_id)
    in_scope = (or_(RoleAssignment.billing_profile_id.is_(None), RoleAssignment.billing_profile_id == profile.id)
                if profile is not None else True)
    assignments = list(b.session.scalars(
        select(RoleAssignment).where(RoleAssignment.account_id == account.id, in_scope)
        .order_by(RoleAssignment.billing_profile_id.is_not(None), RoleAssignment.billing_profile_id,
                  RoleAssignment.user_id)))
    invited_in = (or_(Invitation.billing_profile_id.is_(None), Invitation.billing_profile_id == profile.id)
                  if profile is not None else True)
    invitations = list(b.session.scalars(
        select(Invitation).where(Invitation.account_id == account.id, Invitation.closed_at.is_(None), invited_in)
        .order_by(Invitation.id)))
    if account.kind == AccountKind.PAY_AS_YOU_GO:
        scopes = [Scope(None, None)]
    else:
        profiles = account.profiles if None in managing else [p for p in account.profiles if p.id in managing]
        scopes = ([Scope(None, None)] if None in managing else []) + [
            Scope(p.id, p.name) for p in profiles if profile is None or p.id == profile.id]
    mine = max(RANK[role] for role, _scope in held)
    grantable = [role for role in ROLES[account.kind] if RANK[role] <= mine]
    return AccessPage(account, profile, assignments, invitations, scopes, grantable,
                      decide_manage(b.session, actor, account, profile_id))


def pending(invitation: Invitation, now: datetime) -> bool:
    return invitation.closed_at is None and invitation.expires_at > now


def managed_scopes(session: Session, actor: User, account: BillingAccount) -> list[int | None]:
    """Where the person manages roles: None for the whole account, else profile ids
    (an empty list: nowhere). Read from the page's cached roles (access.roles_of)."""
    manager = MANAGER[account.kind]
    return sorted({scope for role, scope in access.scoped_roles(session, actor, account.id) if role == manager},
                  key=lambda scope: (scope is not None, scope or 0))

# -- invitations ----------------------------------------------------------------------

def link_token(secret: bytes | str, nonce: str) -> str:
    """The token an invitation's link carries: made again when the email is written,
    never stored (only its hash, `token_hash`)."""
    return sign_in_links.link_token(secret, nonce, purpose="invitation")


def _clean_email(raw: str) -> str:
    try:
        return validate_email((raw or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidInput("email") from None


def _issue(b: Billing, invitation: Invitation, secret: bytes | str) -> str:
    """A new link for the invitation (the old one dies), valid for INVITATION_DAYS,
    and its email in the invitee's language. Returns the token (for the CLI's output
    and the tests; never stored)."""
    nonce = secrets.token_urlsafe(24)
    token = link_token(secret, nonce)
    now = b.clock.now()
    invitation.token_hash, invitation.sent_at = token_hash(token), now
    invitation.expires_at = now + timedelta(days=INVITATION_DAYS)
    b.session.flush()
    inviter = invitation.invited_by
    notify.queue_email(b.session, b.clock, invitation.account, "invitation", {
        "nonce": nonce, "invitation_id": invitation.id, "account_name": invitation.account.name,
        "role": str(invitation.role), "profile_id": invitation.billing_profile_id,
        "scope": invitation.billing_profile.name if invitation.billing_profile else None,
        "inviter": inviter.name if inviter else None, "expires_on": invitation.expires_at.date().isoformat()},
        to_address=invitation.email, locale=invitation.locale)
    return token


@refusals_audited
def invite(b: Billing, actor: User | None, account_id: int, profile_id: int | None, email: str,
           role: str | Role, locale: str, secret: bytes | str) -> tuple[Invitation, str]:
    """Invite a person (new or not) by email to a role on the account or one profile.
    A pending invitation of the same address to the same scope is replaced."""
    address = _clean_email(email)
    if locale not in LANGUAGES:
        raise InvalidInput("locale")
    with write_transaction(b.session):
        account = _account(b, actor, account_id)
        chosen = _role(account, role, profile_id)
        profile = _profile(b.session, account, profile_id)
        _require(b.session, actor, account, profile_id, chosen)
        lock_account(b.session, account.id)
        same_scope = (Invitation.billing_profile_id.is_(None) if profile_id is None
                      else Invitation.billing_profile_id == profile_id)
        for old in b.session.scalars(select(Invitation).where(
                Invitation.account_id == account.id, same_scope, Invitation.closed_at.is_(None),
                func.lower(Invitation.email) == address.lower())):
            old.closed_at = b.clock.now()
        invitation = Invitation(account=account, billing_profile=profile, email=address, role=chosen, locale=locale,
                                token_hash=secrets.token_hex(32), invited_by=actor,
                                created_at=b.clock.now(), sent_at=b.clock.now(), expires_at=b.clock.now())
        b.session.add(invitation)
        b.session.flush()
        token = _issue(b, invitation, secret)
        notify.audit(b.session, b.clock, "invitation.sent", account_id=account.id, actor=actor, **_by(actor),
                     profile_id=profile_id, email=address, role=str(chosen), scope=profile and profile.name)
        return invitation, token


def _open_invitation(b: Billing, actor: User | None, account_id: int, invitation_id: int) -> Invitation:
    account = _account(b, actor, account_id)
    lock_account(b.session, account.id)
    invitation = b.session.get(Invitation, invitation_id)
    if invitation is None or invitation.account_id != account.id:
        raise NotFound("invitation")
    _require(b.session, actor, account, invitation.billing_profile_id, invitation.role)
    if invitation.closed_at is not None:  # accepted or withdrawn meanwhile (another tab)
        raise NotFound("invitation")
    return invitation


@refusals_audited
def withdraw_invitation(b: Billing, actor: User | None, account_id: int, invitation_id: int) -> Invitation:
    with write_transaction(b.session):
        invitation = _open_invitation(b, actor, account_id, invitation_id)
        invitation.closed_at = b.clock.now()
        notify.audit(b.session, b.clock, "invitation.withdrawn", account_id=invitation.account_id, actor=actor,
                     **_by(actor),
                     profile_id=invitation.billing_profile_id, email=invitation.email, role=str(invitation.role))
        return invitation


@refusals_audited
def resend_invitation(b: Billing, actor: User | None, account_id: int, invitation_id: int,
                      secret: bytes | str) -> tuple[Invitation, str]:
    """A new link (the old one no longer works), valid 7 days from now."""
    with write_transaction(b.session):
        invitation = _open_invitation(b, actor, account_id, invitation_id)
        token = _issue(b, invitation, secret)
        notify.audit(b.session, b.clock, "invitation.sent", account_id=invitation.account_id, actor=actor,
                     **_by(actor),
                     profile_id=invitation.billing_profile_id, email=invitation.email, role=str(invitation.role),
                     again=True)
        return invitation, token


def invitation_for(b: Billing, token: str) -> Invitation:
    """The open invitation a link names; InvitationInvalid('unknown' | 'used' |
    'expired') otherwise — the page says which, and what to do."""
    if not token or len(token) > 100:
        raise InvitationInvalid("unknown")
    invitation = b.session.scalars(select(Invitation).where(Invitation.token_hash == token_hash(token))).first()
    if invitation is None:
        raise InvitationInvalid("unknown")
    if invitation.closed_at is not None:
        raise InvitationInvalid("used")
    if invitation.expires_at <= b.clock.now():
        raise InvitationInvalid("expired")
    return invitation


def existing_person(b: Billing, invitation: Invitation) -> User | None:
    return b.session.scalars(select(User).where(func.lower(User.email) == invitation.email.lower())).first()


def accept_as_new(b: Billing, token: str, name: str, password: str, hash_method: str = "scrypt") -> User:
    """The invited person is new: they choose their name and password (NIST rules,
    passwords.password_problem) and get the role. They sign in afterwards."""
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise InvalidInput("name")
    if password_problem(password or ""):
        raise InvalidInput("password")
    with write_transaction(b.session):
        invitation = invitation_for(b, token)
        lock_account(b.session, invitation.account_id)
        invitation = invitation_for(b, token)  # again, under the lock: used once
        if existing_person(b, invitation) is not None:
            raise InvitationInvalid("sign_in_first")
        person = User(email=invitation.email, name=name, locale=invitation.locale,
                      password_hash=generate_password_hash(password, method=hash_method))
        b.session.add(person)
        b.session.flush()
        return _accepted(b, invitation, person)


def accept_as(b: Billing, person: User, token: str) -> User:
    """The invited person exists and has signed in: the role is added to them (or
    replaces the one they had on the same scope)."""
    with write_transaction(b.session):
        invitation = invitation_for(b, token)
        lock_account(b.session, invitation.account_id)
        invitation = invitation_for(b, token)
        if invitation.email.lower() != person.email.lower():
            raise InvitationInvalid("other_person")
        return _accepted(b, invitation, person)


def _accepted(b: Billing, invitation: Invitation, person: User) -> User:
    invitation.closed_at, invitation.accepted_by_user_id = b.clock.now(), person.id
    inviter = invitation.invited_by
    assignment = _assignment_of(b.session, person.id, invitation.account_id, invitation.billing_profile_id)
    before = assignment.role if assignment else None
    if assignment is None:
        assignment = RoleAssignment(user_id=person.id, account_id=invitation.account_id,
                                    billing_profile_id=invitation.billing_profile_id, role=invitation.role)
        b.session.add(assignment)
    assignment.role, assignment.granted_at = invitation.role, b.clock.now()
    assignment.granted_by_user_id = inviter.id if inviter else None
    b.session.flush()
    _tell(b, person, assignment, person, "granted" if before is None else "changed", before,
          audit_action="invitation.accepted", given_by=inviter)
    return person


# -- roles ----------------------------------------------------------------------------

def _assignment_of(session: Session, user_id: int, account_id: int, profile_id: int | None) -> RoleAssignment | None:
    return session.scalars(select(RoleAssignment).where(
        RoleAssignment.user_id == user_id, RoleAssignment.account_id == account_id,
        RoleAssignment.billing_profile_id.is_(None) if profile_id is None
        else RoleAssignment.billing_profile_id == profile_id)).first()


def _keeps_owners(session: Session, account: BillingAccount, leaving: RoleAssignment) -> bool:
    """Would every scope still have an owner (administrator) without `leaving`?"""
    manager = MANAGER[account.kind]
    others = {scope for (scope,) in session.execute(select(RoleAssignment.billing_profile_id).where(
        RoleAssignment.account_id == account.id, RoleAssignment.role == manager, RoleAssignment.id != leaving.id))}
    if None in others:  # an owner of the whole account (or another administrator)
        return True
    if leaving.billing_profile_id is not None:
        return leaving.billing_profile_id in others
    profiles = [p.id for p in account.profiles]
    return bool(profiles) and all(p in others for p in profiles)


def _check_leaving(session: Session, actor: User | None, account: BillingAccount, assignment: RoleAssignment) -> None:
    """The owner rules, for a role removed or lowered."""
    manager = MANAGER[account.kind]
    if assignment.role != manager:
        return
    if actor is not None and actor.id == assignment.user_id and not session.scalar(
            select(func.count()).select_from(RoleAssignment).where(
                RoleAssignment.user_id == actor.id, RoleAssignment.account_id == account.id,
                RoleAssignment.role == manager, RoleAssignment.id != assignment.id)):
        raise NotAuthorized("own_last_owner", account_id=account.id, action=MANAGE_ROLES,
                            profile_id=assignment.billing_profile_id)
    if not _keeps_owners(session, account, assignment):
        raise NotAuthorized("last_owner", account_id=account.id, action=MANAGE_ROLES,
                            profile_id=assignment.billing_profile_id)


def _locked_assignment(b: Billing, actor: User | None, account_id: int, assignment_id: int,
                       role: Role | None = None) -> tuple[BillingAccount, RoleAssignment]:
    account = _account(b, actor, account_id)
    lock_account(b.session, account.id)
    assignment = b.session.get(RoleAssignment, assignment_id)
    if assignment is None or assignment.account_id != account.id:
        raise NotFound("role assignment")
    _require(b.session, actor, account, assignment.billing_profile_id, role)
    # Nobody takes away more than they hold either: an owner's role only by an owner.
    _require(b.session, actor, account, assignment.billing_profile_id, assignment.role)
    return account, assignment


@refusals_audited
def change_role(b: Billing, actor: User | None, account_id: int, assignment_id: int, role: str | Role) -> RoleAssignment:
    with write_transaction(b.session):
        account, assignment = _locked_assignment(b, actor, account_id, assignment_id)
        chosen = _role(account, role, None)
        _require(b.session, actor, account, assignment.billing_profile_id, chosen)
        if assignment.role == chosen:
            return assignment
        before = assignment.role
        _check_leaving(b.session, actor, account, assignment)
        assignment.role, assignment.granted_at = chosen, b.clock.now()
        assignment.granted_by_user_id = actor and actor.id
        b.session.flush()
        _tell(b, actor, assignment, assignment.user, "changed", before)
        return assignment


@refusals_audited
def remove_role(b: Billing, actor: User | None, account_id: int, assignment_id: int) -> None:
    with write_transaction(b.session):
        account, assignment = _locked_assignment(b, actor, account_id, assignment_id)
        _check_leaving(b.session, actor, account, assignment)
        person = assignment.user
        _tell(b, actor, assignment, person, "removed", assignment.role)
        b.session.delete(assignment)
        b.session.flush()


def find_assignment(b: Billing, email: str, account_id: int, profile_id: int | None, role: str) -> RoleAssignment:
    """The CLI's way to name a role: the person's email, the scope, the role."""
    found = b.session.scalars(select(RoleAssignment).join(User, User.id == RoleAssignment.user_id).where(
        func.lower(User.email) == (email or "").strip().lower(), RoleAssignment.account_id == account_id,
        RoleAssignment.role == role,
        RoleAssignment.billing_profile_id.is_(None) if profile_id is None
        else RoleAssignment.billing_profile_id == profile_id)).first()
    if found is None:
        raise NotFound("role assignment")
    return found


def people(b: Billing, account_id: int | None = None) -> list[RoleAssignment]:
    """Every role assignment (of one account), for `flask users list`."""
    query = select(RoleAssignment).join(User, User.id == RoleAssignment.user_id)
    if account_id is not None:
        query = query.where(RoleAssignment.account_id == account_id)
    return list(b.session.scalars(query.order_by(RoleAssignment.account_id, User.email,
                                                 RoleAssignment.billing_profile_id)))


def _managers(session: Session, account: BillingAccount, profile_id: int | None) -> list[User]:
    return list(session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id).where(
            RoleAssignment.account_id == account.id, RoleAssignment.role == MANAGER[account.kind],
            or_(RoleAssignment.billing_profile_id.is_(None), RoleAssignment.billing_profile_id == profile_id)
            if profile_id is not None else RoleAssignment.billing_profile_id.is_(None))
        .distinct().order_by(User.id)))


def _by(actor: User | None) -> dict:
    """An event with no person acting is the provider's (`flask users`), not the cycle's."""
    return {"by_provider": True} if actor is None else {}


def _tell(b: Billing, actor: User | None, assignment: RoleAssignment, person: User, change: str,
          before: Role | None, audit_action: str | None = None, given_by: User | None = None) -> None:
    """The audit event, and an email to the person and to the scope's owners (each in
    their own language, one each)."""
    account = assignment.account or b.session.get(BillingAccount, assignment.account_id)
    profile = assignment.billing_profile
    details = {"person": person.name, "person_email": person.email, "role": str(assignment.role),
               "from_role": str(before) if before else None, "scope": profile.name if profile else None,
               "change": change}
    if audit_action == "invitation.accepted":  # the person acted; the inviter gave the role
        details["invited_by"] = given_by.name if given_by else None
    notify.audit(b.session, b.clock, audit_action or f"role.{change}", account_id=account.id, actor=actor,
                 profile_id=assignment.billing_profile_id, **details, **_by(actor))
    by = given_by if audit_action == "invitation.accepted" else actor
    payload = {**details, "actor": by.name if by else None, "account_name": account.name,
               "profile_id": assignment.billing_profile_id}
    told: set[str] = set()
    for user in [person, *_managers(b.session, account, assignment.billing_profile_id)]:
        if user.email.lower() in told:
            continue
        told.add(user.email.lower())
        notify.queue_email(b.session, b.clock, account, "role_changed", {**payload, "to_person": user.id == person.id},
                           to_address=user.email, locale=user.locale)
