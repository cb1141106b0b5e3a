"""Issue 31: the second factor's pages — the code (or a recovery code) after the
password, password and code together when the account's attempts are used up,
setting up an authenticator (QR code and key, then ten recovery codes shown once),
the person's sign-in security page, and step-up (the code again before adding a
card or changing roles; portal/web/security.py step_up_required)."""
from __future__ import annotations

import segno
from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required

from portal.billing.accounts import second_factor as factor
from portal.extensions import db, limiter
from portal.forms import CodeForm, RecoveryCodeForm, RememberCodeForm, SignInWithCodeForm
from portal.services import clock
from portal.web import ratelimit
from portal.web.auth import _now, check_password, finish_sign_in, pending_user
from portal.web.common import lang_blueprint, safe_next, see_other, user
from portal.web.rendering import render
from portal.web.security import needs_step_up

bp = lang_blueprint("second_factor")


def _wrong_code() -> str:
    return _("The code is not right. Check that it is the newest code in your authenticator app.")


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _checked(person, form, recovery: bool = False) -> bool:
    """The code (or a recovery code) is right, with wrong ones counted per person;
    past the limit nothing is checked (429)."""
    if not ratelimit.codes_left(person.id):
        abort(429)
    ok = factor.use_recovery_code(db.session, clock(), person, form.code.data) if recovery else \
        factor.verify_code(db.session, clock(), person, form.code.data, _secret())
    if not ok:
        ratelimit.count_wrong_code(person.id)
        form.code.errors.append(_("That recovery code is not right, or it has been used.") if recovery
                                else _wrong_code())
    return ok


@bp.route("/sign-in/code", methods=["GET", "POST"])
def code():
    return _second_step(recovery=False)


@bp.route("/sign-in/recovery-code", methods=["GET", "POST"])
def recovery_code():
    return _second_step(recovery=True)


def _second_step(recovery: bool):
    person = pending_user()
    if person is None:  # no password given lately: start again
        flash(_("Sign in again to continue."), "info")
        return see_other("auth.sign_in")
    form = RecoveryCodeForm() if recovery else RememberCodeForm()
    if form.validate_on_submit() and _checked(person, form, recovery):
        target = session["pending"].get("next")
        response = finish_sign_in(person, target, factor=True, remember=bool(form.remember.data))
        if recovery:
            left = factor.recovery_codes_left(db.session, person)
            flash(_("You signed in with a recovery code. You have %(num)d left: make new ones on the Sign-in "
                    "and security page if you are running out.", num=left), "info")
        return response
    return render("auth/code.html", form=form, recovery=recovery, status=422 if form.errors else 200)


@bp.post("/sign-in/with-code")
@limiter.limit(ratelimit.per_address_limit, key_func=ratelimit.address_key,
               deduct_when=ratelimit.failed_sign_in, scope="sign-in")
def with_code():
    """Lock-out without lock-out: the account's attempts are used up (by anyone), yet
    its owner signs in with the password and a code together. Only the person's code
    attempts count when the password was right; every attempt counts for the address.
    One answer for every mistake, so nothing tells a stranger which part was right."""
    form = SignInWithCodeForm()
    if form.validate_on_submit():
        person = check_password(form.email.data, form.password.data)
        if person is not None and factor.has_second_factor(person):
            if _checked(person, form):
                return finish_sign_in(person, request.args.get("next"), factor=True)
        form.code.errors[:] = []
        form.email.errors.append(_("The email address, password or code is not right"))
    return render("auth/locked.html", form=form, status=422)


# ---- Setting up, and the person's sign-in security page --------------------------

@bp.get("/security")
@login_required
def security():
    me = user()
    return render("auth/security.html", on=factor.has_second_factor(me),
                  required=_required(me), codes_left=factor.recovery_codes_left(db.session, me))


def _required(me) -> bool:
    return current_app.config["REQUIRE_SECOND_FACTOR"] and factor.required_for(db.session, me)


@bp.route("/security/authenticator", methods=["GET", "POST"])
@login_required
def setup():
    me = user()
    if factor.has_second_factor(me):
        return see_other("second_factor.security")
    key = factor.begin_setup(db.session, me, _secret())
    form = CodeForm()
    back = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        if not ratelimit.codes_left(me.id):
            abort(429)
        codes = factor.enable(db.session, clock(), me, form.code.data, _secret())
        if codes is not None:
            session.pop("enrol", None)
            session["factor_at"] = _now()
            return render("auth/recovery_codes.html", codes=codes, back=back, first=True)
        ratelimit.count_wrong_code(me.id)
        form.code.errors.append(_wrong_code())
    uri = factor.provisioning_uri(key, me.email, current_app.config["PROVIDER_NAME"])
    return render("auth/setup.html", form=form, back=back, enrol=bool(session.get("enrol")),
                  qr=segno.make(uri, error="m").svg_data_uri(scale=5, border=2),
                  key_groups=[key[i:i + 4] for i in range(0, len(key), 4)], key=key,
                  status=422 if form.errors else 200)


@bp.post("/security/recovery-codes")
@login_required
def new_recovery_codes():
    me = user()
    if not factor.has_second_factor(me):
        return see_other("second_factor.security")
    if needs_step_up():
        return redirect(url_for("second_factor.step_up", next=url_for("second_factor.security")), code=303)
    codes = factor.new_recovery_codes(db.session, me)
    db.session.commit()
    return render("auth/recovery_codes.html", codes=codes, back=None, first=False)


@bp.post("/security/forget-browsers")
@login_required
def forget_browsers():
    factor.forget_browsers(db.session, user())
    flash(_("Every browser will ask for a code at the next sign-in."), "success")
    return see_other("second_factor.security")


@bp.post("/security/turn-off")
@login_required
def turn_off():
    me = user()
    if _required(me) or not factor.has_second_factor(me):
        abort(403)
    if needs_step_up():
        return redirect(url_for("second_factor.step_up", next=url_for("second_factor.security")), code=303)
    factor.reset(db.session, clock(), me, actor=me, how="self")
    flash(_("Two-step verification is off. Signing in takes only your password."), "success")
    return see_other("second_factor.security")


@bp.route("/confirm-identity", methods=["GET", "POST"])
@login_required
def step_up():
    """The code again: what comes next changes who can pay or what pays."""
    me = user()
    back = safe_next(request.args.get("next")) or url_for("pages.home")
    if not factor.has_second_factor(me):
        return redirect(back, code=303)
    form = CodeForm()
    if form.validate_on_submit() and _checked(me, form):
        session["factor_at"] = _now()
        return redirect(back, code=303)
    return render("auth/step_up.html", form=form, status=422 if form.errors else 200)
