"""Every error the service layer raises on purpose, and every HTTP error, mapped to a
translated page and a status code — in one place."""
from __future__ import annotations


from flask import Flask, Response, current_app, g, redirect, request
from markupsafe import escape
from flask_babel import gettext as _, ngettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal import errors as domain
from portal.billing.clock import epoch_seconds
from portal.extensions import limiter
from portal.forms import SignInWithCodeForm
from portal.i18n import LANGUAGE_PREFIX, best_locale, url_locales
from portal.wording import REFUSAL
from portal.web import ratelimit
from portal.web.checkout import challenge_url
from portal.web.api import problems as api
from portal.web.rendering import render


def error_page(status: int, title: str, message: str, **extra):
    return render("errors/error.html", block="content", status=status, status_code=status,
                  title=title, message=message, **extra)


def not_found(_exc=None):
    unknown_language = LANGUAGE_PREFIX.match(request.path)
    if unknown_language and unknown_language.group(1) not in url_locales(current_app):
        # /de/… → the same page in the visitor's best supported language
        return redirect(f"/{best_locale()}{unknown_language.group(2) or '/'}", code=302)
    return error_page(404, _("Page not found"),
                      _("There is no page at this address, or you do not have access to it. "
                        "Check the address, or go back to the overview."))


def forbidden(exc: domain.NotAuthorized | None = None):
    reason = getattr(exc, "reason", "forbidden")
    return error_page(403, _("You cannot do this"), str(REFUSAL.get(reason, REFUSAL["forbidden"])))


def csrf_failed(exc):
    current_app.logger.info("CSRF refused: %s", exc.description)
    return error_page(400, _("The page has expired"),
                      _("For your security, forms expire after a while. Nothing was changed. "
                        "Go back, reload the page and try again."))


def http_error(exc: HTTPException):
    if request.path.startswith(api.PREFIX + "/"):  # no route under /api/v1 matched: still a problem, not a page
        response = api.problem_response(api.from_http(exc))
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
    if exc.code == 404:
        return not_found()
    if exc.code == 403:
        return forbidden()
    if exc.code == 429:
        return too_many_attempts(exc)
    if exc.code == 413:
        return error_page(413, _("Too much data was sent"),
                          _("The form sent more data than any form here needs. Nothing was changed. "
                            "Go back and try again."))
    if exc.code == 405:
        return error_page(405, _("This action is not possible here"),
                          _("The page does not accept this kind of request. Nothing was changed."))
    if exc.code and exc.code >= 500:
        return server_error(exc)
    return error_page(exc.code or 400, _("Something is wrong with the request"),
                      _("The request could not be understood. Nothing was changed. Go back and try again."))


def server_error(_exc):
    if request.path.startswith(api.PREFIX + "/"):
        return api.problem_response(api.ApiProblem(500, "server_error", "Something went wrong on our side",
                                                   "Try again later."))
    try:
        title = _("Something went wrong on our side")
        message = _("Nothing was charged twice and nothing was lost: a payment either goes "
                    "through completely or not at all. Please try again in a few minutes.")
    except Exception:  # the catalogs themselves failed: the source text
        title, message = "Something went wrong on our side", "Please try again in a few minutes."
    try:
        return error_page(500, title, message)
    except Exception:  # the error page itself failed: a page that cannot
        current_app.logger.exception("the error page could not be rendered")
        return _minimal_error_page(title, message)


def _minimal_error_page(title: str, message: str) -> Response:
    """No template, no layout, no database: the translated sentences alone."""
    lang = getattr(g, "lang", None) or "sv"
    body = (f'<!doctype html><html lang="{escape(lang)}"><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<main><h1>{escape(title)}</h1><p>{escape(message)}</p></main></html>")
    return Response(body, status=500, content_type="text/html; charset=utf-8")


def invalid_state(_exc):
    return error_page(409, _("This cannot be done any more"),
                      _("The subscription has been deleted and can no longer be changed. "
                        "Open a support request if you need help."))


def too_many_attempts(exc):
    """Sign-in rate limit (Flask-Limiter): how long to wait, never which limit."""
    breached = limiter.current_limit  # the window that is full, and when it ends
    seconds = breached.reset_at - epoch_seconds() if breached is not None else 15 * 60
    minutes = max(1, round(seconds / 60))
    if request.endpoint == "auth.sign_in" and ratelimit.breached_for_account():
        # Issue 31, lock-out without lock-out: the account's attempts are used up —
        # perhaps by a stranger — so its owner gets two ways in (auth/locked.html).
        form = SignInWithCodeForm(formdata=None, email=request.form.get("email", "")[:254])
        response = render("auth/locked.html", form=form, minutes=minutes, status=429)
        response.headers["Retry-After"] = str(max(1, int(seconds)))
        return response
    response = error_page(429, _("Too many attempts to sign in"), ngettext(
        "For your security, signing in is paused after several unsuccessful attempts. "
        "Wait %(num)d minute and try again, or ask your administrator for help.",
        "For your security, signing in is paused after several unsuccessful attempts. "
        "Wait %(num)d minutes and try again, or ask your administrator for help.", minutes))
    response.headers["Retry-After"] = str(max(1, int(seconds)))
    return response


def gateway_unavailable(exc: domain.GatewayUnavailable):
    """503 that tells the truth: certainly not charged, or not known yet — then the
    attempt is kept and a check (or any new payment) settles it under the same key."""
    maybe_charged = getattr(exc, "maybe_charged", False)
    account_id = (request.view_args or {}).get("account_id")
    return render("payments/unavailable.html", status=503, maybe_charged=maybe_charged,
                  account_id=account_id,
                  retry_url=request.full_path.rstrip("?") if request.method == "POST" else None)


def awaiting_authentication(exc: domain.PaymentAwaitsAuthentication):
    """B13: another payment of the account waits for its cardholder at the bank:
    nothing new is charged until it is finished or its challenge expires."""
    return render("payments/awaiting.html", status=409, continue_url=challenge_url(exc))


def payment_in_progress(exc: domain.PaymentInProgress):
    """Issue 27: a change that would alter what an open payment pays waits for it."""
    return render("payments/in_progress.html", status=409, account_id=exc.account_id)


def invalid_input(_exc):
    return error_page(422, _("Something is wrong with the request"),
                      _("The request could not be understood. Nothing was changed. Go back and try again."))


def init_app(app: Flask) -> None:
    app.register_error_handler(domain.NotFound, not_found)
    app.register_error_handler(domain.NotAuthorized, forbidden)
    app.register_error_handler(domain.InvalidState, invalid_state)
    app.register_error_handler(domain.GatewayUnavailable, gateway_unavailable)
    app.register_error_handler(domain.PaymentAwaitsAuthentication, awaiting_authentication)
    app.register_error_handler(domain.PaymentInProgress, payment_in_progress)
    app.register_error_handler(domain.InvalidInput, invalid_input)
    app.register_error_handler(domain.InvalidAmount, invalid_input)
    app.register_error_handler(CSRFError, csrf_failed)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(500, server_error)
