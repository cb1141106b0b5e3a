"""The billing portal: create_app() builds the Flask application."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import cli, i18n
from portal.document_store import store_from_config
from portal.billing.clock import clock_from_config
from portal.billing.invoicing.remittance import remittance_from_config
from portal.billing.payments.sandbox import SandboxGateway
from portal.billing.seller import seller_from_config
from portal.config import INSTANCE, ROOT, engine_options, from_environment
from portal.extensions import babel, csrf, db, htmx, login_manager
from portal.web import querycount, ratelimit, register_blueprints


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(INSTANCE),
        # The top-level folders of the repository, given absolutely (STYLE.md).
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(from_environment() if config is None else {**from_environment(), **config})
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "translations")
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))
    INSTANCE.mkdir(exist_ok=True)

    db.init_app(app)
    csrf.init_app(app)
    ratelimit.init_app(app)
    htmx.init_app(app)
    i18n.init_app(app, babel)
    login_manager.init_app(app)
    # M7: the one clock every service call and command is given (tests replace it).
    app.extensions["clock"] = clock_from_config(app.config)
    # Remittance details and the seller's identity are printed on invoices: refuse to
    # start with invalid ones.
    remittance_from_config(app.config)
    app.extensions["seller"] = seller_from_config(app.config)
    # Issued documents: made once, kept here (the database, or a directory).
    app.extensions["document_store"] = store_from_config(app.config)
    # The one simulated part: a real processor would implement the same interface.
    # Its calendar (card expiry) is the portal's clock, read at each call: a pinned
    # day or a test's clock holds for the gateway too.
    app.extensions["payment_gateway"] = SandboxGateway(
        app.config["SANDBOX_GATEWAY_URL"], lambda: app.extensions["clock"].today(), fault=app.config["SANDBOX_GATEWAY_FAULT"],
        timeout_seconds=app.config["SANDBOX_GATEWAY_TIMEOUT_SECONDS"],
        latency_seconds=app.config["SANDBOX_GATEWAY_LATENCY_MS"] / 1000)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    register_blueprints(app)
    querycount.init_app(app)
    cli.init_app(app)
    return app
