"""CPU per request of each page, in process, against the bare page (issue 28's 2× budget).

`.venv/bin/python -m bench.page_cpu [--workdir DIR] [--requests N] [--dump DIR]`

The server's latency on a shared machine says as much about the neighbours as about the
page; the CPU time one request takes in this process (`time.process_time`) does not.
This builds the default bench's 10,000 account once (bench/seed.py, SQLite, in
`--workdir`, reused by later runs), signs in with Flask's test client and requests, round
after round, the bare page and then each page — Overview, Settle balance, the
payment-method partial, Invoices, an invoice detail, Payments, Payment methods, each list
also on its last page as the bench finds it — and prints per page the median and p95 CPU
ms and their ratios to the bare page's, measured in the same rounds. The clock stands on
2026-12-07 (seeding and measuring alike), and the loaded app is frozen out of the
garbage collector's sight as gunicorn's workers do (gunicorn.conf.py).

`--dump DIR` writes each page's HTML (Swedish and English) with CSRF tokens and
idempotency keys masked, for comparing two versions of the code byte for byte
(`diff -r`). `--profile PAGE` prints cProfile's view of that page instead
(PROFILE_SORT, default tottime; PROFILE_FILTER, e.g. "portal").
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

SIZE = 10_000
TODAY = date(2026, 12, 7)
PAGES = ("overview", "settle", "partial", "invoices", "invoice", "payments", "methods")
MASKS = (re.compile(r'(name="csrf_token"[^>]*value=")[^"]+'),
         re.compile(r'(<meta name="csrf-token" content=")[^"]+'),
         re.compile(r'(name="idempotency_key"[^>]*value=")[^"]+'),
         re.compile(r'(value=")[^"]+("[^>]*name="idempotency_key")'),
         re.compile(r'(nonce=")[^"]+'))


def _environment(workdir: Path) -> None:
    from bench.run import APP_SETTINGS, environment
    key = workdir / "secret"
    if not key.exists():
        key.write_text(os.urandom(32).hex())
    env = environment(workdir, None)
    env["SECRET_KEY"] = key.read_text()
    os.environ.update({k: env[k] for k in APP_SETTINGS})


def _app(workdir: Path):
    from portal import create_app
    from portal.billing.clock import FixedClock
    app = create_app()
    app.extensions["clock"] = FixedClock(TODAY)
    return app


def prepare(workdir: Path):
    """The app on the seeded database (built and seeded on the first run)."""
    from bench.run import build_database
    from bench.seed import Seeded, seed_size
    workdir.mkdir(parents=True, exist_ok=True)
    _environment(workdir)
    marker = workdir / "seeded.json"
    if not marker.exists():
        build_database({**os.environ})
        app = _app(workdir)
        from portal.extensions import db
        from portal.services import policy
        with app.app_context():
            seeded = seed_size(db.session(), SIZE, TODAY, policy())
            db.session.commit()
        marker.write_text(json.dumps(asdict(seeded)))
    app = _app(workdir)
    return app, Seeded(**json.loads(marker.read_text()))


class Browser:
    """One signed-in test client per person."""

    def __init__(self, app):
        self.app, self.clients = app, {}

    def get(self, user: str, path: str, headers: dict):
        from bench.load import csrf_token
        from bench.seed import PASSWORD
        if user not in self.clients:
            client = self.app.test_client()
            client.environ_base["wsgi.url_scheme"] = "https"  # secure cookies, as in production
            page = client.get("/sv/sign-in").data
            answer = client.post("/sv/sign-in", data={"csrf_token": csrf_token(page), "email": user,
                                                      "password": PASSWORD})
            assert answer.status_code == 303, f"sign-in as {user}: {answer.status_code}"
            self.clients[user] = client
        response = self.clients[user].get(path, headers=headers)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        return response.data


def targets(browser: Browser, seeded) -> dict[str, tuple[str, str, dict]]:
    """name → (user, path, headers): the bench's pages, and each list's last page."""
    from bench.load import find_last_pages
    from bench.run import urls
    first = {name: url for name, url in urls(seeded).items() if name == "baseline" or name in PAGES}
    return first | find_last_pages(first, browser.get)


def masked(html: bytes) -> str:
    text = html.decode()
    for mask in MASKS:
        text = mask.sub(lambda m: m.group(1) + "…" + (m.group(2) if mask.groups > 1 else ""), text)
    return text


def dump(browser: Browser, pages: dict, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, (user, path, headers) in pages.items():
        for lang in ("sv", "en"):
            html = browser.get(user, path.replace("/sv/", f"/{lang}/", 1), headers)
            (directory / f"{name}.{lang}.html").write_text(masked(html))


def measure(browser: Browser, pages: dict, rounds: int) -> dict[str, list[float]]:
    cpu: dict[str, list[float]] = {name: [] for name in pages}
    base = pages["baseline"]
    for _ in range(rounds):
        for name, (user, path, headers) in pages.items():
            if name == "baseline":
                continue
            for which, (u, p, h) in (("baseline", base), (name, (user, path, headers))):
                began = time.process_time()
                browser.get(u, p, h)
                cpu[which].append(time.process_time() - began)
    return cpu


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def report(cpu: dict[str, list[float]]) -> None:
    base = cpu["baseline"]
    bmed, bp95 = statistics.median(base), p95(base)
    print(f"{'page':<16} {'median ms':>10} {'p95 ms':>8} {'ratio med':>10} {'ratio p95':>10}")
    for name, values in cpu.items():
        med, top = statistics.median(values), p95(values)
        print(f"{name:<16} {1000 * med:>10.2f} {1000 * top:>8.2f} {med / bmed:>9.2f}× {top / bp95:>9.2f}×")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/portal-page-cpu"),
                        help="where the seeded SQLite database is kept (built on the first run)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page (and as many "
                        "of the bare page beside each)")
    parser.add_argument("--pages", help="comma-separated page names (default: all)")
    parser.add_argument("--dump", type=Path, help="write each page's masked HTML here and stop")
    parser.add_argument("--profile", help="cProfile this page (a name as printed) and stop")
    args = parser.parse_args(argv)
    app, seeded = prepare(args.workdir)
    browser = Browser(app)
    pages = targets(browser, seeded)
    if args.pages:
        wanted = set(args.pages.split(",")) | {"baseline"}
        pages = {k: v for k, v in pages.items() if k in wanted}
    if args.dump:
        dump(browser, pages, args.dump)
        return 0
    measure(browser, pages, 10)  # warm-up: templates compiled, links remembered
    gc.collect()
    gc.freeze()
    if args.profile:
        import cProfile
        import pstats
        user, path, headers = pages[args.profile]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            browser.get(user, path, headers)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(os.environ.get("PROFILE_FILTER", ""), 60)
        return 0
    report(measure(browser, pages, args.requests))
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
