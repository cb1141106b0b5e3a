"""The start page, where a signed-in user picks an account, and the accessibility
statement (Tillgänglighetsredogörelse), open to everyone."""
from __future__ import annotations

from datetime import date

from flask import current_app, redirect, url_for
from flask_login import current_user

from portal.billing import access
from portal.web.common import lang_blueprint, user
from portal.web.deps import billing
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


@bp.get("/accessibility")
def accessibility():
    return render("pages/accessibility.html", reviewed=STATEMENT_REVIEWED,
                  email=current_app.config["ACCESSIBILITY_EMAIL"], digg_url=DIGG_REPORT_URL)
