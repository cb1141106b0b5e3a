"""`flask` commands in a hurry, for the race tests (tests/server/test_live_races.py):
one process imports the portal once (about 1.7 s of CPU, most of a `flask` command's
start), then forks a child for each command asked of it on stdin. Each child is a
whole `flask --app wsgi COMMAND…` — the app built in it from the deployment's
environment, its own database connections and gateway — started within a few tens of
milliseconds, so a command can be made to run while a payment waits at the gateway.

Protocol (one JSON object a line): in `{"id": N, "args": [...], "output": PATH}`;
out `{"id": N, "code": EXIT_STATUS}` once the command has ended (its stdout and
stderr are in PATH). Single-threaded, so nothing is forked while another thread holds
a lock."""
from __future__ import annotations

import itertools
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path


def _child(args: list[str], output: str) -> None:
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # Fresh stream objects: nothing of the parent's buffers comes along.
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    code = 1
    try:
        from flask.cli import main
        sys.argv = ["flask", "--app", "wsgi", *args]
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - reported as the command's failure
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    import flask.cli  # noqa: F401 - the slow imports, once
    import portal  # noqa: F401
    import portal.cli  # noqa: F401
    import portal.web  # noqa: F401
    running: dict[int, int] = {}  # pid → request id
    pending = b""
    stdin_open = True
    print(json.dumps({"ready": True}), flush=True)
    while stdin_open or running:
        readable, _, _ = select.select([0] if stdin_open else [], [], [], 0.01)
        if readable:
            chunk = os.read(0, 65536)
            if not chunk:
                stdin_open = False
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request["args"], request["output"])
                running[pid] = request["id"]
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            print(json.dumps({"id": running.pop(pid), "code": os.waitstatus_to_exitcode(status)}), flush=True)


class Forks:
    """The test's side: `run(*args)` starts `flask --app wsgi *args` at once (a Future
    of (exit status, output)). Started with the deployment's environment."""

    def __init__(self, env: dict, cwd: Path):
        self._dir = tempfile.TemporaryDirectory(prefix="flask-forks-")
        self._process = subprocess.Popen([sys.executable, "-m", "tests.server.flask_forks"], cwd=cwd, env=env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert json.loads(self._process.stdout.readline()) == {"ready": True}
        self._ids = itertools.count()
        self._waiting: dict[int, tuple[Future, Path]] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def run(self, *args: str) -> Future:
        with self._lock:
            number = next(self._ids)
            output = Path(self._dir.name) / f"{number}.out"
            done: Future = Future()
            self._waiting[number] = (done, output)
            self._process.stdin.write(json.dumps({"id": number, "args": list(args), "output": str(output)}) + "\n")
            self._process.stdin.flush()
        return done

    def __call__(self, *args: str, timeout: float = 120) -> tuple[int, str]:
        return self.run(*args).result(timeout)

    def _read(self) -> None:
        for line in self._process.stdout:
            answer = json.loads(line)
            with self._lock:
                done, output = self._waiting.pop(answer["id"])
            done.set_result((answer["code"], output.read_text(errors="replace")))
        with self._lock:  # the server is gone: nothing more will end
            for done, _ in self._waiting.values():
                done.set_exception(RuntimeError("the flask fork server exited"))
            self._waiting.clear()

    def close(self) -> None:
        self._process.stdin.close()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=10)
        self._process.stdout.close()
        self._dir.cleanup()


if __name__ == "__main__":
    serve()
