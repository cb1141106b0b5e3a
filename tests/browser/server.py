"""The real app in a real server process for the browser tests.

`flask db upgrade` and `flask demo seed` (the README's commands) build a fresh SQLite
database and sandbox ledger in a temporary folder; `flask run` serves it on a free
port of 127.0.0.1. The browser server always uses SQLite, even when the suite runs on
PostgreSQL (DATABASE_URL set): these tests prove what the browser sees, and the
PostgreSQL run must not share (and reset) its database with a separate process.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import TODAY

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
START_TIMEOUT = 30.0  # seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`with LiveServer(tmp) as server:` → server.url is http://127.0.0.1:PORT."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SANDBOX_GATEWAY_URL")},
            "PORTAL_ENV": "development",
            "PORTAL_TODAY": TODAY.isoformat(),  # M7: never the day the suite runs
            "DATABASE_URL": f"sqlite:///{self.folder / 'portal.sqlite'}",
            "SANDBOX_GATEWAY_URL": f"sqlite:///{self.folder / 'sandbox-gateway.sqlite'}",
            "PYTHONUNBUFFERED": "1",
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
        self._flask("db", "upgrade")
        self._flask("demo", "seed")
        self._log = log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*FLASK, "run", "--host", "127.0.0.1", "--port", str(self.port), "--no-reload",
             "--no-debugger", "--with-threads"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server stopped at start:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/sv/sign-in", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {START_TIMEOUT:.0f} s:\n{self.log()}")

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
