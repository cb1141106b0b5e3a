"""GET /healthz: readiness for load balancers and the suite's own servers."""
from __future__ import annotations

from portal import create_app
from portal.config import for_tests


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok\n")
    assert response.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in response.headers


def test_healthz_answers_503_while_the_database_cannot_be_reached(tmp_path):
    app = create_app(for_tests(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}"))
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert response.get_data(as_text=True) == "database unavailable\n"
    finally:
        app.extensions["payment_gateway"].close()
