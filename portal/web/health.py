"""Readiness for load balancers, process supervisors and the test suite: GET /healthz
answers 200 "ok" once the application can reach its database, else 503. It names
no versions and sets no cookies (nothing here for a visitor)."""
from __future__ import annotations

from flask import Blueprint, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def ready() -> Response:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return Response("database unavailable\n", status=503, mimetype="text/plain",
                        headers={"Cache-Control": "no-store", "Retry-After": "1"})
    return Response("ok\n", mimetype="text/plain", headers={"Cache-Control": "no-store"})
