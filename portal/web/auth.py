"""Sign-in and sign-out (Flask-Login; hashed passwords; a fresh session at sign-in),
and what the second factor's pages share with it (issue 31): the password step that
hands over to the code, "remember this browser", and set-up before anything else for
whoever must have a second factor."""
from __future__ import annotations

import secrets
from datetime import timezone

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from portal.billing.accounts import second_factor
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
        user = check_password(form.email.data, form.password.data)
        if user is not None:
            if second_factor.has_second_factor(user) and not remembered(user):
                return ask_for_code(user, request.args.get("next"))
            return finish_sign_in(user, request.args.get("next"))
        form.email.errors.append(_("The email address or password is not right"))
    status = 422 if form.errors else 200
    return render("auth/sign_in.html", form=form, status=status)


def check_password(email: str, password: str) -> User | None:
    """The person whose password this is; as long to answer for an unknown address."""
    user = db.session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()
    valid = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    return user if user is not None and valid else None


PENDING_MINUTES = 10  # between the password and the code


def ask_for_code(user: User, target: str | None):
    """The password was right: the code next. The session names the person only as
    someone who still owes a code (not signed in)."""
    session.clear()
    session["pending"] = {"u": user.id, "g": user.session_generation or 0, "at": _now(),
                          "next": safe_next(target) or ""}
    return redirect(url_for("second_factor.code"), code=303)


def pending_user() -> User | None:
    """Who gave the right password in this session a few minutes ago, if anyone."""
    pending = session.get("pending")
    if not isinstance(pending, dict) or _now() - int(pending.get("at", 0)) > PENDING_MINUTES * 60:
        return None
    user = db.session.get(User, int(pending.get("u", 0)))
    return user if user is not None and (user.session_generation or 0) == pending.get("g") else None


def finish_sign_in(user: User, target: str | None, *, factor: bool = False, remember: bool = False):
    """Signed in: a new session (nothing carried over: fixation), on to `target`.
    `factor`: a second factor was just given (step-up counts from now)."""
    session.clear()
    login_user(user)
    session["signed_in_at"] = session["seen_at"] = _now()
    if factor:
        session["factor_at"] = _now()
    elif current_app.config["REQUIRE_SECOND_FACTOR"] and not second_factor.has_second_factor(user) \
            and second_factor.required_for(db.session, user):
        session["enrol"] = True  # issue 31: set one up before anything else
    # Issue 20 item 5: on into the language the person chose in My settings, from
    # whichever language the sign-in page was read in; the `lang` cookie follows.
    # Swedish, the default, is what everyone has until they choose: it does not
    # move someone who is reading in English.
    own = user.locale if getattr(g, "lang", None) in SUPPORTED_LOCALES else None
    if own not in SUPPORTED_LOCALES or own == DEFAULT_LOCALE:
        own = None
    if own is not None:
        answer_in(own)
    target = safe_next(target)
    if target and own is not None:
        target = path_in(target, own)
    response = redirect(target or url_for("pages.home"), code=303)
    # This browser may keep signing in while strangers are throttled (ratelimit.py).
    response.set_cookie(ratelimit.DEVICE_COOKIE, ratelimit.device_cookie_for(user.email),
                        max_age=ratelimit.DEVICE_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    if remember:
        response.set_cookie(REMEMBER_COOKIE, _remember_serializer().dumps(
            {"u": user.id, "g": user.factor_generation or 0}),
            max_age=current_app.config["REMEMBER_BROWSER_DAYS"] * 86400, httponly=True, samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


# "Remember this browser for 30 days" (issue 31): signed, naming the person and the
# generation of their second factor — resetting the factor or the password (or
# "forget remembered browsers") raises it, and every such cookie stops working.
REMEMBER_COOKIE = "remembered"


def _remember_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="remember-browser")


def remembered(user: User) -> bool:
    raw = request.cookies.get(REMEMBER_COOKIE)
    if not raw:
        return False
    try:
        data = _remember_serializer().loads(raw, max_age=current_app.config["REMEMBER_BROWSER_DAYS"] * 86400)
    except BadSignature:
        return False
    return isinstance(data, dict) and data.get("u") == user.id and data.get("g") == (user.factor_generation or 0)


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


# Open to someone who must set up a second factor first (REQUIRE_SECOND_FACTOR).
_OPEN_BEFORE_ENROLMENT = ("second_factor.setup", "auth.sign_out", "static")


def _enrol_first():
    if not session.get("enrol") or request.endpoint is None or request.endpoint in _OPEN_BEFORE_ENROLMENT \
            or request.endpoint.startswith(("assets.", "health.")):
        return None
    if not current_user.is_authenticated:
        return None
    return redirect(url_for("second_factor.setup", lang=getattr(g, "lang", None) or "sv",
                            next=safe_next(request.full_path.rstrip("?")) or None), code=303)


def init_app(app: Flask) -> None:
    app.before_request(_session_expired)
    app.before_request(_enrol_first)
    login_manager.session_protection = "strong"
