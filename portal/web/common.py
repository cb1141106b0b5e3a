"""Small helpers the blueprints share."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.routing import IntegerConverter

from portal.billing.accounts import access
from portal.billing.ids import MAX_ID
from portal.services import billing


class DatabaseId(IntegerConverter):
    """`<int:…>` in every route: ASCII digits, 1 … MAX_ID, without leading zeros (one
    id, one address: /accounts/01/ is not account 1), else the route does not match
    (404) — a larger number is no id, never a database error."""

    regex = r"[1-9][0-9]*"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def lang_blueprint(name: str) -> Blueprint:
    """Every page lives under /sv/… or /en/…."""
    return Blueprint(name, __name__, url_prefix="/<lang:lang>")


def signed_in_blueprint(name: str) -> Blueprint:
    bp = lang_blueprint(name)

    @bp.before_request
    @login_required
    def _require_sign_in():
        return None

    return bp


def user():
    return current_user._get_current_object()


def account_for(account_id: int, profiles: bool = False):
    return access.get_account(billing().session, user(), account_id, profiles)


def safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def see_other(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), code=303)


def page_arg(name: str = "page") -> str | None:
    """?page=… of a paginated list: the page's key as the link gave it (the list's
    Keyset.parse checks it; anything unusable is the first page), or None."""
    raw = request.args.get(name, "")
    return raw if 0 < len(raw) <= 100 else None
