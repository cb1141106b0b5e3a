import pytest


@pytest.fixture(autouse=True)
def no_crash_on_any_instance(request):
    """Never a 500 (S1): after each live test, no instance logged an exception; when
    one did, its traceback is the failure message."""
    live = request.getfixturevalue("live") if "live" in request.fixturenames else None
    yield
    if live is not None:
        crashes = live.crashes()
        assert crashes == [], "\n".join(crashes)
