"""Issue 31: single-use links sent by email — choose a new password (`reset`), or let
this browser sign in although the account's attempts are used up (`unlock`) — and
setting a new password with one.

A link's token is never stored: the database keeps its SHA-256 hash, and the email's
payload a nonce from which the mail edge makes the token again with the
application's secret (`link_token`), so neither the users table nor the outbox alone
opens an account. A link works once (used_at, set by one conditional UPDATE) and for
an hour. The answer and the work are the same whether or not the address has an
account: a token is made, hashed and one outbox row written either way."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.billing.accounts.notify import audit
from portal.billing.clock import Clock
from portal.models import OutboxMessage, SignInToken, User

RESET, UNLOCK = "reset", "unlock"
LIFETIME = timedelta(hours=1)
TEMPLATES = {RESET: "password_reset", UNLOCK: "sign_in_unlock"}
UNKNOWN_TEMPLATE = "password_reset_unknown"


class LinkNotValid(Exception):
    """The link is unknown, used or expired: the page says so, never which."""


def link_token(secret_key: bytes | str, nonce: str, purpose: str = "sign-in-link") -> str:
    """The token of a link sent by email, made again from the stored nonce whenever
    the email is written (`purpose` keeps an invitation's and a reset's apart). The
    one rule for every emailed link: invitations (people.py) use it too."""
    key = secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
    return hmac.new(key, f"{purpose}:{nonce}".encode("ascii"), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """What the database keeps of a link's token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()



def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()


def send_link(session: Session, clock: Clock, secret_key: str, email: str, purpose: str, locale: str) -> None:
    """Email a link for `purpose` to the person with this address. For an unknown
    address a reset request is answered with an email saying there is no account
    here (the same work: one token, one outbox row); an unlock request with nothing.
    The email is in `locale`, the language of the page it was asked on."""
    user = user_by_email(session, email)
    nonce = secrets.token_urlsafe(32)
    digest = token_hash(link_token(secret_key, nonce))
    now = clock.now()
    if user is not None:
        session.add(SignInToken(user_id=user.id, purpose=purpose, token_hash=digest, created_at=now,
                                expires_at=now + LIFETIME))
        template, address = TEMPLATES[purpose], user.email
    elif purpose == RESET:
        template, address = UNKNOWN_TEMPLATE, email.strip()
    else:
        session.rollback()
        return
    session.add(OutboxMessage(template=template, to_address=address, locale=locale,
                              payload={"nonce": nonce} if user is not None else {},
                              message_key=secrets.token_hex(16), created_at=now))
    session.commit()


def holder(session: Session, clock: Clock, token: str, purpose: str) -> User:
    """Whose valid link this is (nothing used up: the page asks before acting)."""
    found = session.scalars(select(SignInToken).where(
        SignInToken.token_hash == token_hash(token), SignInToken.purpose == purpose,
        SignInToken.used_at.is_(None), SignInToken.expires_at > clock.now())).first()
    if found is None:
        raise LinkNotValid()
    return session.get(User, found.user_id)


def use(session: Session, clock: Clock, token: str, purpose: str) -> User:
    """Use the link up (once, even when two requests race) and name its person."""
    user = holder(session, clock, token, purpose)
    used = session.execute(update(SignInToken).where(
        SignInToken.token_hash == token_hash(token), SignInToken.used_at.is_(None))
        .values(used_at=clock.now())).rowcount
    if used != 1:
        session.rollback()
        raise LinkNotValid()
    return user


def reset_password(session: Session, clock: Clock, token: str, password_hash: str) -> User:
    """The new password (already checked by passwords.password_problem, hashed by the
    caller), with the link used up; every other session of the person ends, every
    other reset link and remembered browser stops working. Audited."""
    user = use(session, clock, token, RESET)
    session.execute(update(SignInToken).where(
        SignInToken.user_id == user.id, SignInToken.purpose == RESET, SignInToken.used_at.is_(None))
        .values(used_at=clock.now()))
    session.execute(update(User).where(User.id == user.id).values(
        password_hash=password_hash, session_generation=User.session_generation + 1,
        factor_generation=User.factor_generation + 1))
    audit(session, clock, "password.reset", account_id=None, actor=user)
    session.commit()
    session.refresh(user)
    return user
