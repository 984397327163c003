"""A real SMTP server for tests (aiosmtpd on a free local port) whose handler keeps the mail it
accepts, refuses one mailbox for good (a bounce) and greylists another (try again later)."""

from __future__ import annotations

import contextlib
import email
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

REFUSED_MAILBOX = "gone@example.com"
GREYLISTED = "later@example.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """The SMTP server's handler."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address == REFUSED_MAILBOX:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address == GREYLISTED:
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 accepted"

    async def messages_to(self, address: str) -> list[EmailMessage]:
        found = []
        for envelope in list(self.envelopes):
            if address in envelope.rcpt_tos:
                assert isinstance(envelope.content, bytes)
                message = email.message_from_bytes(envelope.content, policy=default_policy)
                assert isinstance(message, EmailMessage)
                found.append(message)
        return found


@contextlib.contextmanager
def serving_mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A mailbox listening on a free port: the handler and the port."""
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
