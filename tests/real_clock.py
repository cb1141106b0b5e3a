"""Chromium on the real clock in a moved-clock run (`python3 dev.py test-on`, M7)."""
from __future__ import annotations

import contextlib
import os

# What `python3 dev.py test-on` sets to move the clock of the whole process tree.
FAKETIME_VARIABLES = ("LD_PRELOAD", "LD_LIBRARY_PATH", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC",
                      "FAKETIME_DONT_RESET")


@contextlib.contextmanager
def real_clock():
    """Playwright's driver and Chromium start on the real clock, also in a moved-clock
    run: libfaketime in Chromium's own processes now and then stalls a page load, and
    the pages' days come from the app's server, whose clock stays moved. (Cookies'
    lifetimes are Max-Age, relative, so the two clocks never disagree on them.)"""
    moved = {name: os.environ.pop(name) for name in FAKETIME_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(moved)
