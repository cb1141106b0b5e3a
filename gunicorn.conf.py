"""Read by gunicorn from the working directory (`gunicorn wsgi:app`): settings that
belong to the server rather than the app."""
from gunicorn.http import wsgi

_default_headers = wsgi.Response.default_headers


def _without_server_banner(self):
    """No `Server: gunicorn` header: the software behind the portal is nobody's business."""
    return [line for line in _default_headers(self) if not line.lower().startswith("server:")]


wsgi.Response.default_headers = _without_server_banner

# A worker is killed after `timeout` seconds without a word to the master — with sync
# workers, that is one request taking that long. A payment request charges the card
# and then records it (portal/billing/payments/engine.py): killed in between, the money
# has moved and nothing says so until the attempt is finished (`flask payments
# reconcile`, or the account's next visit). Recording is bounded — a handful of
# set-based statements whatever the account's size — but a reseller's settlement of
# 100,000 past-due subscriptions still took 11.5 s end to end on this project's
# 2-CPU machine (load 1.8; `python -m bench.settle_at_size`; issue 28's budget is 3 s),
# and a busy machine runs several times slower; gunicorn's default of 30 s is too
# close to that. 120 s leaves every payment time to record, and a restart
# (graceful_timeout) lets the request in hand finish the same way.
timeout = 120
# The longest request line gunicorn takes (its default is half): the API's list filters
# repeat in query strings, and a refusal from the app (a problem+json 400/422) says why,
# where gunicorn's own 414 is a bare HTML page outside the API's documented answers.
limit_request_line = 8190
graceful_timeout = 120


def post_worker_init(worker):
    """The app is loaded (about 170,000 objects: SQLAlchemy's mappers, Babel's locale
    data, the compiled templates) and lives as long as the worker. Frozen out of the
    cyclic garbage collector's sight: otherwise every full collection walks all of them
    — about 100 ms, landing on whichever request happens to run then (issue 28: a list
    page's p95)."""
    import gc

    gc.collect()
    gc.freeze()
