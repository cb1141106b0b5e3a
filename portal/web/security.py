"""Response headers every page carries, and a guard on input no page accepts."""
from __future__ import annotations

from flask import Flask, Response, abort, current_app, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
       "frame-ancestors 'none'")


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Not no-referrer: Flask-WTF's referrer check over HTTPS needs the origin.
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if current_app.config.get("SESSION_COOKIE_SECURE"):  # outside development: HTTPS only
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _refuse_nul() -> None:
    """A NUL character is never part of valid input, and PostgreSQL cannot store
    one in text: refuse the request (400) before anything reads it."""
    sources = [request.args] + ([request.form] if request.method == "POST" else [])
    values = [value for source in sources for _name, listed in source.lists() for value in listed]
    if any("\x00" in value for value in values) or "\x00" in request.path:
        abort(400)


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul)
    app.after_request(_headers)
