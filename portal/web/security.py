"""Response headers every page carries, and a guard on input no page accepts."""
from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask_login import current_user

from portal.billing.accounts.second_factor import has_second_factor
from portal.web.auth import _now
from portal.web.common import safe_next

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
       "frame-ancestors 'none'")


# No page uses these browser features; a page that is made to try gets nothing.
PERMISSIONS_POLICY = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
                      "microphone=(), payment=(), usb=(), interest-cohort=()")


def security_headers(https_only: bool) -> list[tuple[str, str]]:
    headers = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        # Not no-referrer: Flask-WTF's referrer check over HTTPS needs the origin.
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
    ]
    if https_only:  # outside development
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


class SecurityHeaders:
    """A WSGI layer around the whole application: every response carries the security
    headers — pages, error pages, and a crash that Flask could not even render —
    unless the response set its own value."""

    def __init__(self, wsgi_app, headers: list[tuple[str, str]]):
        self.wsgi_app, self.headers = wsgi_app, headers

    def __call__(self, environ, start_response):
        def start(status, response_headers, exc_info=None):
            present = {name.lower() for name, _value in response_headers}
            missing = [(name, value) for name, value in self.headers if name.lower() not in present]
            return start_response(status, [*response_headers, *missing], exc_info)
        return self.wsgi_app(environ, start)


def needs_step_up() -> bool:
    """Issue 31: whether the signed-in person must give their code again — they have
    a second factor, and gave it longer ago than STEP_UP_MINUTES (or not in this
    session: a remembered browser skipped it)."""
    if not current_user.is_authenticated or not has_second_factor(current_user):
        return False
    given = session.get("factor_at")
    return not isinstance(given, int) or _now() - given > current_app.config["STEP_UP_MINUTES"] * 60


def step_up_required(view):
    """A view that changes who can pay or what pays (adding a card, changing roles):
    first the code again (second_factor.step_up), then back — to this page for a
    GET, to the page the form was on for a POST (what was typed is not kept: a card
    number never is)."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if needs_step_up():
            if request.method == "GET":
                back = request.full_path.rstrip("?")
            else:
                referrer = urlsplit(request.referrer or "")
                same_site = referrer.netloc in ("", request.host)
                back = (referrer.path + (f"?{referrer.query}" if referrer.query else "")) if same_site else None
            return redirect(url_for("second_factor.step_up", next=safe_next(back) or None), code=303)
        return view(*args, **kwargs)

    return guarded


def _refuse_nul() -> None:
    """A NUL character is never part of valid input, and PostgreSQL cannot store
    one in text: refuse the request (400) before anything reads it."""
    sources = [request.args] + ([request.form] if request.method == "POST" else [])
    values = [value for source in sources for _name, listed in source.lists() for value in listed]
    if any("\x00" in value for value in values) or "\x00" in request.path:
        abort(400)
    if request.mimetype == "application/json":  # the API's bodies: NUL written raw or as \u0000
        body = request.get_data(cache=True)
        if b"\x00" in body or b"\\u0000" in body.lower():
            abort(400)


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul)
    app.wsgi_app = SecurityHeaders(  # type: ignore[method-assign]
        app.wsgi_app, security_headers(bool(app.config.get("SESSION_COOKIE_SECURE"))))
