"""Configuration from the environment, with safe defaults for development.

Every setting is listed in the README's configuration table.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


class ConfigError(RuntimeError):
    pass


def _env_int(env, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:  # fail at start-up, not at the first request
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


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
        "PROVIDER_NAME": env.get("PROVIDER_NAME", "Contoso Cloud"),
        # Where anyone, signed in or not, reports an accessibility problem (the statement).
        "ACCESSIBILITY_EMAIL": env.get("ACCESSIBILITY_EMAIL", "accessibility@example.com"),
        # R12: days a subscription may stay past due before it is disabled.
        "GRACE_PERIOD_DAYS": _env_int(env, "GRACE_PERIOD_DAYS", 30),
        # R12: days after disabling before the subscription's data is deleted.
        "DELETION_AFTER_DAYS": _env_int(env, "DELETION_AFTER_DAYS", 90),
        "INVOICE_DUE_DAYS": _env_int(env, "INVOICE_DUE_DAYS", 30),
        "BILLING_CURRENCY": env.get("BILLING_CURRENCY", "SEK"),
        # Remittance details printed on invoices (R03, R17).
        "REMITTANCE_BANKGIRO": env.get("REMITTANCE_BANKGIRO", "5050-1055"),
        "REMITTANCE_IBAN": env.get("REMITTANCE_IBAN", "SE4550000000058398257466"),
        "REMITTANCE_BIC": env.get("REMITTANCE_BIC", "ESSESESS"),
        "BABEL_DEFAULT_LOCALE": "sv",
        "BABEL_DEFAULT_TIMEZONE": env.get("PORTAL_TIMEZONE", "Europe/Stockholm"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": portal_env != "development",
        "REMEMBER_COOKIE_SECURE": portal_env != "development",
        "REMEMBER_COOKIE_HTTPONLY": True,
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
    )
    config.update(overrides)
    return config
