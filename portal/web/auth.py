"""Sign-in and sign-out (Flask-Login; hashed passwords; a fresh session at sign-in)."""
from __future__ import annotations

import secrets
from datetime import timezone

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from portal.extensions import db, limiter, login_manager
from portal.forms import SignInForm
from portal.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, answer_in, path_in
from portal.models import User
from portal.web import ratelimit
from portal.web.common import lang_blueprint, safe_next
from portal.services import clock
from portal.web.rendering import render

bp = lang_blueprint("auth")

# Compared against when the email is unknown, so both answers take as long: made
# once per process with the same method and cost as the real hashes.
_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASHES[method]


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The user named by the session's alternative id ("id-generation"): none when the
    generation is older than the user's (signed out since)."""
    user_id, _sep, generation = session_id.partition("-")
    if not (user_id.isascii() and user_id.isdigit() and generation.isascii() and generation.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or (user.session_generation or 0) != int(generation):
        return None
    return user


def _now() -> int:
    """Seconds since the epoch, from the application's clock (tests move it)."""
    return int(clock().now().replace(tzinfo=timezone.utc).timestamp())


def _session_expired() -> None:
    """Idle timeout and absolute lifetime (SESSION_IDLE_MINUTES, SESSION_MAX_HOURS): past
    either, the session ends and the sign-in page says so — never an error."""
    if "_user_id" not in session:
        return
    now = _now()
    config = current_app.config
    signed_in, seen = session.get("signed_in_at", now), session.get("seen_at", now)
    if now - seen > config["SESSION_IDLE_MINUTES"] * 60 or now - signed_in > config["SESSION_MAX_HOURS"] * 3600:
        logout_user()
        session.clear()
        flash(_l("You were signed out because the session ended. Sign in again to continue."), "info")
        return
    if now - seen >= 60:  # a new cookie at most once a minute
        session["seen_at"] = now


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
        valid = check_password_hash(user.password_hash if user else _dummy_hash(), form.password.data)
        if user is not None and valid:
            session.clear()  # a new session at sign-in: nothing carried over (fixation)
            login_user(user)
            session["signed_in_at"] = session["seen_at"] = _now()
            # Issue 20 item 5: on into the language the person chose in My settings, from
            # whichever language the sign-in page was read in; the `lang` cookie follows.
            # Swedish, the default, is what everyone has until they choose: it does not
            # move someone who is reading in English.
            own = user.locale if getattr(g, "lang", None) in SUPPORTED_LOCALES else None
            if own not in SUPPORTED_LOCALES or own == DEFAULT_LOCALE:
                own = None
            if own is not None:
                answer_in(own)
            target = safe_next(request.args.get("next"))
            if target and own is not None:
                target = path_in(target, own)
            response = redirect(target or url_for("pages.home"), code=303)
            # This browser may keep signing in while strangers are throttled (ratelimit.py).
            response.set_cookie(ratelimit.DEVICE_COOKIE, ratelimit.device_cookie_for(user.email),
                                max_age=ratelimit.DEVICE_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                                secure=current_app.config["SESSION_COOKIE_SECURE"])
            return response
        form.email.errors.append(_("The email address or password is not right"))
    status = 422 if form.errors else 200
    return render("auth/sign_in.html", form=form, status=status)


@bp.post("/sign-out")
def sign_out():
    """Ends this session and every copy of it: the user's session generation moves on."""
    if current_user.is_authenticated:
        db.session.execute(update(User).where(User.id == current_user.id)
                           .values(session_generation=User.session_generation + 1))
        db.session.commit()
    logout_user()
    session.clear()
    flash(_l("You have signed out."), "info")
    return redirect(url_for("auth.sign_in"), code=303)


def init_app(app: Flask) -> None:
    app.before_request(_session_expired)
    login_manager.session_protection = "strong"
