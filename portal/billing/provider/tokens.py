"""API tokens (issue 32): a random secret printed once; the database keeps only its
SHA-256 digest, so a copy of the database names no working token."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing.clock import Clock
from portal.billing.transaction import write_transaction
from portal.errors import NotFound, Refused
from portal.models import ApiToken

SCOPES = ("read", "write")
PREFIX = "ptk_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create_token(session: Session, clock: Clock, name: str, scope: str) -> tuple[str, ApiToken]:
    """(the token, its row): the token itself is never stored."""
    name = " ".join(name.split())
    if scope not in SCOPES:
        raise Refused("unknown_scope", f"scope must be one of {', '.join(SCOPES)}")
    if not name or len(name) > 100:
        raise Refused("invalid_name", "a name of 1 to 100 characters")
    token = PREFIX + secrets.token_urlsafe(32)
    with write_transaction(session):
        if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise Refused("name_taken", f"a token named {name!r} exists", status=409)
        row = ApiToken(name=name, scope=scope, token_hash=digest(token), created_at=clock.now())
        session.add(row)
    return token, row


def authenticate(session: Session, token: str) -> ApiToken | None:
    """The live token this secret is, or None (unknown or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    return row if row is not None and row.revoked_at is None else None


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(session: Session, clock: Clock, name: str) -> ApiToken:
    with write_transaction(session):
        row = session.scalar(select(ApiToken).where(ApiToken.name == name))
        if row is None:
            raise NotFound(name)
        if row.revoked_at is None:
            row.revoked_at = clock.now()
    return row
