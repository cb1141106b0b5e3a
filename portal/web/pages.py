"""The start page, where a signed-in user picks an account, and the accessibility
statement (Tillgänglighetsredogörelse), open to everyone."""
from __future__ import annotations

from datetime import date

from flask import abort, current_app, redirect, url_for
from flask_login import current_user, login_required

from portal.billing.accounts import access
from portal.web.common import lang_blueprint, user
from portal.services import billing
from portal.web.rendering import render

bp = lang_blueprint("pages")

# When the statement was last checked against the portal; change it with the text.
STATEMENT_REVIEWED = date(2026, 11, 25)
DIGG_REPORT_URL = "https://www.digg.se/tdosanmalan"


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


@bp.get("/accessibility")
def accessibility():
    return render("pages/accessibility.html", reviewed=STATEMENT_REVIEWED,
                  email=current_app.config["ACCESSIBILITY_EMAIL"], digg_url=DIGG_REPORT_URL)
