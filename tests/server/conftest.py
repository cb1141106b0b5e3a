"""The live deployments, started once per session and database (on the one xdist worker
that runs every test here: they share the group "live-deployments") and reset to the
seeded demo before each test."""
from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.server.flask_forks import Forks
from tests.server.live import ROOT, live_deployment

# How long a charge with the sandbox's timeout card keeps its request waiting: short,
# so the fault tests wait seconds, not the default ten.
GATEWAY_TIMEOUT = 4
LATENCY_MS = 1500   # the race files' gateway: like a real processor


@pytest.fixture(scope="session")
def deployments(tmp_path_factory):
    """deployments("sqlite" | "postgresql") → the running deployment, started on first
    use. A deployment that could not start (or is skipped: no PostgreSQL) says so again
    to every later test instead of being tried again."""
    yield from started_on_first_use(lambda backend, stack: stack.enter_context(live_deployment(
        backend, tmp_path_factory.mktemp(f"live-{backend}"), SANDBOX_GATEWAY_TIMEOUT_SECONDS=str(GATEWAY_TIMEOUT))))


@pytest.fixture(scope="session")
def race_deployments(tmp_path_factory):
    """The deployment of the race files (test_live_races*.py), per database: a gateway
    that takes 1.5 s a charge and a fork server for `flask` commands. One for the
    session, not one per file: each start migrates, seeds and boots two instances (up to
    50 s on CI's moved clock), and every test resets it to the seeded demo anyway."""
    yield from slow_gateway_deployments(tmp_path_factory, "races")


def slow_gateway_deployments(tmp_path_factory, name: str):
    """A deployment per database for a file (the shared ones answer in 300 ms), its
    PostgreSQL database `name`: the gateway takes LATENCY_MS, and a fork server runs its
    `flask` commands at once. Started on first use; one that could not start says so
    again to every later test."""
    def start(backend: str, stack: ExitStack):
        running = stack.enter_context(live_deployment(
            backend, tmp_path_factory.mktemp(f"{name}-{backend}"), postgres_database=name,
            SANDBOX_GATEWAY_LATENCY_MS=str(LATENCY_MS), SANDBOX_GATEWAY_TIMEOUT_SECONDS=str(GATEWAY_TIMEOUT)))
        running.forks = Forks(running.deploy.env, ROOT)
        stack.callback(running.forks.close)
        running.cookies = {}
        return running
    yield from started_on_first_use(start)


def started_on_first_use(start):
    """backend → what `start(backend, stack)` made, started on first use and closed with
    the fixture; one that could not start (or was skipped) says so again to every later
    test instead of being tried again."""
    started: dict[str, object] = {}
    with ExitStack() as stack:
        def get(backend: str):
            if backend not in started:
                try:
                    started[backend] = start(backend, stack)
                except BaseException as refusal:  # a skip, too
                    started[backend] = refusal
                    raise
            if isinstance(started[backend], BaseException):
                raise started[backend]
            return started[backend]
        yield get


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, deployments):
    """The demo on one database, served by instances A and B, as freshly seeded."""
    running = deployments(request.param)
    running.reset()
    return running


@pytest.fixture(autouse=True)
def no_crash_on_any_instance(request):
    """Never a 500 (S1): after each live test, no instance logged an exception; when
    one did, its traceback is the failure message."""
    live = request.getfixturevalue("live") if "live" in request.fixturenames else None
    yield
    if live is not None:
        crashes = live.crashes()
        assert crashes == [], "\n".join(crashes)
