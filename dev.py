#!/usr/bin/env python3
"""Set-up and the two everyday commands, on a fresh machine with only Python 3.11+.

    python3 dev.py serve   # install, create the database, seed the demo, serve :5000
    python3 dev.py test    # install, run the whole test suite (both cores: pytest-xdist)
    python3 dev.py install # only the installing part of `test` (CI times it apart)
    python3 dev.py test-on "2028-02-29 23:30:00" [pytest args]   # the suite with the clock moved (UTC)
    python3 dev.py translations extract|update|compile|check|init LANG
    python3 dev.py bench   # install, run the benchmark with its budgets (docs/performance.md)
    python3 dev.py bench --scale reseller --database-url postgresql://…   # issue 28's large account (wipes it)

Everything goes into .venv/ beside this file; nothing is installed system-wide
except the Debian packages the test suite needs (Chromium, PostgreSQL), and only
when the machine lets us.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".installed"


def run(*args: str, **kwargs) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True, cwd=ROOT, **kwargs)


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed.")
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "-e", ".[test,postgres]")
    STAMP.write_text(wanted)


def flask(*args: str, env: dict | None = None) -> None:
    run(str(BIN / "flask"), "--app", "wsgi", *args, env={**os.environ, **(env or {})})


def compile_catalogs() -> None:
    flask("translations", "compile")


def serve() -> None:
    ensure_venv()
    ensure_pdf_libraries()
    compile_catalogs()
    flask("db", "upgrade")
    flask("demo", "seed")
    flask("run", "--host", "127.0.0.1", "--port", "5000")


def _debian_packages(wanted: dict[str, bool], why: str) -> None:
    """Install the Debian packages whose check is False, when we may (root + apt)."""
    missing = [name for name, present in wanted.items() if not present]
    if not missing or not Path("/usr/bin/apt-get").exists():
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(f"! {', '.join(missing)} not installed and we are not root: {why}")
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env)


def _has_library(name: str) -> bool:
    return any(Path(d).glob(f"{name}*") for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                                                  "/usr/lib", "/lib/x86_64-linux-gnu"))


def ensure_pdf_libraries() -> None:
    """Invoice PDFs (WeasyPrint) need the system's Pango and a font to embed."""
    _debian_packages({"libpangoft2-1.0-0": _has_library("libpangoft2-1.0.so"),
                      "fonts-dejavu-core": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists()},
                     "invoice PDFs cannot be made.")


def ensure_einvoice_validator() -> None:
    """The official e-invoice rules next to the clone (../shared/einvoice, issue 30) run
    on Java with Saxon-HE; without them tests/web/test_i30_einvoice_rules.py skips."""
    if (ROOT.parent / "shared" / "einvoice" / "validate").exists():
        _debian_packages({"default-jre-headless": shutil.which("java") is not None,
                          "libsaxonhe-java": any(Path("/usr/share/java").glob("Saxon-HE*.jar"))},
                         "the e-invoice rules test will skip.")


def ensure_chromium() -> None:
    """Browser tests drive Debian's Chromium; install it when we may (root + apt).
    Without it they skip with a loud reason, or fail under REQUIRE_BROWSER=1."""
    _debian_packages({"chromium": Path("/usr/bin/chromium").exists()}, "browser tests will skip.")


# Both cores (CI's machine has two): tests that share a server started per module or
# per session stay on one worker (tests/conftest.py: xdist_group). `-n 0` after the
# command runs everything in one process.
PARALLEL = ["-n", "auto"]


def install() -> None:
    ensure_venv()
    ensure_chromium()
    ensure_pdf_libraries()
    ensure_einvoice_validator()
    compile_catalogs()


def test(extra: list[str]) -> int:
    install()
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(ROOT / ".hypothesis")}
    return subprocess.run([str(PYTHON), "-m", "pytest", *PARALLEL, *extra], cwd=ROOT, env=env).returncode


def test_on(moment: str, extra: list[str]) -> int:
    """M7: the suite with every process's clock moved to `moment` (UTC, running on
    from there), by libfaketime preloaded into the whole process tree. The library
    is the one the PyPI package `libfaketime` builds: Debian's 0.9.10 makes Python's
    time.sleep fail (EINVAL) unless monotonic time is faked too, and then timed
    waits on locks never end."""
    ensure_venv()
    compile_catalogs()
    found = subprocess.run([str(PYTHON), "-c", "import libfaketime, os; print(os.path.dirname(libfaketime.__file__))"],
                           check=True, capture_output=True, text=True).stdout.strip()
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(ROOT / ".hypothesis"), "TZ": "UTC",
           "LD_LIBRARY_PATH": str(Path(found) / "vendor" / "libfaketime" / "src"),
           "LD_PRELOAD": "libfaketime.so.1", "FAKETIME": f"@{moment}",
           # Real monotonic time: timeouts and sleeps keep working.
           "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           # Processes started later (servers, commands) continue the same timeline
           # instead of each starting again at `moment`.
           "FAKETIME_DONT_RESET": "1"}
    print(f"+ the clock moved to {moment} UTC", flush=True)
    return subprocess.run([str(PYTHON), "-m", "pytest", *PARALLEL, *extra], cwd=ROOT, env=env).returncode


def bench(extra: list[str]) -> int:
    ensure_venv()
    compile_catalogs()
    return subprocess.run([str(PYTHON), "-m", "bench", *extra], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test", "install", "test-on", "translations", "bench"):
        print(__doc__)
        return 2
    if argv[0] == "serve":
        serve()
        return 0
    if argv[0] == "install":
        install()
        return 0
    if argv[0] == "translations":
        ensure_venv()
        return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *argv], cwd=ROOT).returncode
    if argv[0] == "bench":
        return bench(argv[1:])
    if argv[0] == "test-on":
        if len(argv) < 2:
            print('Give the moment, in UTC: python3 dev.py test-on "2028-02-29 23:30:00" [pytest args]')
            return 2
        return test_on(argv[1], argv[2:])
    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
