"""How a rendered email leaves: over SMTP (production) or as an .eml file under
instance/mail/ (the development default). Every failure is one of four kinds, so the
outbox knows whether to retry, give up, or stop for now:

- PermanentFailure: this message will never go through (recipient refused with 5xx,
  content rejected) → failed.
- TemporaryFailure: this message may go through later (4xx, greylisting) → retried.
- ServerUnavailable: the server cannot be reached or will not take mail from us (down,
  TLS or login failed, sender refused) → retried later; the run stops, as every other
  message would fail the same way.
- OutcomeUnknown: the message was handed over but the server's answer never came →
  never retried automatically (no duplicates; see the README).
"""
from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PermanentFailure(DeliveryError):
    pass


class TemporaryFailure(DeliveryError):
    pass


class ServerUnavailable(DeliveryError):
    pass


class OutcomeUnknown(DeliveryError):
    pass


class Transport(Protocol):
    def send(self, email: EmailMessage, recipient: str) -> None: ...
    def close(self) -> None: ...


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"[:500]


def _by_code(code: int, what: str, text: bytes | str) -> DeliveryError:
    kind = PermanentFailure if 500 <= code <= 599 else TemporaryFailure
    return kind(f"{what}: {_reply(code, text)}")


_LEADING_DOT = re.compile(rb"(?m)^\.")


class SmtpTransport:
    """One connection for the whole run, opened at the first message, checked with
    NOOP before each further one. The SMTP transaction is written out (MAIL, RCPT,
    DATA) so a lost answer after the final dot — the one moment where the server may
    have the message and we cannot know — is told apart from every failure before it."""

    def __init__(self, host: str, port: int, *, security: str = "starttls", username: str | None = None,
                 password: str | None = None, timeout: float = 30, ca_file: str | None = None,
                 envelope_from: str = "billing@example.com"):
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self.ca_file, self.envelope_from = ca_file, envelope_from
        self._conn: smtplib.SMTP | None = None

    # -- connection ------------------------------------------------------------------
    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self) -> smtplib.SMTP:
        where = f"{self.host}:{self.port}"
        conn: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls())
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=self._tls())
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
            return conn
        except smtplib.SMTPAuthenticationError as exc:
            reason = f"login refused: {_reply(exc.smtp_code, exc.smtp_error)}"
            error: Exception = exc
        except smtplib.SMTPResponseException as exc:
            reason, error = _reply(exc.smtp_code, exc.smtp_error), exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, DNS, TLS, no STARTTLS
            reason, error = f"{exc.__class__.__name__}: {exc}", exc
        if conn is not None:
            conn.close()
        raise ServerUnavailable(f"{where}: {reason}") from error

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            try:
                code, _text = self._conn.noop()
                if code == 250:
                    return self._conn
            except (OSError, smtplib.SMTPException):
                pass
            self.close()  # the server dropped an idle connection: nothing was sent on it
        self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.quit()
        except (OSError, smtplib.SMTPException):
            self._conn.close()
        self._conn = None

    # -- one message -----------------------------------------------------------------
    def send(self, email: EmailMessage, recipient: str) -> None:
        conn = self._connection()
        sender = parseaddr(self.envelope_from)[1] or self.envelope_from
        international = not (sender.isascii() and recipient.isascii())
        options: list[str] = []
        if international:
            if not conn.has_extn("smtputf8"):
                raise PermanentFailure("the mail server does not accept internationalized addresses (SMTPUTF8)")
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        data = email.as_bytes(policy=policy.SMTPUTF8 if international else policy.SMTP)
        try:
            code, text = conn.mail(sender, options)
            if code != 250:
                self._reset()
                raise ServerUnavailable(f"sender {sender} refused: {_reply(code, text)}")
            code, text = conn.rcpt(recipient)
            if code not in (250, 251):
                self._reset()
                raise _by_code(code, f"recipient {recipient} refused", text)
            code, text = conn.docmd("DATA")
            if code != 354:
                self._reset()
                raise _by_code(code, "DATA refused", text)
            body = _LEADING_DOT.sub(b"..", data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            conn.send(body + b".\r\n")
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            # Before the final dot: the server must discard a half-received message.
            self._drop()
            raise ServerUnavailable(f"connection lost: {exc.__class__.__name__}: {exc}") from exc
        try:
            code, text = conn.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self._drop()
            raise OutcomeUnknown(f"no answer after the message was sent: {exc.__class__.__name__}: {exc}") from exc
        if code != 250:
            raise _by_code(code, "message refused", text)

    def _reset(self) -> None:
        try:
            self._conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


class FileTransport:
    """Development: each message becomes instance/mail/<date>-<Message-ID>.eml, which
    any mail program opens. Writing is atomic, and a file that exists is a message
    already delivered, so this transport never writes one twice."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def path_for(self, email: EmailMessage) -> Path:
        key = email["Message-ID"].strip("<>").partition("@")[0]
        when = email["Date"].datetime.strftime("%Y%m%d-%H%M%S")
        return self.directory / f"{when}-{key}.eml"

    def send(self, email: EmailMessage, recipient: str) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.path_for(email)
            if path.exists():
                log.info("%s exists: already delivered", path.name)
                return
            fd, temp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                out.write(email.as_bytes(policy=policy.default))
            os.replace(temp, path)
        except OSError as exc:
            raise ServerUnavailable(f"cannot write to {self.directory}: {exc}") from exc

    def close(self) -> None:
        pass


def transport_from_config(config) -> Transport:
    if config["MAIL_BACKEND"] == "file":
        return FileTransport(config["MAIL_DIR"])
    return SmtpTransport(
        config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], security=config["MAIL_SMTP_SECURITY"],
        username=config["MAIL_SMTP_USERNAME"], password=config["MAIL_SMTP_PASSWORD"],
        timeout=config["MAIL_SMTP_TIMEOUT"], ca_file=config["MAIL_SMTP_CA_FILE"],
        envelope_from=config["MAIL_FROM"])
