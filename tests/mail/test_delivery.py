"""Delivering the outbox against a real SMTP server: at most once when the outcome is
unknown, retried when the server is down or says "later", failed when a recipient is
refused or an address is malformed — and never an exception that stops the queue.
Several senders at once send each message once."""
from __future__ import annotations

import subprocess
import threading
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from portal.billing.accounts import notify
from portal.mail.outbox import RetryPolicy
from portal.mail.transport import transport_from_config
from portal.models import OutboxMessage, OutboxStatus
from tests import factories as f
from tests.mail.conftest import SmtpServer, deliver, free_port, use_smtp


def queue(b, *addresses: str) -> list[int]:
    """Support-request confirmations to the given addresses, queued as a service would."""
    account = f.account(b)
    ids = []
    for n, address in enumerate(addresses):
        message = notify.queue_email(b.session, b.clock, account, "support_request_received",
                                     {"request_id": n + 1, "subject": f"Fråga {n + 1}"}, to_address=address)
        b.session.flush()
        ids.append(message.id)
    b.session.commit()
    return ids


def rows(b) -> dict[int, OutboxMessage]:
    b.session.rollback()  # a fresh snapshot: the senders ran in sessions of their own
    return {m.id: m for m in b.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))}


def message_ids(inbox) -> list[str]:
    return [r.message["Message-ID"] for r in inbox.received]


class SimulatedCrash(BaseException):
    """The process dies (kill -9, power cut): nothing after this point runs."""


class CrashAfterSending:
    """The real SMTP transport, and a crash right after the server said 250 — before
    the outbox row could be marked sent."""

    def __init__(self, inner):
        self.inner = inner

    def send(self, email, recipient):
        self.inner.send(email, recipient)
        raise SimulatedCrash()

    def close(self):
        self.inner.close()


def test_outbox_no_duplicate_after_a_crash_between_send_and_mark(app, b, clock, mail_to, runner):
    first, *others = queue(b, "a@example.com", "b@example.com", "c@example.com")
    with pytest.raises(SimulatedCrash):
        deliver(app, clock, transport=CrashAfterSending(transport_from_config(app.config)))
    assert [r.to for r in mail_to.received] == ["a@example.com"]
    assert rows(b)[first].status == OutboxStatus.SENDING

    report = deliver(app, clock)  # the next cron run, at once: the rest, not the crashed one
    assert report.sent == 2 and sorted(r.to for r in mail_to.received) == ["a@example.com", "b@example.com",
                                                                           "c@example.com"]
    clock.advance(1)  # long after the claim expired
    report = deliver(app, clock)
    crashed = rows(b)[first]
    assert (report.sent, report.outcome_unknown) == (0, 1)
    assert crashed.status == OutboxStatus.FAILED and crashed.last_error.startswith("outcome unknown")
    assert len(mail_to.received) == 3 == len(set(message_ids(mail_to)))  # no duplicate

    # An operator who finds it missing in the server's log sends it again: same Message-ID.
    result = runner.invoke(args=["mail", "requeue", str(first)])
    assert result.exit_code == 0 and "1 message(s) queued again" in result.output
    deliver(app, clock)
    assert message_ids(mail_to).count(message_ids(mail_to)[0]) == 2


def test_outbox_server_down_is_retried_later_and_delivered_when_it_is_back(app, b, clock, runner):
    port = free_port()  # nothing listens here: the server is down
    use_smtp(app, port)
    first, second = queue(b, "a@example.com", "b@example.com")
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 1 and "Mail server unavailable" in result.output
    assert "0 sent, 0 failed, 1 to retry later" in result.output
    down = rows(b)
    assert (down[first].status, down[first].attempts) == (OutboxStatus.PENDING, 1)
    assert down[first].next_attempt_at == clock.now() + timedelta(minutes=5)
    assert "ConnectionRefusedError" in down[first].last_error
    assert down[second].attempts == 0  # the run stopped: no attempt wasted on the others

    server = SmtpServer(port).start()
    try:
        runner.invoke(args=["mail", "send"])  # same moment: the first is not due yet
        assert [r.to for r in server.inbox.received] == ["b@example.com"]
        clock.advance(1)
        result = runner.invoke(args=["mail", "send"])
        assert result.exit_code == 0 and "1 sent" in result.output
        assert sorted(r.to for r in server.inbox.received) == ["a@example.com", "b@example.com"]
        assert {m.status for m in rows(b).values()} == {OutboxStatus.SENT}
    finally:
        server.stop()


def test_outbox_refused_recipient_is_failed_while_the_others_still_go_out(app, b, clock, mail_to):
    mail_to.refuse.add("nobody@example.com")
    mail_to.defer.add("busy@example.com")
    ok1, refused, busy, ok2 = queue(b, "a@example.com", "nobody@example.com", "busy@example.com", "d@example.com")
    report = deliver(app, clock)
    assert (report.sent, report.failed, report.retry_later) == (2, 1, 1)
    assert sorted(r.to for r in mail_to.received) == ["a@example.com", "d@example.com"]
    after = rows(b)
    assert after[refused].status == OutboxStatus.FAILED and "550" in after[refused].last_error
    assert after[busy].status == OutboxStatus.PENDING and "450" in after[busy].last_error  # greylisted: later
    mail_to.defer.clear()
    clock.advance(1)
    assert deliver(app, clock).sent == 1 and rows(b)[busy].status == OutboxStatus.SENT


def test_outbox_malformed_addresses_saved_before_validation_are_failed_not_raised(app, b, clock, mail_to):
    good, = queue(b, "a@example.com")
    for address in ("anna.example.com", "anna@@example.com", "a@example.com\r\nBcc: evil@example.com", ""):
        b.session.add(OutboxMessage(template="receipt", to_address=address, locale="sv", payload={},
                                    message_key=f"legacy-{len(address)}", created_at=clock.now()))
    b.session.commit()
    report = deliver(app, clock)
    assert (report.sent, report.failed) == (1, 4)
    assert [r.to for r in mail_to.received] == ["a@example.com"]
    failed = [m for m in rows(b).values() if m.id != good]
    assert all(m.status == OutboxStatus.FAILED and m.last_error.startswith("malformed address") for m in failed)


def test_outbox_a_message_that_cannot_be_rendered_does_not_stop_the_queue(app, b, clock, mail_to):
    broken = OutboxMessage(template="no_such_template", to_address="a@example.com", locale="sv",
                           payload={}, message_key="broken-1", created_at=clock.now())
    b.session.add(broken)
    b.session.commit()
    queue(b, "b@example.com")
    report = deliver(app, clock)
    assert (report.sent, report.retry_later) == (1, 1)
    assert "UnknownTemplate" in rows(b)[broken.id].last_error


def test_outbox_gives_up_after_the_last_attempt(app, b, clock):
    use_smtp(app, free_port(), MAIL_MAX_ATTEMPTS=2)
    message, = queue(b, "a@example.com")
    deliver(app, clock)
    clock.advance(1)
    deliver(app, clock)
    gave_up = rows(b)[message]
    assert (gave_up.status, gave_up.attempts) == (OutboxStatus.FAILED, 2)
    assert gave_up.last_error.startswith("gave up after 2 attempts")


def test_outbox_backoff_doubles_up_to_a_ceiling():
    retry = RetryPolicy()
    assert [retry.delay_after(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (5, 10, 20, 40)]
    assert retry.delay_after(9) == timedelta(hours=6)


def test_outbox_several_senders_at_once_send_each_message_once(app, b, clock, mail_to):
    """Four cron runs start together (each its own database connection and SMTP
    connection, as on four machines): every message arrives exactly once."""
    queued = queue(b, *[f"user{n}@example.com" for n in range(40)])
    start, reports, errors = threading.Barrier(4), [], []

    def run():
        try:
            start.wait(timeout=10)
            reports.append(deliver(app, clock))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(reports) == 4
    assert sum(r.sent for r in reports) == 40
    assert len(mail_to.received) == 40 == len(set(message_ids(mail_to)))
    assert {m.status for m in rows(b).values()} == {OutboxStatus.SENT} and len(queued) == 40
    assert len({m.claimed_by for m in rows(b).values()}) > 1  # they really did share the work


def test_outbox_answer_lost_after_the_message_is_an_unknown_outcome_and_not_resent(app, b, clock):
    """The server takes the message and the connection dies before its 250: it may be
    delivered, so it is not sent again (the same rule as a crash)."""

    class DropsTheAnswer:
        def __init__(self):
            self.received = 0

        async def handle_DATA(self, server, session, envelope):
            self.received += 1
            server.transport.abort()
            return "250 OK"

    handler = DropsTheAnswer()
    port = free_port()
    from aiosmtpd.controller import Controller
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        use_smtp(app, port)
        message, = queue(b, "a@example.com")
        report = deliver(app, clock)
        clock.advance(1)
        deliver(app, clock)
    finally:
        controller.stop()
    assert report.outcome_unknown == 1 and handler.received == 1
    assert rows(b)[message].status == OutboxStatus.FAILED
    assert rows(b)[message].last_error.startswith("outcome unknown: no answer after the message was sent")


# --- TLS and credentials ---------------------------------------------------------------

@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


def server_tls(certificate):
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def only_portal(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"portal", b"s3cret")
    return AuthResult(success=ok, handled=False)


def test_outbox_starttls_with_credentials_and_a_refused_login(app, b, clock, certificate):
    server = SmtpServer(tls_context=server_tls(certificate), require_starttls=True,
                        authenticator=only_portal, auth_required=True, auth_require_tls=True).start()
    try:
        use_smtp(app, server.port, MAIL_SMTP_SECURITY="starttls", MAIL_SMTP_CA_FILE=str(certificate[0]),
                 MAIL_SMTP_USERNAME="portal", MAIL_SMTP_PASSWORD="wrong")
        message, = queue(b, "a@example.com")
        report = deliver(app, clock)
        assert "login refused: 535" in report.server_unavailable and rows(b)[message].status == OutboxStatus.PENDING
        app.config["MAIL_SMTP_PASSWORD"] = "s3cret"
        clock.advance(1)
        assert deliver(app, clock).sent == 1
        [received] = server.inbox.received
        assert received.to == "a@example.com" and received.mail_from == app.config["MAIL_FROM"]
    finally:
        server.stop()


def test_outbox_implicit_tls_verifies_the_server_certificate(app, b, clock, certificate):
    server = SmtpServer(ssl_context=server_tls(certificate)).start()
    try:
        use_smtp(app, server.port, MAIL_SMTP_SECURITY="ssl")
        queue(b, "a@example.com")
        report = deliver(app, clock)  # our own CA is not trusted yet
        assert "CERTIFICATE_VERIFY_FAILED" in report.server_unavailable
        app.config["MAIL_SMTP_CA_FILE"] = str(certificate[0])
        clock.advance(1)
        assert deliver(app, clock).sent == 1 and len(server.inbox.received) == 1
    finally:
        server.stop()


# --- the development default: .eml files ----------------------------------------------------

def test_mail_send_in_development_writes_each_message_once_as_an_eml_file(app, b, clock, runner, tmp_path):
    assert app.config["MAIL_BACKEND"] == "file"
    queue(b, "a@example.com", "b@example.com")
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0 and result.output.startswith("2 sent, 0 failed")
    emails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in (tmp_path / "mail").glob("*.eml")]
    assert sorted(e["To"] for e in emails) == ["a@example.com", "b@example.com"]
    email = emails[0]
    assert email["Subject"] == "Vi har tagit emot din supportbegäran"
    assert email.get_body(("html",)) is not None and email.get_body(("plain",)) is not None
    # A crash after writing: the file already there is the message delivered, not a new one.
    with app.app_context():
        from portal.extensions import db
        db.session.execute(OutboxMessage.__table__.update().values(status="pending", claimed_by=None))
        db.session.commit()
    assert runner.invoke(args=["mail", "send"]).output.startswith("2 sent")
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 2
    status = runner.invoke(args=["mail", "status"])
    assert status.output.startswith("0 pending, 0 sending, 2 sent, 0 failed")


def test_mail_status_lists_failed_messages_with_their_reason(app, b, clock, runner):
    b.session.add(OutboxMessage(template="receipt", to_address="broken", locale="sv", payload={},
                                message_key="legacy-status", created_at=datetime(2026, 11, 1)))
    b.session.commit()
    runner.invoke(args=["mail", "send"])
    output = runner.invoke(args=["mail", "status"]).output
    assert "1 failed" in output and "receipt to broken" in output and "malformed address" in output
