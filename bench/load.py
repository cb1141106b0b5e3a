"""The load generator, run as its own process (`python -m bench.load < plan.json`):
signs in, then requests each target from `concurrency` threads for a fixed time
and prints one JSON line per target (latencies in ms, requests per second).

Loopback only, bounded in time: every target runs `warmup + seconds`, and each
request has a timeout.
"""
from __future__ import annotations

import http.client
import json
import re
import sys
import threading
import time
from html import unescape
from urllib.parse import urlencode, urlsplit

TIMEOUT = 30
# A page slower than the measured time still gets this many measured requests (a p95 of
# fewer is its slowest), for at most EXTRA_SECONDS more.
MIN_SAMPLES = 10
EXTRA_SECONDS = 60
# Each list's last page is loaded too (issue 28: first and last page alike).
LAST_PAGES = ("overview", "settle", "partial", "invoices", "payments", "methods")
PAGER_LAST = re.compile(r'<a\b[^>]*\bdata-pager="last"[^>]*>')
HREF = re.compile(r'\bhref="([^"]*)"')
PAGER_NAV = re.compile(r'<nav class="pagination".*?</nav>', re.S)
INVOICE_LINK = re.compile(r'href="([^"?]*/invoices/\d+)"')


class Client:
    """One keep-alive connection (reopened when the server closes it) and a cookie."""

    def __init__(self, host: str, port: int, cookie: str = ""):
        assert host in ("127.0.0.1", "localhost", "::1"), "the benchmark only talks to loopback"
        self.host, self.port, self.cookie = host, port, cookie
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)

    def request(self, method: str, path: str, headers: dict | None = None, body: str | None = None):
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return response, data


CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')


def csrf_token(html: bytes) -> str:
    match = CSRF.search(html.decode())
    assert match, "no CSRF token on the page"
    return unescape(match.group(1) or match.group(2))


def sign_in(host: str, port: int, email: str, password: str) -> str:
    client = Client(host, port)
    _, page = client.request("GET", "/sv/sign-in")
    response, _ = client.request("POST", "/sv/sign-in", body=urlencode(
        {"csrf_token": csrf_token(page), "email": email, "password": password}))
    assert response.status == 303, f"sign-in as {email} failed: {response.status}"
    return client.cookie


def find_last_pages(first: dict[str, tuple[str, str, dict]], get) -> dict[str, tuple[str, str, dict]]:
    """Each list's last page: the pager's link marked data-pager="last" (keyset pagers),
    else the pager's last link (`?page=N`); and the detail of the last invoice listed on
    the Invoices' last page. A list of one page has none. `get(user, path, headers)`
    answers a page's HTML (served, or in process: bench/page_cpu.py)."""
    found = {}
    for name in LAST_PAGES:
        user, path, headers = first[name]
        html = get(user, path, headers).decode()
        marked, nav = PAGER_LAST.search(html), PAGER_NAV.search(html)
        links = HREF.findall(marked.group(0) if marked else nav.group(0) if nav and 'rel="next"' in nav.group(0)
                             else "")
        if links:
            found[f"{name}_last"] = (user, unescape(links[-1]), headers)
    if "invoices_last" in found:
        user, path, _ = found["invoices_last"]
        invoices = INVOICE_LINK.findall(get(user, path, {}).decode())
        if invoices:
            found["invoice_last"] = (user, unescape(invoices[-1]), {})
    return found


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 1)) - 1))
    return sorted_values[index]


def stats(values: list[float], seconds: float, concurrency: int) -> dict:
    values = sorted(values)
    mean = sum(values) / len(values) if values else float("nan")
    # Closed loop: each connection waits for its answer, so throughput is
    # connections / mean latency (also right when requests alternate with the baseline).
    return {"requests": len(values), "rps": concurrency * 1000 / mean if values else 0.0, "mean": mean,
            "p50": percentile(values, 0.50), "p95": percentile(values, 0.95), "p99": percentile(values, 0.99)}


def run_target(host: str, port: int, cookie: str, path: str, headers: dict, baseline: str | None,
               seconds: float, warmup: float, concurrency: int) -> dict:
    """Load `path`; with `baseline`, every connection alternates baseline and page, so
    both are measured under the same conditions (other load on the machine included)."""
    sequence = [("page", path, headers)] + ([("baseline", baseline, {})] if baseline else [])
    latencies = {kind: [[] for _ in range(concurrency)] for kind, _, _ in sequence}
    errors = [0] * concurrency
    start_measuring = time.perf_counter() + warmup
    stop = start_measuring + seconds

    def worker(n: int) -> None:
        client = Client(host, port, cookie)
        step = n  # connections start at different points of the sequence
        while True:
            kind, target, target_headers = sequence[step % len(sequence)]
            step += 1
            began = time.perf_counter()
            measured = sum(len(values) for values in latencies["page"])
            if began >= stop and (measured >= MIN_SAMPLES or began >= stop + EXTRA_SECONDS):
                return
            try:
                response, _ = client.request("GET", target, target_headers)
                failed = response.status != 200
            except (OSError, http.client.HTTPException):  # timed out, or the worker was killed
                client, failed = Client(host, port, cookie), True
            ended = time.perf_counter()
            if failed:
                errors[n] += 1
            if began >= start_measuring:
                latencies[kind][n].append((ended - began) * 1000)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=warmup + seconds + EXTRA_SECONDS + TIMEOUT)
    result = {kind: stats([v for per_thread in values for v in per_thread], seconds, concurrency)
              for kind, values in latencies.items()}
    return {**result["page"], "errors": sum(errors), "baseline": result.get("baseline")}


def main() -> int:
    plan = json.load(sys.stdin)
    base = urlsplit(plan["base"])
    host, port = base.hostname, base.port
    cookies = {email: sign_in(host, port, email, plan["password"]) for email in plan["users"]}
    for target in plan["targets"]:
        result = run_target(host, port, cookies[target["user"]], target["path"], target.get("headers", {}),
                            target.get("baseline"), plan["seconds"], plan["warmup"], plan["concurrency"])
        print(json.dumps({"name": target["name"], **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
