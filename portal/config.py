"""Configuration from the environment, with safe defaults for development.

Every setting is listed in the README's configuration table.
"""
from __future__ import annotations

import os
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


class ConfigError(RuntimeError):
    pass


def _env_number(env, name: str, default, kind=int, what: str = "a whole number"):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return kind(raw)
    except ValueError as exc:  # fail at start-up, not at the first request
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from exc


def _env_int(env, name: str, default: int) -> int:
    return _env_number(env, name, default)


def _env_days(env, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        days = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True))
    except ValueError as exc:
        raise ConfigError(f"{name} must be whole numbers separated by commas, got {raw!r}") from exc
    if any(d <= 0 for d in days):
        raise ConfigError(f"{name} must be positive numbers of days, got {raw!r}")
    return days


def _choice(env, name: str, choices: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _plans(raw: str) -> tuple[tuple[str, int], ...]:
    """SUBSCRIPTION_PLANS: "name=monthly price, …" → ((name, price in minor units), …).
    A subscription is on the plan whose price it has, so names and prices are unique."""
    plans: list[tuple[str, int]] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, _sep, price = (x.strip() for x in part.partition("="))
        try:
            minor = int(Decimal(price) * 100)
        except (InvalidOperation, ValueError, OverflowError):
            minor = -1
        if not name or minor <= 0 or Decimal(price) * 100 != minor:
            raise ConfigError(f"SUBSCRIPTION_PLANS must be name=monthly price pairs separated by commas, "
                              f"got {part!r}")
        plans.append((name, minor))
    if len({n for n, _ in plans}) < len(plans) or len({m for _, m in plans}) < len(plans):
        raise ConfigError(f"SUBSCRIPTION_PLANS must name each plan and price once, got {raw!r}")
    return tuple(plans)


def _base_url(raw: str | None) -> str:
    url = (raw or "http://127.0.0.1:5000").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"PORTAL_BASE_URL must be an absolute http(s) URL, got {raw!r}")
    return url


def _mail(env, portal_env: str) -> dict:
    """Outgoing email (portal/mail/): `file` writes .eml files, `smtp` sends."""
    backend = _choice(env, "MAIL_BACKEND", ("file", "smtp"),
                      "file" if portal_env == "development" else "smtp")
    security = _choice(env, "MAIL_SMTP_SECURITY", ("starttls", "ssl", "none"), "starttls")
    return {
        "MAIL_BACKEND": backend,
        "MAIL_DIR": env.get("MAIL_DIR") or str(INSTANCE / "mail"),
        "MAIL_FROM": env.get("MAIL_FROM", "billing@example.com"),
        "MAIL_REPLY_TO": env.get("MAIL_REPLY_TO") or None,
        "MAIL_SMTP_HOST": env.get("MAIL_SMTP_HOST", "localhost"),
        "MAIL_SMTP_PORT": _env_int(env, "MAIL_SMTP_PORT", {"starttls": 587, "ssl": 465, "none": 25}[security]),
        "MAIL_SMTP_SECURITY": security,
        "MAIL_SMTP_USERNAME": env.get("MAIL_SMTP_USERNAME") or None,
        "MAIL_SMTP_PASSWORD": env.get("MAIL_SMTP_PASSWORD") or None,
        "MAIL_SMTP_CA_FILE": env.get("MAIL_SMTP_CA_FILE") or None,
        "MAIL_SMTP_TIMEOUT": _env_int(env, "MAIL_SMTP_TIMEOUT", 30),
        "MAIL_MAX_ATTEMPTS": _env_int(env, "MAIL_MAX_ATTEMPTS", 10),
        "MAIL_RETRY_SECONDS": _env_int(env, "MAIL_RETRY_SECONDS", 300),
        "MAIL_RETRY_MAX_SECONDS": _env_int(env, "MAIL_RETRY_MAX_SECONDS", 6 * 3600),
        "MAIL_SENDING_TIMEOUT": _env_int(env, "MAIL_SENDING_TIMEOUT", 900),
    }


def _env_float(env, name: str, default: float) -> float:
    return _env_number(env, name, default, float, "a number")


SANDBOX_FAULTS = ("timeout", "after_charge", "before_charge")


def _sandbox_fault(env) -> str | None:
    raw = (env.get("SANDBOX_GATEWAY_FAULT") or "").strip().lower()
    if raw in ("", "none"):
        return None
    if raw not in SANDBOX_FAULTS:
        raise ConfigError(f"SANDBOX_GATEWAY_FAULT must be one of {', '.join(SANDBOX_FAULTS)}, got {raw!r}")
    return raw


def _timezone(raw: str | None) -> str:
    """M7: days are counted in this zone; a name that is not a zone fails at start-up."""
    name = (raw or "").strip() or "Europe/Stockholm"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"PORTAL_TIMEZONE must be a time zone like Europe/Stockholm, got {raw!r}") from exc
    return name


def _pinned_today(env, portal_env: str):
    """PORTAL_TODAY=YYYY-MM-DD pins the calendar day of a server whose PORTAL_ENV is
    `development` or `test` (production-like, for the live-server tests); refused
    anywhere else, so a production portal always counts real days."""
    raw = (env.get("PORTAL_TODAY") or "").strip()
    if not raw:
        return None
    if portal_env not in ("development", "test"):
        raise ConfigError("PORTAL_TODAY is only for PORTAL_ENV=development or test")
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ConfigError(f"PORTAL_TODAY must be a date like 2026-11-25, got {raw!r}") from exc


def _database_url(raw: str | None) -> str:
    if not raw:
        return f"sqlite:///{INSTANCE / 'portal.sqlite'}"
    # Heroku-style URLs; psycopg 3 is the driver we install.
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


def from_environment(environ: dict[str, str] | None = None) -> dict:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if environ is None else environ
    portal_env = env.get("PORTAL_ENV", "development")
    secret = env.get("SECRET_KEY")
    if not secret:
        if portal_env != "development":
            raise ConfigError("SECRET_KEY must be set when PORTAL_ENV is not 'development'")
        secret = "dev-only-not-secret"
    database_url = _database_url(env.get("DATABASE_URL"))
    return {
        "PORTAL_ENV": portal_env,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # The sandbox gateway keeps its own ledger, as a real processor would.
        "SANDBOX_GATEWAY_URL": env.get("SANDBOX_GATEWAY_URL")
        or (f"sqlite:///{INSTANCE / 'sandbox-gateway.sqlite'}"
            if database_url.startswith("sqlite") else database_url),
        # Sandbox faults (README: "Sandbox faults"): make every charge fail that way.
        "SANDBOX_GATEWAY_FAULT": _sandbox_fault(env),
        "SANDBOX_GATEWAY_TIMEOUT_SECONDS": _env_float(env, "SANDBOX_GATEWAY_TIMEOUT_SECONDS", 10.0),
        "SANDBOX_GATEWAY_LATENCY_MS": _env_int(env, "SANDBOX_GATEWAY_LATENCY_MS", 0),
        "PROVIDER_NAME": env.get("PROVIDER_NAME", "Contoso Cloud"),
        # Where anyone, signed in or not, reports an accessibility problem (the statement).
        "ACCESSIBILITY_EMAIL": env.get("ACCESSIBILITY_EMAIL", "accessibility@example.com"),
        # R12: days a subscription may stay past due before it is disabled.
        "GRACE_PERIOD_DAYS": _env_int(env, "GRACE_PERIOD_DAYS", 30),
        # R12: days after disabling before the subscription's data is deleted.
        "DELETION_AFTER_DAYS": _env_int(env, "DELETION_AFTER_DAYS", 90),
        "INVOICE_DUE_DAYS": _env_int(env, "INVOICE_DUE_DAYS", 30),
        # Issue 33: may customers cancel a subscription at the end of its period on its
        # page ("1", the default) or only through the provider ("0")?
        "SUBSCRIPTION_CANCEL": env.get("SUBSCRIPTION_CANCEL", "1") == "1",
        # Issue 33: may customers change a subscription's plan on its page ("1") or only
        # through the provider ("0", the default)? The plans they choose from, each a
        # name and its monthly price in the billing currency: "Bas=290,Standard=590".
        "SUBSCRIPTION_PLAN_CHANGES": env.get("SUBSCRIPTION_PLAN_CHANGES", "0") == "1",
        "SUBSCRIPTION_PLANS": _plans(env.get("SUBSCRIPTION_PLANS", "")),
        # B21: may customers pause (and resume) a subscription on its page ("1") or not
        # ("0", the default: a pause stops services without R12's countdown, which the
        # provider must agree to)?
        "SUBSCRIPTION_PAUSE": env.get("SUBSCRIPTION_PAUSE", "0") == "1",
        # R12: "will be disabled on …" warnings this many days before (e.g. "7,1").
        "DISABLE_WARNING_DAYS": _env_days(env, "DISABLE_WARNING_DAYS", (7, 1)),
        # Links in emails are absolute: where people reach the portal (B1).
        "PORTAL_BASE_URL": _base_url(env.get("PORTAL_BASE_URL")),
        **_mail(env, portal_env),
        # Issued documents (portal/document_store.py): kept in the database, or as
        # files under DOCUMENT_DIRECTORY.
        "DOCUMENT_STORE": _choice(env, "DOCUMENT_STORE", ("database", "directory"), "database"),
        "DOCUMENT_DIRECTORY": env.get("DOCUMENT_DIRECTORY") or str(INSTANCE / "documents"),
        "BILLING_CURRENCY": env.get("BILLING_CURRENCY", "SEK"),
        # Remittance details printed on invoices (R03, R17).
        "REMITTANCE_BANKGIRO": env.get("REMITTANCE_BANKGIRO", "5050-1055"),
        "REMITTANCE_IBAN": env.get("REMITTANCE_IBAN", "SE4550000000058398257466"),
        "REMITTANCE_BIC": env.get("REMITTANCE_BIC", "ESSESESS"),
        # Issue 34: Bankgirot's customer number for Autogiro (six digits, in every file's opening).
        "AUTOGIRO_CUSTOMER_NUMBER": env.get("AUTOGIRO_CUSTOMER_NUMBER", "123456"),
        # Who issues the invoices (portal/billing/seller.py); example values.
        "SELLER_NAME": env.get("SELLER_NAME", "Contoso Cloud AB"),
        "SELLER_STREET": env.get("SELLER_STREET", "Box 1234"),
        "SELLER_POSTCODE": env.get("SELLER_POSTCODE", "111 22"),
        "SELLER_CITY": env.get("SELLER_CITY", "Stockholm"),
        "SELLER_ORGNR": env.get("SELLER_ORGNR", "556677-8899"),
        "SELLER_VAT_NUMBER": env.get("SELLER_VAT_NUMBER", "SE556677889901"),
        "SELLER_F_TAX": env.get("SELLER_F_TAX", "1"),
        "SELLER_EMAIL": env.get("SELLER_EMAIL", "faktura@contoso.example"),
        "SELLER_REGISTERED_OFFICE": env.get("SELLER_REGISTERED_OFFICE", "Stockholm"),
        # bench/: the baseline page and the X-SQL-Queries header (never in production).
        "BENCHMARK": env.get("PORTAL_BENCHMARK", "") == "1",
        "BABEL_DEFAULT_LOCALE": "sv",
        # /en-XA/… pseudo-translates every message (portal/pseudo.py): for finding
        # text that skipped the catalogs. Development and tests only.
        "PSEUDO_LOCALE": env.get("PSEUDO_LOCALE", "1" if portal_env == "development" else "0") == "1",
        "BABEL_DEFAULT_TIMEZONE": _timezone(env.get("PORTAL_TIMEZONE")),
        # M7: a development or test server's calendar day, pinned (None: the real day).
        "PINNED_TODAY": _pinned_today(env, portal_env),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": portal_env != "development",
        "REMEMBER_COOKIE_SECURE": portal_env != "development",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # No form is larger than a few kilobytes; refuse anything bigger (413).
        "MAX_CONTENT_LENGTH": 64 * 1024,
        # Sign-in rate limits (Flask-Limiter), counted in the database by default so
        # that every worker and instance counts together (portal/web/ratelimit.py).
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or "portal-db://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Issue 32: each API token's calls (Flask-Limiter syntax), counted in the database.
        "API_RATE_LIMIT": env.get("API_RATE_LIMIT", "600 per minute"),
        "SIGN_IN_LIMIT_PER_ACCOUNT": env.get("SIGN_IN_LIMIT_PER_ACCOUNT", "5 per 15 minutes"),
        "SIGN_IN_LIMIT_PER_ADDRESS": env.get("SIGN_IN_LIMIT_PER_ADDRESS", "20 per 15 minutes"),
        # Number of reverse proxies in front of the portal whose X-Forwarded-For and
        # X-Forwarded-Proto are trusted (the per-address limit needs the client's IP).
        "TRUSTED_PROXIES": _env_int(env, "TRUSTED_PROXIES", 0),
        # A signed-in session ends after this long without a request, and this long
        # after signing in whatever happens (the sign-in page says so).
        "SESSION_IDLE_MINUTES": _env_int(env, "SESSION_IDLE_MINUTES", 30),
        "SESSION_MAX_HOURS": _env_int(env, "SESSION_MAX_HOURS", 12),
        # Issue 31: a second factor (TOTP) for everyone who can pay or manage roles —
        # on by default, off in development (the demo people sign in with a password).
        "REQUIRE_SECOND_FACTOR": env.get("REQUIRE_SECOND_FACTOR",
                                         "0" if portal_env == "development" else "1") == "1",
        # Wrong codes (authenticator or recovery) one person may type per window.
        "SECOND_FACTOR_LIMIT": env.get("SECOND_FACTOR_LIMIT", "10 per 15 minutes"),
        # Adding a card (and changing roles) asks for the code again after this long.
        "STEP_UP_MINUTES": _env_int(env, "STEP_UP_MINUTES", 15),
        # "Remember this browser": how long a browser skips the code.
        "REMEMBER_BROWSER_DAYS": _env_int(env, "REMEMBER_BROWSER_DAYS", 30),
    }


def for_tests(tmp_dir: Path, **overrides) -> dict:
    """Config for the test suite: a real SQLite file per test, its own ledger."""
    config = from_environment({"PORTAL_ENV": "development", **{
        k: v for k, v in os.environ.items() if k in ("DATABASE_URL",)}})
    config.update(
        TESTING=True,
        SECRET_KEY="test-secret",
        SQLALCHEMY_DATABASE_URI=config["SQLALCHEMY_DATABASE_URI"]
        if os.environ.get("DATABASE_URL") else f"sqlite:///{tmp_dir / 'portal.sqlite'}",
        SANDBOX_GATEWAY_URL=f"sqlite:///{tmp_dir / 'sandbox-gateway.sqlite'}",
        MAIL_BACKEND="file",
        MAIL_DIR=str(tmp_dir / "mail"),
    )
    config.update(overrides)
    return config


def engine_options(database_uri: str) -> dict[str, Any]:
    """SQLAlchemy's engine options for the database the app really uses (a test may
    swap the address after the environment was read). PostgreSQL without JIT: it
    compiled statements whose estimate is high (a reseller's settlement's, over
    100,000 rows) for 0.2–0.5 s each, more than they took to run (issue 28;
    docs/money-across-flows.md)."""
    return {"connect_args": {"options": "-c jit=off"}} if database_uri.startswith("postgresql") else {}
