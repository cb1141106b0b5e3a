"""Issue 31: the pages of the links sent by email — forgot password (one answer for
every address), choose a new password, and unlock sign-in for this browser when the
account's attempts are used up. Each link is asked about on a page with a button
before it acts, so a mail scanner that opens links uses none up."""
from __future__ import annotations

from flask import current_app, flash, g, request
from flask_babel import gettext as _
from werkzeug.security import generate_password_hash

from portal.billing.accounts import sign_in_links as links
from portal.extensions import db, limiter
from portal.forms import EmailForm, NewPasswordForm
from portal.services import clock
from portal.web import ratelimit
from portal.web.common import lang_blueprint, see_other
from portal.web.rendering import render

bp = lang_blueprint("sign_in_links")


def _always(_response) -> bool:
    return True


def _send(purpose: str, email: str) -> None:
    links.send_link(db.session, clock(), current_app.config["SECRET_KEY"], email, purpose,
                    getattr(g, "lang", None) or "sv")


# Rate-limited like sign-in (every request counts: each may send an email).
@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(ratelimit.per_address_limit, key_func=ratelimit.address_key, methods=["POST"],
               deduct_when=_always, scope="password-link")
@limiter.limit(ratelimit.per_account_limit, key_func=ratelimit.account_key, methods=["POST"],
               deduct_when=_always, scope="password-link")
def forgot_password():
    form = EmailForm()
    if form.validate_on_submit():
        _send(links.RESET, form.email.data)
        return see_other("sign_in_links.email_sent")
    return render("auth/forgot_password.html", form=form, status=422 if form.errors else 200)


@bp.post("/sign-in/unlock")
@limiter.limit(ratelimit.per_address_limit, key_func=ratelimit.address_key,
               deduct_when=_always, scope="password-link")
@limiter.limit(ratelimit.per_account_limit, key_func=ratelimit.account_key,
               deduct_when=_always, scope="password-link")
def send_unlock():
    form = EmailForm()
    if form.validate_on_submit():
        _send(links.UNLOCK, form.email.data)
    return see_other("sign_in_links.email_sent")


@bp.get("/email-sent")
def email_sent():
    return render("auth/email_sent.html")


def _link_not_valid():
    return render("auth/link_not_valid.html", status=410)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        person = links.holder(db.session, clock(), token, links.RESET)
    except links.LinkNotValid:
        return _link_not_valid()
    form = NewPasswordForm()
    if form.validate_on_submit():
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        try:
            links.reset_password(db.session, clock(), token, generate_password_hash(form.password.data, method))
        except links.LinkNotValid:
            return _link_not_valid()
        flash(_("Your password has been changed, and you have been signed out everywhere. Sign in with "
                "your new password."), "success")
        return see_other("auth.sign_in")
    return render("auth/reset_password.html", form=form, email=person.email, status=422 if form.errors else 200)


@bp.route("/sign-in/unlock/<token>", methods=["GET", "POST"])
def unlock(token: str):
    """The link from the email: this browser gets the account's device cookie, so the
    attempts a stranger used up no longer stop it (ratelimit.account_key)."""
    try:
        person = links.holder(db.session, clock(), token, links.UNLOCK)
    except links.LinkNotValid:
        return _link_not_valid()
    if request.method == "POST":
        try:  # (CSRFProtect has checked the form's token)
            links.use(db.session, clock(), token, links.UNLOCK)
            db.session.commit()
        except links.LinkNotValid:
            return _link_not_valid()
        flash(_("This browser may sign in again. Sign in with your password."), "success")
        response = see_other("auth.sign_in")
        response.set_cookie(ratelimit.DEVICE_COOKIE, ratelimit.device_cookie_for(person.email),
                            max_age=ratelimit.DEVICE_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
        return response
    return render("auth/unlock.html")
