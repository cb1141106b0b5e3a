"""The start page: where a signed-in user picks an account."""
from __future__ import annotations

from flask import abort, current_app, redirect, url_for
from flask_login import current_user, login_required

from portal.billing import access
from portal.web.common import lang_blueprint, user
from portal.web.deps import billing
from portal.web.rendering import render

bp = lang_blueprint("pages")


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    accounts = access.accounts_of(billing().session, user())
    if len(accounts) == 1:
        return redirect(url_for("overview.show", account_id=accounts[0].id))
    return render("pages/home.html", accounts=accounts)


@bp.get("/benchmark/baseline")
@login_required
def baseline():
    """bench/'s yardstick: the same base layout, signed in, with no billing data.
    Only with BENCHMARK on (PORTAL_BENCHMARK=1); otherwise not found."""
    if not current_app.config.get("BENCHMARK"):
        abort(404)
    return render("pages/baseline.html")
