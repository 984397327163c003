"""The delivery worker: sends each issued invoice (to customers, and to payers that take no
electronic claims), each credit note on such an invoice, and each statement, as a PDF by e-mail or
as a letter queued for printing; and submits each claim to an insurer's clearinghouse, whose 999
acknowledgment says whether it was taken.

Deliveries are claimed with ``FOR UPDATE SKIP LOCKED`` and a lease, so several workers share them
and a crashed worker's deliveries are taken up again when the lease runs out. A temporary failure
(the mail server or clearinghouse unreachable, a 4xx answer) is retried with doubling waits; a recipient the server
refuses for good is a bounce: InvoiceDeliveryFailed with ``bounced`` set and the contact point, so
registration can mark it."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from services.invoicing.adapters.claim_submission import (
    Acknowledgment,
    ClearinghouseRefused,
    ClearinghouseUnreachable,
)
from services.invoicing.adapters.pdf import render_invoice, render_statement
from services.invoicing.application.billing import Repositories
from services.invoicing.application.documents import (
    Destination,
    Letterhead,
    NoUsableContact,
    destination,
    printable_credit_note,
    printable_invoice,
    printable_statement,
)
from services.invoicing.application.parties import payer_profile
from services.invoicing.domain.events import (
    CreditNoteDeliveryFailed,
    CreditNoteSent,
    DeliveryChannel,
    DeliveryFailed,
    DocumentSent,
    InvoiceDeliveryFailed,
    InvoiceSent,
    StatementDeliveryFailed,
    StatementSent,
)
from shared.clock import Clock
from shared.delivery import DeliveryPolicy, LeasedDeliveries
from shared.eventstore import retry_on_conflict
from shared.mail import Attachment, DeliveryError, OutgoingMail

log = logging.getLogger(__name__)


class Mailer(Protocol):
    async def send(self, message: OutgoingMail) -> str: ...


class ClaimSubmitter(Protocol):
    async def submit(self, endpoint: str, claim: str, *, timeout: float) -> Acknowledgment: ...


@dataclass(frozen=True)
class Due:
    kind: str  # invoice, credit_note, statement
    document_id: str
    customer_id: str
    attempts: int
    invoice_id: str | None  # a credit note's invoice

    @property
    def stream(self) -> str:
        """The aggregate whose stream records the outcome: a credit note's is its invoice's."""
        return self.invoice_id if self.kind == "credit_note" and self.invoice_id else self.document_id


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    filename: str
    pdf: bytes
    payer_id: str | None


class Deliverer(LeasedDeliveries[Due]):
    def __init__(
        self, *, pool: asyncpg.Pool, repositories: Repositories, mailer: Mailer, claims: ClaimSubmitter,
        letterhead: Letterhead, clock: Clock, policy: DeliveryPolicy,
        on_outcome: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self.pool = pool
        self.claims = claims
        self.repos = repositories
        self.mailer = mailer
        self.letterhead = letterhead
        self.clock = clock
        self.policy = policy
        self.on_outcome = on_outcome

    def _describe(self, item: Due) -> str:
        return f"{item.kind} {item.document_id}"

    async def _claim(self) -> list[Due]:
        rows = await self.pool.fetch(
            # leases and retries run on the database's time: they pace the work, they date nothing
            """UPDATE deliveries d SET leased_until = now() + make_interval(secs => $1), attempts = d.attempts + 1
               FROM (SELECT document_kind, document_id FROM deliveries
                     WHERE status = 'pending' AND next_attempt_at <= now()
                       AND (leased_until IS NULL OR leased_until < now())
                     ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
               WHERE d.document_kind = due.document_kind AND d.document_id = due.document_id
               RETURNING d.document_kind, d.document_id, d.customer_id, d.attempts, d.invoice_id""",
            self.policy.lease_seconds, self.policy.batch_size,
        )
        return [
            Due(r["document_kind"], r["document_id"], r["customer_id"], r["attempts"], r["invoice_id"])
            for r in rows
        ]

    async def _deliver(self, item: Due) -> None:
        if item.kind == "claim":
            await self._submit_claim(item)
            return
        async with self.pool.acquire() as conn:
            rendered = await self._render(conn, item)
            if rendered is None:
                await conn.execute(
                    "DELETE FROM deliveries WHERE document_kind = $1 AND document_id = $2", item.kind, item.document_id
                )
                return
            try:
                where = await destination(conn, item.customer_id, rendered.payer_id)
            except NoUsableContact as error:
                await self._record(item, None, None, reason=str(error), bounced=False)
                return
        if where.channel is DeliveryChannel.LETTER:
            reference = await self._queue_letter(item, where, rendered)
            await self._record(item, where, reference)
            return
        try:
            message_id = await self.mailer.send(OutgoingMail(
                to=where.recipient, subject=rendered.subject, text=rendered.text,
                attachments=[Attachment(filename=rendered.filename, content=rendered.pdf, mime_type="application/pdf")],
            ))
        except DeliveryError as error:
            if error.permanent or item.attempts >= self.policy.max_attempts:
                await self._record(item, where, None, reason=str(error), bounced=error.permanent)
            else:
                await self._retry_later(item, str(error))
            return
        await self._record(item, where, message_id)

    async def _submit_claim(self, item: Due) -> None:
        """The invoice's 837P to its payer's clearinghouse; the 999 says whether it was taken."""
        row = await self.pool.fetchrow(
            """SELECT c.x12, i.payer_id, i.status FROM claim_documents c JOIN invoices i USING (invoice_id)
               WHERE c.invoice_id = $1 ORDER BY c.created_at DESC LIMIT 1""",
            item.document_id,
        )
        profile = await payer_profile(self.pool, row["payer_id"]) if row else None
        connection = (profile or {}).get("connection", {})
        if row is None or row["status"] != "issued" or not connection.get("claims_endpoint"):
            await self.pool.execute(
                "DELETE FROM deliveries WHERE document_kind = 'claim' AND document_id = $1", item.document_id
            )
            return
        endpoint = connection["claims_endpoint"]
        where = Destination(DeliveryChannel.X12, endpoint, None, [])
        try:
            acknowledgment = await self.claims.submit(
                endpoint, row["x12"], timeout=float(connection.get("timeout_seconds", 10.0))
            )
        except ClearinghouseUnreachable as error:
            if item.attempts >= self.policy.max_attempts:
                await self._record(item, where, None, reason=str(error))
            else:
                await self._retry_later(item, str(error))
            return
        except ClearinghouseRefused as error:
            await self._record(item, where, None, reason=str(error))
            return
        if acknowledgment.accepted:
            await self._record(item, where, f"999 {acknowledgment.control_number}")
        else:
            await self._record(
                item, where, None,
                reason=f"the clearinghouse rejected the claim (999 {acknowledgment.control_number}): "
                + "; ".join(acknowledgment.errors),
            )

    def _outcomes(self, kind: str) -> tuple[type[DocumentSent], type[DeliveryFailed], Any]:
        if kind == "statement":
            return StatementSent, StatementDeliveryFailed, self.repos.statements
        if kind == "credit_note":
            return CreditNoteSent, CreditNoteDeliveryFailed, self.repos.invoices
        return InvoiceSent, InvoiceDeliveryFailed, self.repos.invoices  # an invoice, or its claim

    async def _render(self, conn: asyncpg.Connection, item: Due) -> Rendered | None:
        seller = self.letterhead.seller.name
        if item.kind == "invoice":
            invoice = await self.repos.invoices.get_or_new(item.document_id, connection=conn)
            if invoice.issued is None or invoice.status.value == "voided":
                return None
            document = await printable_invoice(conn, invoice, self.letterhead)
            return Rendered(
                subject=f"Invoice {document.number} from {seller}",
                text=(f"Dear {document.bill_to.name},\n\nPlease find attached invoice {document.number}, "
                      f"due {document.due_date}.\n\n" + "\n".join(document.how_to_pay) + f"\n\n{seller}\n"),
                filename=f"{document.number}.pdf", pdf=render_invoice(document),
                payer_id=invoice.issued.party.payer_id,
            )
        if item.kind == "credit_note":
            invoice = await self.repos.invoices.get_or_new(item.stream, connection=conn)
            note = next((n for n in invoice.credit_notes if n.credit_note_id == item.document_id), None)
            if invoice.issued is None or note is None:
                return None
            credit = await printable_credit_note(conn, invoice, note, self.letterhead)
            return Rendered(
                subject=f"Credit note {credit.number} for invoice {note.invoice_number} from {seller}",
                text=(f"Dear {credit.bill_to.name},\n\nPlease find attached credit note {credit.number}, which "
                      f"lowers what you owe on invoice {note.invoice_number}: {note.reason}\n\n{seller}\n"),
                filename=f"{credit.number}.pdf", pdf=render_invoice(credit), payer_id=invoice.issued.party.payer_id,
            )
        statement = await self.repos.statements.get_or_new(item.document_id, connection=conn)
        if statement.issued is None:
            return None
        printable = await printable_statement(conn, statement, self.letterhead)
        return Rendered(
            subject=f"Statement {printable.number} from {seller}",
            text=(f"Dear {printable.customer.name},\n\nPlease find attached your statement of open items "
                  f"as of {printable.statement_date}.\n\n" + "\n".join(printable.how_to_pay) + f"\n\n{seller}\n"),
            filename=f"{printable.number}.pdf", pdf=render_statement(printable), payer_id=None,
        )

    async def _queue_letter(self, item: Due, where: Destination, rendered: Rendered) -> str:
        """The letter's print job; queued once, however often the delivery is tried."""
        job_id = await self.pool.fetchval(
            """INSERT INTO print_queue (job_id, document_kind, document_id, recipient_name, address_lines, pdf, queued_at)
               VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7)
               ON CONFLICT (document_kind, document_id) DO NOTHING RETURNING job_id""",
            f"print_{uuid.uuid4().hex}", item.kind, item.document_id, where.recipient,
            json.dumps(where.address_lines), rendered.pdf, self.clock.now(),
        )
        if job_id is None:
            job_id = await self.pool.fetchval(
                "SELECT job_id FROM print_queue WHERE document_kind = $1 AND document_id = $2",
                item.kind, item.document_id,
            )
        return str(job_id)

    async def _retry_later(self, item: Due, error: str) -> None:
        delay = self.policy.backoff(item.attempts)
        await self.pool.execute(
            """UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => $3), leased_until = NULL,
                   last_error = $4
               WHERE document_kind = $1 AND document_id = $2 AND status = 'pending'""",
            item.kind, item.document_id, delay, error,
        )
        self.on_outcome("retry_scheduled")

    async def _record(
        self, item: Due, where: Destination | None, reference: str | None, *, reason: str | None = None,
        bounced: bool = False,
    ) -> None:
        now = self.clock.now()
        channel = where.channel if where else DeliveryChannel.EMAIL
        recipient = where.recipient if where else None
        contact_point = where.contact_point_id if where else None
        sent_event, failed_event, repository = self._outcomes(item.kind)
        ids = _document_ids(item)
        event: DocumentSent | DeliveryFailed
        if reference is not None and where is not None:
            event = sent_event(**ids, customer_id=item.customer_id, channel=channel, recipient=where.recipient,
                               contact_point_id=contact_point, reference=reference, sent_at=now)
        else:
            event = failed_event(**ids, customer_id=item.customer_id, channel=channel, recipient=recipient,
                                 contact_point_id=contact_point, reason=reason or "not delivered",
                                 bounced=bounced, failed_at=now)

        async def once() -> None:
            async with self.pool.acquire() as conn, conn.transaction():
                document = await repository.get_or_new(item.stream, connection=conn)
                await repository.save(item.stream, document, [event], subject=item.customer_id, connection=conn)
                if reason is not None:
                    await conn.execute(
                        "UPDATE deliveries SET last_error = $3 WHERE document_kind = $1 AND document_id = $2",
                        item.kind, item.document_id, reason,
                    )

        await retry_on_conflict(once)
        self.on_outcome("sent" if reference is not None else ("bounced" if bounced else "failed"))


def _document_ids(item: Due) -> dict[str, str]:
    """The ids a delivery event names its document by."""
    if item.kind == "statement":
        return {"statement_id": item.document_id}
    if item.kind == "credit_note":
        return {"credit_note_id": item.document_id, "invoice_id": item.stream}
    return {"invoice_id": item.document_id}
