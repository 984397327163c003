"""The outbound e-mail leg of a service: hand a message with its attachments (an invoice or a
notice as a PDF, say) to an SMTP server.

Failures are sorted by what the caller should do next, every one a ``DeliveryError``:

- ``RecipientRefused`` (permanent): the server refused the address for good (5xx at RCPT TO).
  This is a bounce: the same address will be refused again, so the customer's address needs
  fixing, not the mail resending.
- ``MessageRefused`` (permanent): the server took the address but refused this message for good
  (5xx to the message itself, e.g. too large or judged to be spam). Resending it changes nothing,
  but the address is not known to be wrong.
- ``MailerUnavailable`` (temporary): no connection, no answer in time, a 4xx answer, or our own
  side is wrong (login refused, STARTTLS not offered). Nothing is known to be wrong with the
  address or the message: try again later.

smtplib blocks, so each delivery runs in a worker thread and the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from shared.clock import Clock, SystemClock


class DeliveryError(Exception):
    """The mail was not accepted. ``permanent`` says whether sending it again can succeed."""

    permanent: bool = False


class RecipientRefused(DeliveryError):
    """The server refused the recipient for good (a 5xx at RCPT TO): a bounce."""

    permanent = True

    def __init__(self, recipient: str, code: int, reason: str) -> None:
        super().__init__(f"{recipient} refused: {code} {reason}")
        self.recipient = recipient
        self.code = code
        self.reason = reason


class MessageRefused(DeliveryError):
    """The server refused the message itself for good (a 5xx other than at RCPT TO)."""

    permanent = True

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"message refused: {code} {reason}")
        self.code = code
        self.reason = reason


class MailerUnavailable(DeliveryError):
    """The mail could not be handed over this time; sending it again later may succeed."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MailServer(_Value):
    """Where and how a service submits its mail."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    sender: str = Field(
        description='The From address, optionally with a name: "Billing <billing@example.com>"'
    )
    use_starttls: bool = Field(False, description="Upgrade the connection with STARTTLS (587)")
    use_tls: bool = Field(False, description="Connect over TLS from the start (465)")
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(10, gt=0, description="For connecting and for each answer")

    @field_validator("sender")
    @classmethod
    def _an_address(cls, sender: str) -> str:
        _address_of(sender)
        return sender

    @model_validator(mode="after")
    def _one_way_to_encrypt(self) -> MailServer:
        if self.use_tls and self.use_starttls:
            raise ValueError("use_tls (TLS from the start) and use_starttls exclude each other")
        return self


class Attachment(_Value):
    filename: str = Field(min_length=1)
    content: bytes
    mime_type: str = Field("application/octet-stream", pattern=r"^[\w.+-]+/[\w.+-]+$")


class OutgoingMail(_Value):
    to: str = Field(description='One recipient: "customer@example.com" or "Name <...>"')
    subject: str
    text: str = Field(description="The plain-text body")
    attachments: list[Attachment] = []

    @field_validator("to")
    @classmethod
    def _an_address(cls, to: str) -> str:
        _address_of(to)
        return to

    @field_validator("subject")
    @classmethod
    def _one_line(cls, subject: str) -> str:
        if "\r" in subject or "\n" in subject:
            raise ValueError("must be one line")
        return subject


def _address_of(mailbox: str) -> str:
    """The bare address in ``mailbox``; refuses anything that could smuggle in another header."""
    if "\r" in mailbox or "\n" in mailbox:
        raise ValueError("must be one line")
    _, address = parseaddr(mailbox)
    if "@" not in address:
        raise ValueError(f"{mailbox!r} is not an e-mail address")
    return address


class SmtpMailer:
    """Submits mail to one SMTP server, one connection per message.

    A connection per message keeps the mailer stateless: nothing to keep alive between messages,
    and nothing left half-open when the server drops idle connections."""

    def __init__(self, server: MailServer, clock: Clock | None = None) -> None:
        self._server = server
        self._clock = clock or SystemClock()
        self._message_id_domain = _address_of(server.sender).rpartition("@")[2]

    async def send(self, mail: OutgoingMail) -> str:
        """Deliver ``mail`` to the server and return its Message-ID header (with the angle
        brackets), by which replies and bounces refer to it.

        Raises a ``DeliveryError``: ``RecipientRefused``, ``MessageRefused`` or
        ``MailerUnavailable``."""
        message = self._compose(mail)
        await asyncio.to_thread(self._submit, message, mail.to)
        return str(message["Message-ID"])

    def _compose(self, mail: OutgoingMail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._server.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(self._clock.now())
        # Our own domain, not make_msgid's default: that asks DNS for this host's name each time.
        message["Message-ID"] = make_msgid(domain=self._message_id_domain)
        message.set_content(mail.text)
        for attachment in mail.attachments:
            maintype, _, subtype = attachment.mime_type.partition("/")
            message.add_attachment(
                attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        return message

    def _submit(self, message: EmailMessage, recipient: str) -> None:
        server = self._server
        where = f"{server.host}:{server.port}"
        try:
            connection = self._connect()
        except (OSError, smtplib.SMTPException) as error:
            raise MailerUnavailable(f"{where}: cannot connect ({_describe(error)})") from error
        delivered = False
        try:
            if server.use_starttls:
                connection.starttls(context=ssl.create_default_context())
            if server.username is not None:
                password = server.password.get_secret_value() if server.password else ""
                connection.login(server.username, password)
            connection.send_message(message, to_addrs=[_address_of(recipient)])
            delivered = True
        except smtplib.SMTPRecipientsRefused as error:
            code, reason = next(iter(error.recipients.values()))
            if 500 <= code < 600:
                raise RecipientRefused(recipient, code, _text(reason)) from error
            raise MailerUnavailable(
                f"{where}: {recipient} deferred: {code} {_text(reason)}"
            ) from error
        except smtplib.SMTPDataError as error:
            if 500 <= error.smtp_code < 600:
                raise MessageRefused(error.smtp_code, _text(error.smtp_error)) from error
            raise MailerUnavailable(
                f"{where}: message deferred: {error.smtp_code} {_text(error.smtp_error)}"
            ) from error
        except smtplib.SMTPResponseException as error:
            # The server refused our greeting, STARTTLS, login or From address: ours to fix, and
            # nothing says the mail itself cannot go out once it is.
            raise MailerUnavailable(
                f"{where}: {type(error).__name__}: {error.smtp_code} {_text(error.smtp_error)}"
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            # timeouts, dropped connections, TLS failures, STARTTLS or AUTH not offered
            raise MailerUnavailable(f"{where}: {_describe(error)}") from error
        finally:
            _hang_up(connection, delivered)

    def _connect(self) -> smtplib.SMTP:
        server = self._server
        if server.use_tls:
            return smtplib.SMTP_SSL(
                server.host,
                server.port,
                timeout=server.timeout_seconds,
                context=ssl.create_default_context(),
            )
        return smtplib.SMTP(server.host, server.port, timeout=server.timeout_seconds)


def _hang_up(connection: smtplib.SMTP, delivered: bool) -> None:
    """Say goodbye after a delivery, ignoring the answer: once the server has taken the message, a
    failed QUIT must not make the caller send it twice. After a failure just drop the connection:
    a server that stopped answering would only make QUIT wait out the timeout again."""
    if delivered:
        try:
            connection.quit()
            return
        except (OSError, smtplib.SMTPException):
            pass
    connection.close()


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else reason


def _describe(error: BaseException) -> str:
    detail = str(error)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
