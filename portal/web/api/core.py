"""The core of the provider's JSON API under /api/v1 (issue 32): Bearer tokens only (no cookie, no
CSRF; a token opens no page), every call audited with its token's name, a rate limit
per token counted in the database (Flask-Limiter, portal/web/ratelimit.py), RFC 9457
problems, Idempotency-Key on creates and updates, and the OpenAPI 3.1 document that
spectree generates from the same pydantic models that validate requests and answers
(schemas.py). Views translate HTTP to portal/billing/provider/ and back.

    accounts   accounts, billing profiles and details, subscriptions, usage lines
    billing    invoices (+ documents), payments and receipts, transfers, credit, issuing
    events     webhook endpoints, events, deliveries, replay
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from pydantic import BaseModel
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree

from portal.billing.accounts import notify
from portal.billing.provider import idempotency, tokens
from portal.billing.transaction import write_transaction
from portal.extensions import csrf, db, limiter
from portal.services import billing
from portal.web.api.problems import PREFIX, ApiProblem, init_problems, validation_problem
from portal.web.api.schemas import IdempotencyHeaders, Problem

bp = Blueprint("api", __name__, url_prefix=PREFIX)
init_problems(bp)
csrf.exempt(bp)  # no cookie is read here: a Bearer token cannot be sent by a foreign page


def _on_validation(req, resp, req_validation_error, instance, model_adapter=None) -> None:
    """spectree's hook: a body or query that does not fit its model → a problem."""
    if req_validation_error is not None:
        raise validation_problem(req_validation_error)


spec = SpecTree(
    "flask", mode="strict", path="openapi-unused",  # never routed: /api/v1/openapi.json is ours
    title="Billing portal provider API", version="1",
    description="Feed the portal accounts, subscriptions and usage; read invoices and payments; "
                "receive events. See docs/api.md.",
    security_schemes=[SecurityScheme(name="bearer", data=SecuritySchemeData(type="http", scheme="bearer"))],
    security={"bearer": []}, before=_on_validation, page_templates={},
    validation_error_model=Problem, naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child)


# What any operation may answer, whatever it does: a request the server cannot read (a NUL
# byte anywhere, refused before any view), no or a wrong token, a method, size or media
# type it does not take, too many calls.
EVERY_OPERATION_PROBLEMS = (400, 401, 403, 405, 413, 415, 429)


# A create or update's spec.validate arguments beyond its answers: the Idempotency-Key header.
WRITE = dict(headers=IdempotencyHeaders)


def answers(status: int, model: type[BaseModel] | None, *errors: int) -> Response:
    """A Response: the success model and the problems this operation may answer."""
    codes: dict[str, Any] = {f"HTTP_{status}": model}
    for code in (*EVERY_OPERATION_PROBLEMS, *errors):
        codes[f"HTTP_{code}"] = Problem
    return Response(**codes)


# -- authentication, rate limit, audit ---------------------------------------------------
def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def token_key() -> str:
    """The rate limit's key: the token's digest (never the token)."""
    raw = _bearer()
    return "api-token:" + (tokens.digest(raw)[:32] if raw else "none:" + (request.remote_addr or ""))


def api_rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


@bp.before_request
def authenticate() -> None:
    if request.endpoint == "api.openapi":
        return
    raw = _bearer()
    session = db.session()
    token = tokens.authenticate(session, raw) if raw else None
    session.commit()  # end the read: views open their own write transactions
    if token is None:
        raise ApiProblem(401, "unauthorized", "A valid API token is needed",
                         "Send Authorization: Bearer <token> (flask api tokens create).")
    g.api_token_id, g.api_token_name, g.api_scope = token.id, token.name, token.scope
    if request.method not in ("GET", "HEAD", "OPTIONS") and token.scope != "write":
        raise ApiProblem(403, "read_only_token", "This token may only read",
                         "Create a token with --scope write to change anything.")
    if request.method in ("POST", "PUT", "PATCH"):
        if request.mimetype != "application/json":
            raise ApiProblem(415, "unsupported_media_type", "Send JSON", "Content-Type: application/json")
        if request.get_json(silent=True) is None:
            raise ApiProblem(400, "invalid_json", "The body is not JSON", "Send a JSON object ({} for none).")


@bp.after_request
def audited(response):
    """Every call, with its token's name (never the token); the provider's own
    record (no account: it is not on any customer's audit log)."""
    name = g.get("api_token_name")
    if name is not None and not g.get("api_audited"):
        session = db.session()
        session.rollback()
        with write_transaction(session):
            _audit(session, response.status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _audit(session, status: int) -> None:
    notify.audit(session, billing().clock, "api.request", account_id=None, token=g.api_token_name,
                 method=request.method, path=request.path[:200], status=status)


# -- idempotent writes -------------------------------------------------------------------
def idempotent(work: Callable[[], tuple[int, Any]], *, own_transactions: bool = False):
    """Run a create or update once per Idempotency-Key (with this body), in one write
    transaction with its stored answer; the same key again → the stored answer."""
    key = request.headers.get("Idempotency-Key")
    digest = idempotency.request_hash(request.method, request.path, request.get_json(silent=True))
    b = billing()
    done: list[tuple[int, Any]] = []

    def audited_work() -> tuple[int, Any]:
        """The change, and its audit record in the same transaction (one commit, not two)."""
        answer = work()
        if not own_transactions:
            _audit(b.session, answer[0])
            done.append(answer)
        return answer
    answer = idempotency.once(b.session, b.clock, g.api_token_id, key, digest, audited_work,
                              own_transactions=own_transactions)
    # Committed with its audit record, unless another request's stored answer won (then audit after).
    g.api_audited = bool(done) and done[-1] is answer
    status, body = answer
    response = jsonify(body)
    response.status_code = status
    return response


def dump(model: type[BaseModel], value: Any) -> dict:
    return model.model_validate(value).model_dump(mode="json")


def listed(model: type[BaseModel], found: Any) -> dict:
    """A list's answer: a page of reads (its items and `next_after`), or all of a list."""
    items, next_after = (found, None) if isinstance(found, list) else (found.items, found.next_after)
    return {"items": [dump(model, item) for item in items], "next_after": next_after}


API_MAX_BODY = 1024 * 1024
_limited = False


def _larger_bodies() -> None:
    """A batch of 1,000 usage lines is ~200 KB: more than a page's form may send (64 KB)."""
    if request.path.startswith(PREFIX + "/"):
        request.max_content_length = API_MAX_BODY


def register(app: Flask) -> None:
    global _limited
    if not _limited:  # the blueprint is one object for every app: decorated once
        limiter.limit(api_rate_limit, key_func=token_key)(bp)
        _limited = True
    app.register_blueprint(bp)
    app.before_request(_larger_bodies)  # before any app-wide hook reads the body (security._refuse_nul)
    spec.app = app  # the document is generated from this app's routes (served by openapi below)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document; problems answered as application/problem+json."""
    return jsonify(problem_media_type(spec.spec))


def problem_media_type(document: dict) -> dict:
    for path in document.get("paths", {}).values():
        for operation in path.values():
            for answer in operation.get("responses", {}).values():
                content = answer.get("content", {})
                if content.get("application/json", {}).get("schema", {}).get("$ref", "")== "#/components/schemas/Problem":
                    answer["content"] = {"application/problem+json": content.pop("application/json")}
    return document


