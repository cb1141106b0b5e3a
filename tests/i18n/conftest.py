"""The page tests' fixtures: the demo data and a browser-like client."""
from tests.web import conftest as web

b, browser, demo = web.b, web.browser, web.demo
