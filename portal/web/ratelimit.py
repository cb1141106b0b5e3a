"""Sign-in rate limits: Flask-Limiter, with its counters in the portal's own database.

Why the database: counters in memory are per process, so with several gunicorn
workers — or several machines — each would count alone and the limit would multiply.
No Redis or memcached is part of this deployment, while every instance already
shares the database (SQLite for one machine, PostgreSQL for several): a fixed-window
counter is one upsert there. `RATELIMIT_STORAGE_URI` may point elsewhere (for
example `redis://…`), any storage the `limits` package knows.
"""
from __future__ import annotations

import hashlib
import secrets

from flask import Flask, Response, current_app, request
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse
from limits.storage import Storage
from sqlalchemy import case, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from portal.billing.clock import epoch_seconds
from portal.extensions import db, limiter
from portal.models import RateLimitCounter

SCHEME = "portal-db"


class DatabaseStorage(Storage):
    """A `limits` storage (fixed-window strategy) in the `rate_limits` table, used
    through the portal's engine; registered for `portal-db://`."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    @staticmethod
    def _engine():
        return db.engine  # the current app's: limits are checked inside requests

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = epoch_seconds()
        table = RateLimitCounter.__table__
        engine = self._engine()
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        expired = table.c.expires_at <= now
        upsert = dialect.insert(table).values(key=key, count=amount, expires_at=now + expiry)
        upsert = upsert.on_conflict_do_update(index_elements=[table.c.key], set_={
            "count": case((expired, amount), else_=table.c.count + amount),
            "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
        }).returning(table.c.count)
        with engine.begin() as conn:  # one statement: workers never lose an increment
            return int(conn.execute(upsert).scalar_one())

    def get(self, key: str) -> int:
        table = RateLimitCounter.__table__
        with self._engine().connect() as conn:
            count = conn.execute(select(table.c.count).where(
                table.c.key == key, table.c.expires_at > epoch_seconds())).scalar()
        return int(count or 0)

    def get_expiry(self, key: str) -> float:
        table = RateLimitCounter.__table__
        with self._engine().connect() as conn:
            expires = conn.execute(select(table.c.expires_at).where(table.c.key == key)).scalar()
        return float(expires) if expires is not None else epoch_seconds()

    def check(self) -> bool:
        try:
            with self._engine().connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self._engine().begin() as conn:
            return conn.execute(delete(RateLimitCounter.__table__)).rowcount

    def clear(self, key: str) -> None:
        table = RateLimitCounter.__table__
        with self._engine().begin() as conn:
            conn.execute(delete(table).where(table.c.key == key))


def init_app(app: Flask) -> None:
    """Bind the limiter; importing this module has registered `portal-db://`."""
    limiter.init_app(app)


DEVICE_COOKIE = "device"
DEVICE_COOKIE_DAYS = 365


def _email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="sign-in-device")


def device_cookie_for(email: str) -> str:
    """OWASP's device cookie: this browser signed in as `email` before. Signed, and
    naming the account only by a digest."""
    return _device_serializer().dumps({"a": _email_digest(email), "n": secrets.token_hex(8)})


def _trusted_device(email: str) -> str | None:
    """The nonce of a valid device cookie for this email, if the browser sent one."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = _device_serializer().loads(raw, max_age=DEVICE_COOKIE_DAYS * 86400)
    except BadSignature:
        return None
    return data.get("n") if isinstance(data, dict) and data.get("a") == _email_digest(email) else None


def account_key() -> str:
    """Per account: the address typed, normalised and hashed (a key of fixed length
    that keeps no email address in the counters). A browser that has signed in to
    this account before (its device cookie) counts its failures apart, so strangers
    who exhaust the account's attempts lock out only strangers (OWASP's device-cookie
    pattern)."""
    email = request.form.get("email") or ""
    key = "account:" + _email_digest(email)
    device = _trusted_device(email)
    return f"{key}:device:{device}" if device else key


def address_key() -> str:
    """Per address: the client's IP (behind a proxy, see TRUSTED_PROXIES)."""
    return "address:" + get_remote_address()


def failed_sign_in(response: Response) -> bool:
    """Only failed attempts count: a successful sign-in redirects (303)."""
    return response.status_code != 303


def per_account_limit() -> str:
    return current_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"]


def per_address_limit() -> str:
    return current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"]


# Issue 31: wrong second-factor codes, counted per person. Only someone who knew the
# password reaches a code, so a stranger never spends the owner's attempts.
def _code_limit():
    return parse(current_app.config["SECOND_FACTOR_LIMIT"])


def codes_left(user_id: int) -> bool:
    return limiter.limiter.test(_code_limit(), "second-factor", str(user_id))


def count_wrong_code(user_id: int) -> None:
    limiter.limiter.hit(_code_limit(), "second-factor", str(user_id))


def breached_for_account() -> bool:
    """Whether the limit that refused this request is an account's (not an address's):
    then the owner still has two ways in (portal/web/auth.py, locked)."""
    breached = limiter.current_limit
    return breached is not None and "account:" in breached.key
