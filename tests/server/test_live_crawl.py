"""A bounded crawl of the real deployment (issue 14): as a visitor and as each kind of
demo user, follow every link of the portal, each page also with a hostile query
string; no answer may be a 5xx, lack a security header, or name the server software."""
from __future__ import annotations

import re
from collections import deque
from html import unescape

import pytest

from tests.server.live import Client

HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options",
           "permissions-policy", "strict-transport-security")
HOSTILE = "lang=en&endpoint=pages.home&_external=1&_scheme=javascript&_anchor=x&page=%C2%B2&chosen_page=%D9%A3"
MAX_PAGES = 200  # answers per visitor, at most: the demo has fewer pages than this
LINK = re.compile(r'href="(/[^"]*)"')




def crawl(client: Client, start: str) -> tuple[list[tuple], int]:
    seen, queue, problems, answered = {start}, deque([start]), [], 0
    while queue and answered < MAX_PAGES:
        path = queue.popleft()
        for url in (path, f"{path}{'&' if '?' in path else '?'}{HOSTILE}"):
            status, headers, body = client.get(url)
            answered += 1
            missing = [h for h in HEADERS if h not in headers]
            if status >= 500 or missing or "server" in headers:
                problems.append((url, status, missing, headers.get("server")))
            found = LINK.findall(body) if status == 200 else [headers.get("location", "")]
            if url is path:
                for link in found:
                    if not link.startswith("/") or link.startswith("//"):
                        continue
                    link = unescape(link).split("#")[0]
                    if link.startswith("/static/") or "sign-out" in link or link in seen:
                        continue
                    seen.add(link)
                    queue.append(link)
    return problems, answered


@pytest.mark.parametrize("who", [None, "anna@example.com", "erik@example.com", "olivia@example.com",
                                 "rasmus@example.com", "jonas@example.com"])
def test_a_crawl_of_the_real_deployment_finds_no_5xx_and_no_answer_without_headers(live, who):
    client = Client(live.a)
    if who:
        client.sign_in(who)
    problems, answered = crawl(client, "/sv/" if who else "/sv/sign-in")
    assert problems == []
    assert answered >= (20 if who else 4), answered  # it did get around
