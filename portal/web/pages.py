"""The start page: where a signed-in user picks an account."""
from __future__ import annotations

from flask import redirect, url_for
from flask_login import current_user

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
