"""Who may do what (R02, R14, R19, B2). Views ask `decide` to show or explain an
action; every service that acts calls `require`, so a forced POST is refused here."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session, joinedload

from portal.billing import ids
from portal.billing.transaction import reader
from portal.errors import NotAuthorized, NotFound
from portal.models import AccountKind, BillingAccount, Role, RoleAssignment, User


class Action(enum.StrEnum):
    VIEW = "view"
    SETTLE = "settle"
    PAY_INVOICES = "pay_invoices"
    MANAGE_NOTIFICATIONS = "manage_notifications"
    OPEN_SUPPORT_REQUEST = "open_support_request"
    VIEW_AUDIT = "view_audit"
    MANAGE_BILLING_DETAILS = "manage_billing_details"
    MANAGE_PAYMENT_METHODS = "manage_payment_methods"
    MANAGE_SUBSCRIPTIONS = "manage_subscriptions"  # issue 33: cancel, undo (docs/subscriptions.md)


PAYING_ROLES = frozenset({Role.OWNER, Role.CONTRIBUTOR, Role.INVOICE_MANAGER})  # R19
# B8 (product decision, as in the articles' portal): owners and contributors manage a
# profile's payment methods; an invoice manager pays with them but does not change them.
METHOD_MANAGING_ROLES = frozenset({Role.ACCOUNT_ADMIN, Role.OWNER, Role.CONTRIBUTOR})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Machine code that the web layer turns into a translated "why" (B2).
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


_ROLE_CACHE = "portal.role_assignments"


def _assignments(session: Session, user_id: int, account_id: int) -> list[tuple[Role, int | None]]:
    """The user's role assignments on an account, read once per transaction: a page
    asks several questions about the same user and account (a constant number of
    queries per page). Any pending change, flush or end of transaction forgets them."""
    cache = session.info.setdefault(_ROLE_CACHE, {})
    if session.new or session.dirty or session.deleted:
        cache.clear()
    key = (user_id, account_id)
    if key not in cache:
        cache[key] = [(role, scope) for role, scope in reader(session).execute(
            _ASSIGNMENTS, {"user_id": user_id, "account_id": account_id})]
    return cache[key]


# Every page asks it: built once, values bound when it runs.
_ASSIGNMENTS = select(RoleAssignment.role, RoleAssignment.billing_profile_id).where(
    RoleAssignment.user_id == bindparam("user_id"), RoleAssignment.account_id == bindparam("account_id"))


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_transaction_end")
def _forget_roles(session: Session, *_args) -> None:
    session.info.pop(_ROLE_CACHE, None)


def roles_of(session: Session, user: User, account_id: int, profile_id: int | None = None) -> set[Role]:
    """The user's roles on an account; for a customer agreement, on one profile when
    given (a role on the account as a whole, billing_profile_id NULL, counts for all)."""
    return {role for role, scope in _assignments(session, user.id, account_id)
            if profile_id is None or scope is None or scope == profile_id}


def scoped_roles(session: Session, user: User, account_id: int) -> list[tuple[Role, int | None]]:
    """(role, billing profile id or None for the whole account) of each of the user's
    role assignments on the account, from the transaction's cache."""
    return _assignments(session, user.id, account_id)


def profiles_with_role(session: Session, user: User, account: BillingAccount) -> list[int]:
    """Ids of the account's billing profiles the user has a role on, in one query
    whatever the number of profiles."""
    scopes = {scope for _role, scope in _assignments(session, user.id, account.id)}
    if None in scopes:  # a role on the whole account
        return [p.id for p in account.profiles]
    return sorted(scope for scope in scopes if scope is not None)


def decide(session: Session, user: User, account: BillingAccount, action: Action,
           profile_id: int | None = None) -> Decision:
    roles = roles_of(session, user, account.id, profile_id)
    if not roles and profile_id is not None:
        roles_anywhere = roles_of(session, user, account.id)
        if roles_anywhere:
            return Decision(False, "no_role_on_profile")
    if not roles:
        return Decision(False, "not_a_member")
    payg = account.kind == AccountKind.PAY_AS_YOU_GO
    match action:
        case Action.VIEW | Action.OPEN_SUPPORT_REQUEST:
            return ALLOW
        case Action.SETTLE:
            if not payg:
                return Decision(False, "wrong_account_kind")
            return ALLOW if Role.ACCOUNT_ADMIN in roles else Decision(False, "not_account_admin")
        case Action.PAY_INVOICES:
            if payg:
                return Decision(False, "wrong_account_kind")
            if roles & PAYING_ROLES:
                return ALLOW
            return Decision(False, "reader_cannot_pay")
        case Action.MANAGE_PAYMENT_METHODS:
            if roles & METHOD_MANAGING_ROLES:
                return ALLOW
            return Decision(False, "not_account_admin" if payg else "cannot_manage_methods")
        case Action.MANAGE_SUBSCRIPTIONS:
            # Issue 33 (product decision): whoever manages what pays for it — the
            # account administrator, or a profile's owner or contributor.
            if roles & METHOD_MANAGING_ROLES:
                return ALLOW
            return Decision(False, "not_account_admin" if payg else "cannot_manage_subscriptions")
        case Action.MANAGE_NOTIFICATIONS | Action.VIEW_AUDIT | Action.MANAGE_BILLING_DETAILS:
            # Product decision: the account administrator, or a profile owner.
            if roles & {Role.ACCOUNT_ADMIN, Role.OWNER}:
                return ALLOW
            return Decision(False, "not_account_admin" if payg else "not_owner")
    raise ValueError(action)  # pragma: no cover - every Action is matched above


def require(session: Session, user: User, account: BillingAccount, action: Action,
            profile_id: int | None = None) -> None:
    """Raise NotFound for strangers (the account's existence is not revealed) and
    NotAuthorized(reason) for members whose role does not allow the action."""
    decision = decide(session, user, account, action, profile_id)
    if decision.reason == "not_a_member":
        raise NotFound("billing account")
    if not decision:
        raise NotAuthorized(decision.reason or "forbidden", account_id=account.id,
                            action=str(action), profile_id=profile_id)


def get_account(session: Session, user: User, account_id: int, profiles: bool = False) -> BillingAccount:
    """The account if the user may see it; NotFound otherwise (never reveals others').
    `profiles`: with its billing profiles loaded in the same statement."""
    account = ids.get_by(session, _ACCOUNT[profiles], BillingAccount, account_id)
    if account is None or not roles_of(session, user, account.id):
        raise NotFound("billing account")
    return account


# Every account page reads its account; Invoices and Payment methods its billing
# profiles too, in the same statement (a lazy load of them was one more).
_ACCOUNT = {False: ids.by_id(BillingAccount), True: ids.by_id(BillingAccount, joinedload(BillingAccount.profiles))}


def accounts_of(session: Session, user: User) -> list[BillingAccount]:
    return list(session.scalars(
        select(BillingAccount).join(RoleAssignment, RoleAssignment.account_id == BillingAccount.id)
        .where(RoleAssignment.user_id == user.id).distinct().order_by(BillingAccount.id)))
