"""Static files under content-hashed names (`css/portal.3f9a0c1d2e4b.css`), cached by
browsers for a year and never asked for again until their content (so their name)
changes. Hashes are computed once at start-up; templates get the names from
`static_url(filename)`. Text files are kept gzipped too, sent so to browsers that
accept it (gunicorn does not compress, and these are most of a first visit's bytes).
A plain name (`/static/css/portal.css`) still works, revalidated on every use."""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, current_app, request, url_for

IMMUTABLE = "public, max-age=31536000, immutable"
FAVICON = "img/favicon.svg"
COMPRESSIBLE = {".css", ".js", ".svg", ".txt", ".json", ".map"}


@dataclass(frozen=True)
class Asset:
    name: str            # as in static/, e.g. css/portal.css
    hashed_name: str     # css/portal.<hash>.css
    data: bytes
    gzipped: bytes | None
    mimetype: str
    etag: str
    mtime: float


def _hashed(name: str, digest: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{digest}.{ext}" if dot and "/" not in ext else f"{name}.{digest}"


def _load(folder: Path, path: Path) -> Asset:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:12]
    name = path.relative_to(folder).as_posix()
    gzipped = gzip.compress(data, 9, mtime=0) if path.suffix in COMPRESSIBLE else None
    if gzipped is not None and len(gzipped) >= len(data):
        gzipped = None
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Asset(name, _hashed(name, digest), data, gzipped, mimetype, digest, path.stat().st_mtime)


class Assets:
    def __init__(self, folder: str | Path, watch: bool = False):
        self.folder = Path(folder)
        self.watch = watch  # development: pick up edits without a restart
        self.by_name: dict[str, Asset] = {}
        self.by_hashed: dict[str, Asset] = {}
        self.scan()

    def scan(self) -> None:
        assets = [_load(self.folder, p) for p in sorted(self.folder.rglob("*")) if p.is_file()]
        self.by_name = {a.name: a for a in assets}
        self.by_hashed = {a.hashed_name: a for a in assets}

    def _fresh(self, asset: Asset | None) -> Asset | None:
        if asset is not None and self.watch:
            path = self.folder / asset.name
            if not path.exists() or path.stat().st_mtime != asset.mtime:
                self.scan()
                return self.by_name.get(asset.name)
        return asset

    def hashed_name(self, filename: str) -> str:
        asset = self._fresh(self.by_name.get(filename))
        return asset.hashed_name if asset else filename


def static_url(filename: str) -> str:
    """The content-hashed URL of a file in static/ (templates: `static_url('css/portal.css')`)."""
    return url_for("static", filename=current_app.extensions["assets"].hashed_name(filename))


def serve_static(filename: str) -> Response:
    assets: Assets = current_app.extensions["assets"]
    asset = assets.by_hashed.get(filename)
    if asset is None:  # a plain name (or unknown): Flask's own, revalidated each time
        response = current_app.send_static_file(filename)
        response.headers["Cache-Control"] = "no-cache"
        return response
    use_gzip = asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(asset.gzipped if use_gzip else asset.data, mimetype=asset.mimetype)
    response.headers["Cache-Control"] = IMMUTABLE
    response.set_etag(asset.etag + ("-gz" if use_gzip else ""))
    if asset.gzipped is not None:
        response.vary.add("Accept-Encoding")
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    return response.make_conditional(request)


def favicon() -> Response:
    """The icon, for those who ask for /favicon.ico (pages name it with <link rel="icon">)."""
    asset = current_app.extensions["assets"].by_name[FAVICON]
    response = Response(asset.data, mimetype=asset.mimetype)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def init_app(app: Flask) -> None:
    app.extensions["assets"] = Assets(app.static_folder, watch=app.debug)
    app.view_functions["static"] = serve_static
    app.jinja_env.globals["static_url"] = static_url
    # Browsers and crawlers ask for /favicon.ico whatever the page says (issue 20 item 15).
    app.add_url_rule("/favicon.ico", "favicon", favicon)
