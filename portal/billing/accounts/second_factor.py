"""Issue 31: the second factor — a TOTP authenticator (RFC 6238, 30-second steps, six
digits) and ten single-use recovery codes — and who must have one.

The key is kept encrypted (Fernet, with a key derived from the application's
SECRET_KEY: rotating SECRET_KEY means everyone sets up their authenticator again, or
`flask users reset-mfa`); it is never logged or audited. Recovery codes are kept as
SHA-256 hashes (each has about 49 random bits: no slow hash is needed). A code is
accepted once: the step of the last one accepted is kept (totp_last_step)."""
from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timezone

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from portal.billing.accounts.notify import audit
from portal.billing.clock import Clock
from portal.models import RecoveryCode, Role, RoleAssignment, User

# Roles that can pay or manage roles (R02, R14, R19): a second factor is required of
# them where the provider switches it on (REQUIRE_SECOND_FACTOR); readers and
# pay-as-you-go users who may not settle choose.
REQUIRED_FOR = (Role.ACCOUNT_ADMIN, Role.OWNER, Role.CONTRIBUTOR, Role.INVOICE_MANAGER)
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed again


def _fernet(secret_key: str) -> Fernet:
    derived = hashlib.sha256(b"portal-totp-key:" + secret_key.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def key_of(user: User, secret_key: str) -> str | None:
    """The person's TOTP key (base32), decrypted; None without one (or unreadable)."""
    if not user.totp_secret:
        return None
    try:
        return _fernet(secret_key).decrypt(user.totp_secret.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        return None


def has_second_factor(user: User) -> bool:
    return user.totp_enabled_at is not None


def required_for(session: Session, user: User) -> bool:
    """Whether the person holds a role that can pay or manage roles."""
    return session.scalar(select(func.count()).select_from(RoleAssignment).where(
        RoleAssignment.user_id == user.id, RoleAssignment.role.in_(REQUIRED_FOR))) > 0


def begin_setup(session: Session, user: User, secret_key: str) -> str:
    """A new key waiting to be confirmed (the one waiting already, if any): kept
    encrypted on the person, never in the session cookie. Not for someone who has a
    second factor on (reset it first)."""
    if has_second_factor(user):
        raise ValueError("the second factor is already on")
    key = key_of(user, secret_key)
    if key is None:
        key = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
        user.totp_secret = _fernet(secret_key).encrypt(key.encode("ascii")).decode("ascii")
        session.commit()
    return key


def provisioning_uri(key: str, email: str, issuer: str) -> str:
    return pyotp.TOTP(key).provisioning_uri(name=email, issuer_name=issuer)


def _normalised(code: str) -> str:
    return "".join(code.split()).replace("-", "")


def _step_accepted(session: Session, clock: Clock, user: User, code: str, secret_key: str) -> bool:
    """The code is the key's at this step or the one before or after (a clock a little
    off), and later than the last code accepted; that step is recorded at once, so
    the same code (or an earlier one) never works twice, not even in a race."""
    code = _normalised(code)
    key = key_of(user, secret_key)
    if key is None or len(code) != 6 or not (code.isascii() and code.isdigit()):
        return False
    totp = pyotp.TOTP(key)
    now = clock.now()
    now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            taken = session.execute(update(User).where(
                User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                .values(totp_last_step=step)).rowcount
            session.commit()
            session.refresh(user)
            return taken == 1
    return False


def verify_code(session: Session, clock: Clock, user: User, code: str, secret_key: str) -> bool:
    """A code from the person's authenticator (second factor on)."""
    return has_second_factor(user) and _step_accepted(session, clock, user, code, secret_key)


def _hash(code: str) -> str:
    return hashlib.sha256(_normalised(code).lower().encode("utf-8", "replace")).hexdigest()


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Ten new codes (the old ones stop working), to be shown once."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _n in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _c in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=_hash(raw)))
    return codes


def enable(session: Session, clock: Clock, user: User, code: str, secret_key: str) -> list[str] | None:
    """Turn the second factor on with a code made with the waiting key: the recovery
    codes to show once; None if the code is not right."""
    if has_second_factor(user) or not _step_accepted(session, clock, user, code, secret_key):
        return None
    user.totp_enabled_at = clock.now()
    codes = new_recovery_codes(session, user)
    audit(session, clock, "second_factor.enabled", account_id=None, actor=user)
    session.commit()
    return codes


def use_recovery_code(session: Session, clock: Clock, user: User, code: str) -> bool:
    """A recovery code not used before; it is used up now."""
    if not has_second_factor(user) or not 8 <= len(_normalised(code)) <= 20:
        return False
    used = session.execute(update(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code), RecoveryCode.used_at.is_(None))
        .values(used_at=clock.now())).rowcount
    session.commit()
    return used == 1


def recovery_codes_left(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


def forget_browsers(session: Session, user: User) -> None:
    """Every "remember this browser" cookie of the person stops skipping the code."""
    session.execute(update(User).where(User.id == user.id).values(factor_generation=User.factor_generation + 1))
    session.commit()
    session.refresh(user)


def reset(session: Session, clock: Clock, user: User, actor: User | None = None, how: str = "provider") -> None:
    """The second factor off: key, recovery codes and remembered browsers gone
    (`flask users reset-mfa`, or the person turning an optional one off). Audited."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.execute(update(User).where(User.id == user.id).values(
        totp_secret=None, totp_enabled_at=None, totp_last_step=None,
        factor_generation=User.factor_generation + 1))
    audit(session, clock, "second_factor.reset", account_id=None, actor=actor, user_id=user.id, how=how)
    session.commit()
    session.refresh(user)
