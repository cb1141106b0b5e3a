"""Mail fixtures: a real SMTP server (aiosmtpd) on a free local port, delivery of the
outbox into it, and the messages as they arrived. Web fixtures (the demo, a browser
without JavaScript) come from tests/web so links can be followed as the right user."""
from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.mail import outbox_sender
from tests.web.conftest import b, browser, demo

__all__ = ["b", "browser", "demo"]  # the web fixtures, used by the mail tests too


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content().replace("\r\n", "\n")

    @property
    def flat_text(self) -> str:
        """The plain text with its line wrapping undone, to look for whole sentences."""
        return re.sub(r" *\n *", " ", self.text)

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()

    @property
    def links(self) -> list[str]:
        return re.findall(r'<a href="([^"]+)"', self.html)

    @property
    def path(self) -> str:
        """The deep link's path and query, to follow with the test client."""
        [link] = self.links
        parts = urlsplit(link.replace("&amp;", "&"))
        return parts.path + (f"?{parts.query}" if parts.query else "")


class Inbox:
    """aiosmtpd handler: keeps what arrives; refuses (5xx) or defers (4xx) chosen
    recipients, as a real server does for unknown or over-quota mailboxes."""

    def __init__(self):
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.defer: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user here"
        if address.lower() in self.defer:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]

    def by_template_subject(self, fragment: str) -> list[Received]:
        return [r for r in self.received if fragment in r.subject]


class SmtpServer:
    def __init__(self, port: int | None = None, **smtp_params):
        self.inbox = Inbox()
        self.port = port or free_port()
        self.params = smtp_params
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **self.params)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def use_smtp(app, port: int, **settings) -> None:
    app.config.update({"MAIL_BACKEND": "smtp", "MAIL_SMTP_HOST": "127.0.0.1", "MAIL_SMTP_PORT": port,
                       "MAIL_SMTP_SECURITY": "none", "MAIL_SMTP_TIMEOUT": 5, **settings})


@pytest.fixture
def mail_to(app, smtp):
    """The app sends to the test's SMTP server."""
    use_smtp(app, smtp.port)
    return smtp.inbox


def deliver(app, clock, **kw):
    """One `flask mail send` run, in a session of its own (another process)."""
    with app.app_context():
        engine = db.engine
    with Session(engine) as session:
        return outbox_sender(app, clock=clock, session=session, **kw).deliver()
