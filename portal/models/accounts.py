"""Who and whose: users, billing accounts, billing profiles (customer agreements),
billing details, roles, the sign-in rate limit's counters, and the second factor's
recovery codes and the single-use sign-in links (password reset, unlock)."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.changes import ChangeTracked
from portal.models.columns import AccountKind, Role, _enum

if TYPE_CHECKING:  # relationships' targets, resolved by SQLAlchemy's registry
    from portal.models.payments import PaymentMethod
    from portal.models.subscriptions import Subscription


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(8), default="sv")
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Raised at sign-out: every session cookie issued before (copies included) ends.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Issue 31: the TOTP key (RFC 6238), encrypted (billing/accounts/second_factor.py);
    # on once a code made with it was typed (totp_enabled_at). totp_last_step: the
    # time step of the last code accepted, so no code is accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Raised when the second factor or the password is reset: every "remember this
    # browser" cookie issued before no longer skips the code.
    factor_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    roles: Mapped[list[RoleAssignment]] = relationship(back_populates="user", foreign_keys="RoleAssignment.user_id")

    # Flask-Login protocol, kept here so the model needs no mixin import.
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        """Flask-Login's alternative id: the user and the generation of their sessions,
        so a cookie from before the last sign-out no longer names anyone."""
        return f"{self.id}-{self.session_generation or 0}"


class BillingAccount(ChangeTracked, db.Model):
    __tablename__ = "billing_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AccountKind] = mapped_column(_enum(AccountKind))
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    # R11: where billing notifications go; the account administrator can change it.
    notification_email: Mapped[str] = mapped_column(String(254))
    created_on: Mapped[date] = mapped_column(Date)

    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="account", order_by="Subscription.id")
    profiles: Mapped[list[BillingProfile]] = relationship(back_populates="account", order_by="BillingProfile.id")
    payment_methods: Mapped[list[PaymentMethod]] = relationship(back_populates="account", order_by="PaymentMethod.id")


class BillingProfile(ChangeTracked, db.Model):
    """Customer agreement: invoices and a default payment method belong to a profile."""
    __tablename__ = "billing_profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    default_payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id", use_alter=True))
    # R15: check/wire transfer as default needs approval.
    check_wire_approved: Mapped[bool] = mapped_column(Boolean, default=False)

    account: Mapped[BillingAccount] = relationship(back_populates="profiles")
    default_payment_method: Mapped[PaymentMethod | None] = relationship(
        foreign_keys=[default_payment_method_id], lazy="joined")  # shown wherever the profile is


class BillingDetails(db.Model):
    """B7: who the customer is on its invoices — per billing profile (customer
    agreement) or per account (pay-as-you-go, billing_profile_id NULL). The customer's
    to keep; an invoice copies them when it is issued (Invoice.parties)."""
    __tablename__ = "billing_details"
    __table_args__ = (UniqueConstraint("account_id", "billing_profile_id", name="uq_billing_details_owner"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    company_name: Mapped[str] = mapped_column(String(200))
    org_number: Mapped[str] = mapped_column(String(40), default="")      # organisationsnummer
    vat_number: Mapped[str] = mapped_column(String(20), default="")      # momsregistreringsnummer
    street: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))                      # ISO 3166-1 alpha-2
    reference: Mapped[str] = mapped_column(String(100), default="")      # "Er referens", PO number
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)    # invoice emails, e.g. accounts payable
    invoice_language: Mapped[str] = mapped_column(String(8), default="sv")
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class RoleAssignment(ChangeTracked, db.Model):
    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "account_id", "billing_profile_id", name="uq_role_assignments_scope"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    # Set for customer-agreement roles, which are per billing profile.
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    role: Mapped[Role] = mapped_column(_enum(Role))
    # Issue 31: since when and from whom (NULL: before these were kept, e.g. the demo's
    # seed; granted_by NULL with granted_at set: the provider, `flask users`).
    granted_at: Mapped[datetime | None] = mapped_column(DateTime)
    granted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])
    account: Mapped[BillingAccount] = relationship()
    billing_profile: Mapped[BillingProfile | None] = relationship()
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_user_id])


class Invitation(ChangeTracked, db.Model):
    """Issue 31: a person invited by email to a role (portal/billing/accounts/people.py).
    Only a hash of the link's token is kept; the link is made again from `nonce` and
    the application's secret when the email is written (people.link_token)."""
    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    billing_profile_id: Mapped[int | None] = mapped_column(ForeignKey("billing_profiles.id"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(_enum(Role))
    locale: Mapped[str] = mapped_column(String(8))  # the invitee's, chosen by the inviter
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # NULL: the provider
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    # Set once: accepted or withdrawn, the link is dead.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    accepted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    account: Mapped[BillingAccount] = relationship()
    billing_profile: Mapped[BillingProfile | None] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_user_id])


class RateLimitCounter(db.Model):
    """Sign-in rate-limit counters (Flask-Limiter, fixed windows), in the database so
    that every worker and every instance counts together (portal/web/ratelimit.py)."""
    __tablename__ = "rate_limits"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)  # seconds since the epoch


class RecoveryCode(db.Model):
    """Issue 31: one of a person's ten single-use recovery codes, as a hash (the code
    itself is shown once, when made)."""
    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class SignInToken(db.Model):
    """Issue 31: a single-use link sent by email — `reset` (choose a new password) or
    `unlock` (this browser may sign in although the account's attempts are used up) —
    stored as a hash, valid until expires_at."""
    __tablename__ = "sign_in_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
