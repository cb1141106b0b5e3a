"""RFC 9457 problem details for every error under /api/v1: `application/problem+json`
with a stable `type` per error (urn:billing-portal:problem:<code>, listed in
docs/api.md), a title, the status and what to do (detail)."""
from __future__ import annotations

import json

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException

from portal import errors as domain
from portal.extensions import db

PREFIX = "/api/v1"
TYPE = "urn:billing-portal:problem:"
MEDIA_TYPE = "application/problem+json"


class ApiProblem(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str = "", errors: list | None = None):
        super().__init__(code)
        self.status, self.code, self.title, self.detail, self.errors = status, code, title, detail, errors


def problem_response(problem: ApiProblem) -> Response:
    body = {"type": TYPE + problem.code, "title": problem.title, "status": problem.status, "detail": problem.detail}
    if problem.errors is not None:
        body["errors"] = problem.errors
    return Response(json.dumps(body), status=problem.status, mimetype=MEDIA_TYPE,
                    headers={"Cache-Control": "no-store"})


def validation_problem(error) -> ApiProblem:
    """pydantic's errors, without the input echoed back."""
    found = [{"loc": [str(part) for part in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
             for e in getattr(error, "errors", lambda: [])()]
    return ApiProblem(422, "invalid_request", "The request does not fit its schema",
                      "See `errors`: where and why.", found)


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type",
              429: "too_many_requests"}


def from_http(exc: HTTPException) -> ApiProblem:
    code = exc.code or 500
    if code == 429:
        return ApiProblem(429, "too_many_requests", "Too many requests for this token",
                          "Wait for the window in the Retry-After and X-RateLimit-* headers.")
    if code >= 500:
        return ApiProblem(code, "server_error", "Something went wrong on our side", "Try again later.")
    return ApiProblem(code, HTTP_CODES.get(code, "bad_request"), exc.name, exc.description or "")


def _rolled_back(response: Response) -> Response:
    db.session.rollback()
    return response


def init_problems(bp: Blueprint) -> None:
    @bp.errorhandler(ApiProblem)
    def api_problem(problem: ApiProblem):
        return _rolled_back(problem_response(problem))

    @bp.errorhandler(domain.Refused)
    def refused(exc: domain.Refused):
        return _rolled_back(problem_response(ApiProblem(exc.status, exc.code, exc.code.replace("_", " ").capitalize(),
                                                        exc.detail)))

    @bp.errorhandler(domain.NotFound)
    def not_found(exc: domain.NotFound):
        return _rolled_back(problem_response(ApiProblem(404, "not_found", "No such resource", f"{exc} not found")))

    @bp.errorhandler(domain.InvalidDetails)
    def invalid_details(exc: domain.InvalidDetails):
        return _rolled_back(problem_response(ApiProblem(
            422, "invalid_billing_details", "The billing details are not acceptable", "See `errors`.",
            [{"loc": ["body", field], "msg": reason, "type": reason} for field, reason in sorted(exc.problems.items())])))

    @bp.errorhandler(domain.InvalidInput)
    def invalid_input(exc: domain.InvalidInput):
        return _rolled_back(problem_response(ApiProblem(
            422, "invalid_input", "A value is not acceptable", f"`{exc.field}` is not acceptable here.",
            [{"loc": ["body", exc.field], "msg": "not acceptable", "type": "invalid_input"}])))

    @bp.errorhandler(domain.BillingError)
    def billing_error(exc: domain.BillingError):
        name = "".join("_" + c.lower() if c.isupper() else c for c in exc.__class__.__name__).lstrip("_")
        return _rolled_back(problem_response(ApiProblem(409, name, "The portal refuses this", str(exc)[:500])))

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        response = problem_response(from_http(exc))
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        if exc.code == 429 and exc.response is not None:  # Flask-Limiter's Retry-After and limits
            for name in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
                if name in exc.response.headers:
                    response.headers[name] = exc.response.headers[name]
        return _rolled_back(response)
