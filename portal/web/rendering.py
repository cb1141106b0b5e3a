"""One template per page; an htmx request gets one named block of it (STYLE.md)."""
from __future__ import annotations

from collections.abc import Iterable

from flask import Response, make_response, render_template, request, stream_with_context
from flask_login import current_user
from flask_wtf import FlaskForm
from jinja2_fragments.flask import render_block

from portal.billing.accounts import access, people
from portal.extensions import db


def wants_fragment() -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(template: str, *, block: str | None = None, status: int = 200, **context) -> Response:
    """The whole page, or only `block` for an htmx request; never cached (account
    data), and caches told that the answer depends on HX-Request."""
    context.setdefault("page_has_errors", any(
        isinstance(value, FlaskForm) and bool(value.errors) for value in context.values()))
    if block is not None and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **_layout(context))
    response = make_response(body, status)
    response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "no-store"
    return response


def csv_download(session, lines: Iterable[str], filename: str) -> Response:
    """A CSV export streamed as it is made (Payments, the statement, Costs). It only
    reads: its transaction ends with the file, not when the server gets round to
    closing the response (a client that never closes it would otherwise keep a
    transaction, and its locks, open)."""
    def body():
        try:
            for line in lines:
                yield line.encode("utf-8")
        finally:
            session.rollback()
    return download(stream_with_context(body()), "text/csv; charset=utf-8", filename)


def _layout(context: dict) -> dict:
    """What the layout shows around a whole page, decided here (templates only show):
    the account's navigation links the audit log only for those who may see it."""
    account = context.get("account")
    context.setdefault("may_view_audit", bool(
        account is not None and current_user.is_authenticated
        and access.decide(db.session, current_user, account, access.Action.VIEW_AUDIT)))
    # Issue 31: Access (Åtkomst) for those who manage roles somewhere on the account.
    context.setdefault("may_manage_roles", bool(
        account is not None and current_user.is_authenticated
        and people.managed_scopes(db.session, current_user, account)))
    return context


def download(body: bytes | Iterable[bytes], mimetype: str, filename: str) -> Response:
    """A file to save (an invoice's PDF or XML, a receipt, an export, which may stream
    as it is made): never cached (account data)."""
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
