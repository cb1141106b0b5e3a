"""The real app in a real server process for the browser tests.

`flask db upgrade` and `flask demo seed` (the README's commands) build a fresh SQLite
database and sandbox ledger in a temporary folder — once per test session: later
servers start from a copy of those files (`seeded_from`) — and `flask run` serves it
on a free port of 127.0.0.1, waited for until its /healthz answers. The browser server always uses SQLite, even when the suite runs on
PostgreSQL (DATABASE_URL set): these tests prove what the browser sees, and the
PostgreSQL run must not share (and reset) its database with a separate process.
"""
from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import TODAY
from tests.server.live import wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite database, whatever its write-ahead log holds."""
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    original.close()
    copy.close()


class LiveServer:
    """`with LiveServer(tmp) as server:` → server.url is http://127.0.0.1:PORT."""

    def __init__(self, folder: Path, seeded_from: Path | None = None):
        """`seeded_from`: the folder of a server that was already seeded and stopped;
        its database files are copied instead of running the commands again."""
        self.folder = Path(folder)
        self.seeded_from = seeded_from
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SANDBOX_GATEWAY_URL")},
            "PORTAL_ENV": "development",
            "PORTAL_TODAY": TODAY.isoformat(),  # M7: never the day the suite runs
            "DATABASE_URL": f"sqlite:///{self.folder / 'portal.sqlite'}",
            "SANDBOX_GATEWAY_URL": f"sqlite:///{self.folder / 'sandbox-gateway.sqlite'}",
            "PYTHONUNBUFFERED": "1",
            # B24: the provider lets customers change plans, among these (the demo's
            # Intranät is on Standard).
            "SUBSCRIPTION_PLAN_CHANGES": "1",
            "SUBSCRIPTION_PLANS": "Bas=290,Standard=590,Premium=990",
            # B21: and lets them pause and resume subscriptions.
            "SUBSCRIPTION_PAUSE": "1",
        }
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = self.folder / "server.log"

    def _flask(self, *args: str) -> str:
        done = subprocess.run([*FLASK, *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> "LiveServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.seeded_from is not None:
            for path in self.seeded_from.glob("*.sqlite"):
                copy_database(path, self.folder / path.name)
        else:
            self.prepare()
        self._log = log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*FLASK, "run", "--host", "127.0.0.1", "--port", str(self.port), "--no-reload",
             "--no-debugger", "--with-threads"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(self.url, self.process, self.log)
        except RuntimeError:
            self.stop()
            raise
        return self

    def prepare(self) -> None:
        """The database and ledger files, made by the README's commands."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._flask("db", "upgrade")
        self._flask("demo", "seed")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
