"""Response headers every page carries, and a guard on input no page accepts."""
from __future__ import annotations

import functools

from flask import Flask, abort, request

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


def _refuse_nul() -> None:
    """A NUL character is never part of valid input, and PostgreSQL cannot store
    one in text: refuse the request (400) before anything reads it."""
    sources = [request.args] + ([request.form] if request.method == "POST" else [])
    values = [value for source in sources for _name, listed in source.lists() for value in listed]
    if any("\x00" in value for value in values) or "\x00" in request.path:
        abort(400)


def step_up_required(view):
    """Issue 31 item 4's step-up: before a role is given, changed or taken away, the
    person proves again that they hold their second factor. The one call site of the
    Access page's changes (portal/web/people.py); until the second factor exists
    (the `mfa` work of issue 31) it lets the request through unchanged."""
    @functools.wraps(view)
    def stepped_up(*args, **kwargs):
        return view(*args, **kwargs)
    return stepped_up


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul)
    app.wsgi_app = SecurityHeaders(  # type: ignore[method-assign]
        app.wsgi_app, security_headers(bool(app.config.get("SESSION_COOKIE_SECURE"))))
