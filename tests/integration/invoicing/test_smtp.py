"""Mail through SmtpMailer to a real SMTP server (aiosmtpd, on a local port): what arrives, and
how each kind of refusal or failure reaches the caller: a bounce is permanent, a deferral or an
unreachable server is worth retrying."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from shared.clock import FixedClock
from shared.mail import (
    Attachment,
    DeliveryError,
    MailerUnavailable,
    MailServer,
    MessageRefused,
    OutgoingMail,
    RecipientRefused,
    SmtpMailer,
)

SENDER = "Riverside Billing <billing@riverside.example>"
CUSTOMER = "ada@example.com"
NO_SUCH_MAILBOX = "nobody@example.com"
GREYLISTED = "temporarily@example.com"
SPAM_TRAP = "spamtrap@example.com"  # accepted as a recipient, the message is then refused
USERNAME, PASSWORD = "invoicing", "correct horse"
NOW = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
TIMEOUT_SECONDS = 0.3
INVOICE_PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


class Mailbox:
    """An SMTP server's handler: keeps what it accepts and refuses some recipients."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.logins: list[str] = []

    async def handle_RCPT(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address == NO_SUCH_MAILBOX:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address == GREYLISTED:
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if SPAM_TRAP in envelope.rcpt_tos:
            return "554 5.7.1 message refused as spam"
        self.envelopes.append(envelope)
        if session.authenticated:
            self.logins.append(str(session.auth_data.login, "utf-8"))
        return "250 2.0.0 accepted"

    def received(self) -> EmailMessage:
        (envelope,) = self.envelopes
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        return message


def check_login(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    valid = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers a failed login with its 535 itself
    return AuthResult(success=valid, handled=False, auth_data=auth_data)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port(mailbox: Mailbox) -> Iterator[int]:
    """A real SMTP server on a local port; login is offered without TLS, as on a private relay."""
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=check_login,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def mailer(port: int, **settings: Any) -> SmtpMailer:
    server = MailServer(
        **{"host": "127.0.0.1", "port": port, "sender": SENDER, "timeout_seconds": 5} | settings
    )
    return SmtpMailer(server, clock=FixedClock(NOW))


def invoice_mail(to: str = CUSTOMER) -> OutgoingMail:
    return OutgoingMail(
        to=to,
        subject="Your invoice INV-2026-000001 from Riverside Family Clinic",
        text="Dear Ada,\n\nyour invoice is attached.\n",
        attachments=[
            Attachment(
                filename="INV-2026-000001.pdf", content=INVOICE_PDF, mime_type="application/pdf"
            )
        ],
    )


async def test_a_mail_arrives_with_its_attachment_and_the_returned_message_id(
    smtp_port: int, mailbox: Mailbox
) -> None:
    message_id = await mailer(smtp_port).send(invoice_mail())

    (envelope,) = mailbox.envelopes
    assert envelope.mail_from == "billing@riverside.example"
    assert envelope.rcpt_tos == [CUSTOMER]
    received = mailbox.received()
    assert received["Message-ID"] == message_id
    assert message_id.startswith("<") and message_id.endswith("@riverside.example>")
    assert received["Subject"] == "Your invoice INV-2026-000001 from Riverside Family Clinic"
    assert received["To"] == CUSTOMER
    assert received["From"] == SENDER
    assert received["Date"].datetime == NOW
    body = received.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == "Dear Ada,\n\nyour invoice is attached.\n"
    (attachment,) = received.iter_attachments()
    assert attachment.get_filename() == "INV-2026-000001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == INVOICE_PDF


async def test_each_mail_gets_its_own_message_id(smtp_port: int, mailbox: Mailbox) -> None:
    sender = mailer(smtp_port)

    first = await sender.send(invoice_mail())
    second = await sender.send(invoice_mail())

    assert first != second
    assert len(mailbox.envelopes) == 2


async def test_a_mailbox_the_server_refuses_for_good_is_a_permanent_bounce(
    smtp_port: int, mailbox: Mailbox
) -> None:
    with pytest.raises(RecipientRefused) as refused:
        await mailer(smtp_port).send(invoice_mail(to=NO_SUCH_MAILBOX))

    assert refused.value.recipient == NO_SUCH_MAILBOX
    assert refused.value.code == 550
    assert "mailbox unavailable" in refused.value.reason
    assert refused.value.permanent is True
    assert mailbox.envelopes == []


async def test_a_recipient_deferred_with_451_is_worth_retrying(
    smtp_port: int, mailbox: Mailbox
) -> None:
    with pytest.raises(MailerUnavailable, match="451") as deferred:
        await mailer(smtp_port).send(invoice_mail(to=GREYLISTED))

    assert deferred.value.permanent is False
    assert mailbox.envelopes == []


async def test_a_message_refused_after_its_content_is_permanent_but_not_a_bounce(
    smtp_port: int,
) -> None:
    with pytest.raises(MessageRefused) as refused:
        await mailer(smtp_port).send(invoice_mail(to=SPAM_TRAP))

    assert refused.value.code == 554
    assert refused.value.permanent is True
    assert not isinstance(refused.value, RecipientRefused)


async def test_the_mailer_logs_in_when_given_credentials(smtp_port: int, mailbox: Mailbox) -> None:
    await mailer(smtp_port, username=USERNAME, password=PASSWORD).send(invoice_mail())

    assert mailbox.logins == [USERNAME]


async def test_a_refused_login_is_ours_to_fix_and_worth_retrying(
    smtp_port: int, mailbox: Mailbox
) -> None:
    with pytest.raises(MailerUnavailable, match="535") as refused:
        await mailer(smtp_port, username=USERNAME, password="wrong").send(invoice_mail())

    assert refused.value.permanent is False
    assert mailbox.envelopes == []


async def test_starttls_the_server_does_not_offer_is_unavailable(smtp_port: int) -> None:
    with pytest.raises(MailerUnavailable, match="STARTTLS"):
        await mailer(smtp_port, use_starttls=True).send(invoice_mail())


async def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound but not listening: connections are refused

        with pytest.raises(MailerUnavailable, match="cannot connect") as unavailable:
            await mailer(port).send(invoice_mail())

    assert unavailable.value.permanent is False


async def test_a_server_that_never_greets_is_unavailable_after_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nobody ever answers
        port = silent.getsockname()[1]

        with pytest.raises(MailerUnavailable, match="cannot connect"):
            await mailer(port, timeout_seconds=TIMEOUT_SECONDS).send(invoice_mail())


def test_every_delivery_error_says_whether_retrying_can_help() -> None:
    errors: list[DeliveryError] = [
        RecipientRefused(NO_SUCH_MAILBOX, 550, "mailbox unavailable"),
        MessageRefused(554, "refused as spam"),
        MailerUnavailable("connection refused"),
    ]

    assert [error.permanent for error in errors] == [True, True, False]


@pytest.mark.parametrize(
    "field, value",
    [
        ("to", "not an address"),
        ("to", "ada@example.com\r\nBcc: everyone@example.com"),
        ("subject", "Invoice\r\nBcc: everyone@example.com"),
    ],
)
def test_a_mail_that_could_smuggle_in_headers_is_refused(field: str, value: str) -> None:
    fields = {"to": CUSTOMER, "subject": "Invoice", "text": "Attached."} | {field: value}

    with pytest.raises(ValueError):
        OutgoingMail(**fields)


async def test_names_and_subjects_outside_ascii_arrive_intact(
    smtp_port: int, mailbox: Mailbox
) -> None:
    mail = OutgoingMail(
        to=f"Łukasz Żółć <{CUSTOMER}>",
        subject="Rechnung INV-2026-000001 für Łukasz Żółć",
        text="Grüße aus Łódź\n",
    )

    await mailer(smtp_port).send(mail)

    received = mailbox.received()
    assert received["To"].addresses[0].display_name == "Łukasz Żółć"
    assert received["Subject"] == "Rechnung INV-2026-000001 für Łukasz Żółć"
    assert mailbox.envelopes[0].rcpt_tos == [CUSTOMER]


def test_a_server_is_reached_one_way_or_the_other_over_tls() -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        MailServer(host="mail.example", port=465, sender=SENDER, use_tls=True, use_starttls=True)
