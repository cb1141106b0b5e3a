"""Sign-in and sign-out."""
from __future__ import annotations

from flask import Flask

from portal.extensions import db, login_manager
from portal.models import User


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def init_app(app: Flask) -> None:
    pass
