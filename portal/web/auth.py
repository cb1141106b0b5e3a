"""Sign-in and sign-out (Flask-Login; hashed passwords; a fresh session at sign-in)."""
from __future__ import annotations

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from portal.extensions import db, limiter, login_manager
from portal.forms import SignInForm
from portal.models import User
from portal.web import ratelimit
from portal.web.common import lang_blueprint, safe_next
from portal.web.rendering import render

bp = lang_blueprint("auth")

# Compared against when the email is unknown, so both answers take as long.
_DUMMY_HASH = "pbkdf2:sha256:1000$salt$" + "0" * 64


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


@login_manager.unauthorized_handler
def unauthorized():
    return redirect(url_for("auth.sign_in", lang=getattr(g, "lang", None) or "sv",
                            next=request.full_path.rstrip("?")))


@bp.route("/sign-in", methods=["GET", "POST"])
# Failed attempts are limited per address and per account (429, errors.py); the
# counters are shared by every worker and instance (ratelimit.py).
@limiter.limit(ratelimit.per_address_limit, key_func=ratelimit.address_key, methods=["POST"],
               deduct_when=ratelimit.failed_sign_in, scope="sign-in")
@limiter.limit(ratelimit.per_account_limit, key_func=ratelimit.account_key, methods=["POST"],
               deduct_when=ratelimit.failed_sign_in, scope="sign-in")
def sign_in():
    form = SignInForm()
    if form.validate_on_submit():
        user = db.session.scalars(select(User).where(
            func.lower(User.email) == form.email.data.strip().lower())).first()
        valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, form.password.data)
        if user is not None and valid:
            session.clear()  # a new session at sign-in: nothing carried over (fixation)
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or url_for("pages.home"), code=303)
        form.email.errors.append(_("The email address or password is not right"))
    status = 422 if form.errors else 200
    return render("auth/sign_in.html", form=form, status=status)


@bp.post("/sign-out")
def sign_out():
    logout_user()
    session.clear()
    flash(_l("You have signed out."), "info")
    return redirect(url_for("auth.sign_in"), code=303)


def init_app(app: Flask) -> None:
    login_manager.session_protection = "strong"
