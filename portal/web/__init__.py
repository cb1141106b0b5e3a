"""Blueprints."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from portal.web import auth

    auth.init_app(app)
