"""The notice delivery worker: sends each dunning notice recorded in ``notice_deliveries`` (a
DemandIssued or ValidationNoticeIssued) as a PDF by e-mail, or queues it as a letter for printing,
and reports what became of it to ``NoticeOutcomes``, which records NoticeSent or
NoticeDeliveryFailed.

Deliveries are claimed with ``FOR UPDATE SKIP LOCKED`` and a lease, so several workers share them
and a crashed worker's deliveries are taken up again when the lease runs out. A temporary failure
(the mail server unreachable, a 4xx answer) is retried with doubling waits until ``max_attempts``;
a recipient the server refuses for good is a bounce: ``failed`` with ``bounced`` set and the
contact point, so the contact point can be verified before the next notice. A letter is queued in
``letters`` once, however often its delivery is tried, and is sent as soon as it is queued: its
reference is the letter's id.

The outcome is reported before the row is marked: a worker that stops in between reports it again
when the lease runs out (for a letter, with the same reference), so outcomes must tolerate hearing
of a notice twice."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
from pydantic import ValidationError

from services.collections.adapters.notice_pdf import notice_subject, notice_text, render_notice
from shared.delivery import DeliveryPolicy, LeasedDeliveries
from shared.mail import Attachment, DeliveryError, OutgoingMail, RecipientRefused

log = logging.getLogger(__name__)


class Mailer(Protocol):
    async def send(self, message: OutgoingMail) -> str: ...


class NoticeOutcomes(Protocol):
    """Records what became of a notice (NoticeSent or NoticeDeliveryFailed)."""

    async def sent(
        self, notice_id: str, debt_id: str, customer_id: str, channel: str, recipient: str, reference: str
    ) -> None: ...

    async def failed(
        self, notice_id: str, debt_id: str, customer_id: str, channel: str, recipient: str,
        contact_point_id: str, *, bounced: bool, reason: str,
    ) -> None: ...


@dataclass(frozen=True)
class Letterhead:
    """Who sends the notices: the name and the lines printed under it (address, phone, e-mail)."""

    business_name: str
    lines: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class DueNotice:
    notice_id: str
    debt_id: str
    customer_id: str
    kind: str  # demand, validation
    channel: str  # email, letter
    recipient: str  # the e-mail address, or the postal address's lines joined with "\n"
    contact_point_id: str
    document: dict[str, Any]
    attempts: int  # this one included


@dataclass(frozen=True)
class Debtor:
    name: str
    address_lines: list[str]


class NoticeDeliverer(LeasedDeliveries[DueNotice]):
    def __init__(
        self, *, pool: asyncpg.Pool, mailer: Mailer, outcomes: NoticeOutcomes, letterhead: Letterhead,
        policy: DeliveryPolicy, on_outcome: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self.pool = pool
        self.mailer = mailer
        self.outcomes = outcomes
        self.letterhead = letterhead
        self.policy = policy
        self.on_outcome = on_outcome

    def _describe(self, item: DueNotice) -> str:
        return f"notice {item.notice_id}"

    async def _claim(self) -> list[DueNotice]:
        rows = await self.pool.fetch(
            # leases and retries run on the database's time: they pace the work, they date nothing
            """UPDATE notice_deliveries d
                  SET leased_until = now() + make_interval(secs => $1), attempts = d.attempts + 1
               FROM (SELECT notice_id FROM notice_deliveries
                     WHERE status = 'pending' AND next_attempt_at <= now()
                       AND (leased_until IS NULL OR leased_until < now())
                     ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
               WHERE d.notice_id = due.notice_id
               RETURNING d.notice_id, d.debt_id, d.customer_id, d.kind, d.channel, d.recipient,
                         d.contact_point_id, d.document, d.attempts""",
            self.policy.lease_seconds, self.policy.batch_size,
        )
        return [
            DueNotice(
                notice_id=r["notice_id"], debt_id=r["debt_id"], customer_id=r["customer_id"], kind=r["kind"],
                channel=r["channel"], recipient=r["recipient"], contact_point_id=r["contact_point_id"],
                document=_json(r["document"]), attempts=r["attempts"],
            )
            for r in rows
        ]

    async def _deliver(self, notice: DueNotice) -> None:
        if notice.channel not in ("email", "letter"):
            await self._failed(notice, f"{notice.channel!r} is not a channel notices are delivered by")
            return
        debtor = await self._debtor(notice)
        try:
            pdf = render_notice(
                notice.document, kind=notice.kind, business_name=self.letterhead.business_name,
                business_lines=list(self.letterhead.lines), debtor_name=debtor.name,
                debtor_address_lines=debtor.address_lines,
            )
        except ValueError as error:  # a notice that cannot be printed now never will be
            await self._failed(notice, f"the notice cannot be rendered: {error}")
            return
        if notice.channel == "letter":
            await self._sent(notice, await self._queue_letter(notice, pdf))
            return
        try:
            mail = OutgoingMail(
                to=notice.recipient, subject=notice_subject(notice.document, notice.kind),
                text=notice_text(notice.document, notice.kind, self.letterhead.business_name),
                attachments=[Attachment(
                    filename=f"notice-{notice.notice_id}.pdf", content=pdf, mime_type="application/pdf",
                )],
            )
        except ValidationError as error:
            refused_to = any(problem["loc"][:1] == ("to",) for problem in error.errors())
            await self._failed(
                notice, f"{notice.recipient!r} is not an e-mail address" if refused_to
                else f"the mail cannot be composed: {error}",
            )
            return
        try:
            message_id = await self.mailer.send(mail)
        except DeliveryError as error:
            if error.permanent or notice.attempts >= self.policy.max_attempts:
                await self._failed(notice, str(error), bounced=isinstance(error, RecipientRefused))
            else:
                await self._retry_later(notice, str(error))
            return
        await self._sent(notice, message_id)

    async def _debtor(self, notice: DueNotice) -> Debtor:
        """Who the notice is addressed to, as the PDF prints it.

        A letter prints the address block it is posted to (its recipient's lines, the first of
        which may be the customer's name). An e-mail's PDF prints the customer's postal address (a
        billing one first, none that bounced), or else the e-mail address. Without the customer
        (registration not heard from yet) the recipient stands in."""
        row = await self.pool.fetchrow(
            "SELECT name, contact, bounced FROM customers WHERE customer_id = $1", notice.customer_id
        )
        lines = notice.recipient.split("\n")
        if notice.channel == "letter":
            if row is None:
                return Debtor(lines[0], lines[1:])
            return Debtor(row["name"], lines[1:] if lines[0] == row["name"] else lines)
        if row is None:
            return Debtor(notice.recipient, [])
        addresses = sorted(
            (a for a in _json(row["contact"]).get("addresses") or [] if a.get("id") not in (row["bounced"] or [])),
            key=lambda address: address.get("use") != "billing",
        )
        return Debtor(row["name"], _address_lines(addresses[0]) if addresses else [notice.recipient])

    async def _queue_letter(self, notice: DueNotice, pdf: bytes) -> str:
        """The letter's print job, queued once however often the delivery is tried; its id."""
        letter_id = await self.pool.fetchval(
            """INSERT INTO letters (letter_id, notice_id, customer_id, address_lines, pdf, queued_at)
               VALUES ($1, $2, $3, $4, $5, now())
               ON CONFLICT (notice_id) DO NOTHING RETURNING letter_id""",
            f"letter_{uuid.uuid4().hex}", notice.notice_id, notice.customer_id,
            notice.recipient.split("\n"), pdf,
        )
        if letter_id is None:
            letter_id = await self.pool.fetchval(
                "SELECT letter_id FROM letters WHERE notice_id = $1", notice.notice_id
            )
        return str(letter_id)

    async def _retry_later(self, notice: DueNotice, error: str) -> None:
        await self.pool.execute(
            """UPDATE notice_deliveries
                  SET next_attempt_at = now() + make_interval(secs => $2), leased_until = NULL, last_error = $3
               WHERE notice_id = $1 AND status = 'pending'""",
            notice.notice_id, self.policy.backoff(notice.attempts), error,
        )
        self.on_outcome("retry_scheduled")

    async def _sent(self, notice: DueNotice, reference: str) -> None:
        await self.outcomes.sent(
            notice.notice_id, notice.debt_id, notice.customer_id, notice.channel, notice.recipient, reference
        )
        await self.pool.execute(
            """UPDATE notice_deliveries SET status = 'sent', reference = $2, leased_until = NULL
               WHERE notice_id = $1""",
            notice.notice_id, reference,
        )
        self.on_outcome("sent")

    async def _failed(self, notice: DueNotice, reason: str, *, bounced: bool = False) -> None:
        await self.outcomes.failed(
            notice.notice_id, notice.debt_id, notice.customer_id, notice.channel, notice.recipient,
            notice.contact_point_id, bounced=bounced, reason=reason,
        )
        await self.pool.execute(
            """UPDATE notice_deliveries SET status = 'failed', last_error = $2, leased_until = NULL
               WHERE notice_id = $1""",
            notice.notice_id, reason,
        )
        self.on_outcome("bounced" if bounced else "failed")


def _json(value: Any) -> Any:
    """A jsonb column: text unless the pool has a codec for it."""
    return json.loads(value) if isinstance(value, str) else value


def _address_lines(address: dict[str, Any]) -> list[str]:
    """A postal address as registration publishes it, as the lines printed on an envelope."""
    city = ", ".join(part for part in (address.get("city"), address.get("region")) if part)
    last = " ".join(part for part in (city, address.get("postal_code")) if part)
    country = [address["country"]] if address.get("country") else []
    return [*(address.get("lines") or []), *([last] if last else []), *country]
