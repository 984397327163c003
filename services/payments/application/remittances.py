"""Posting a payer's remittance advice (X12 835).

The document is validated with pyx12 against the 005010X221A1 guide and must balance (see
domain/remittance.py) before anything is posted; then, in one transaction, for each claim that
answers one of our invoices (CLP01 is the invoice number our 837P sent):

- what the payer paid becomes a payment on the customer's account from that payer, allocated to
  the payer's invoice (anything paid beyond what it asks stays as the payer's credit);
- ClaimAdjusted, or ClaimDenied when the claim or some of its lines were denied, tells invoicing,
  which writes off the contractual part and bills the rest to the next party.

RemittancePosted records the whole advice. A claim we do not know (or a reversal, CLP02 22, which
staff post by hand) is listed with no invoice and its money counted as unmatched. The same check
or EFT trace from the same payer is posted once; the raw document is kept."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg

from services.payments.application.ledger import INVOICE_BALANCES, Ledger, Repositories
from services.payments.domain.events import (
    Allocation,
    ClaimAdjusted,
    ClaimDenied,
    PartyKind,
    PayingParty,
    PaymentChannel,
    PaymentMethod,
    PostedClaim,
    PostedProviderAdjustment,
    RemittancePosted,
)
from services.payments.domain.remittance import (
    REVERSAL,
    RemittanceAdvice,
    RemittanceClaim,
    balancing_problems,
)
from shared.clock import Clock
from shared.events import DomainEvent

PAYER_KINDS = {
    "insurer": PartyKind.INSURER, "government_program": PartyKind.GOVERNMENT_AGENCY,
    "government_agency": PartyKind.GOVERNMENT_AGENCY, "employer": PartyKind.EMPLOYER,
}
METHODS = {"ACH": PaymentMethod.EFT, "FWT": PaymentMethod.EFT, "BOP": PaymentMethod.EFT, "CHK": PaymentMethod.CHEQUE}


@dataclass(frozen=True)
class DocumentProblem:
    """Where a document breaks the guide or does not balance: ``location`` names the segment,
    loop or claim."""

    location: str
    message: str


class RemittanceRejected(Exception):
    def __init__(self, problems: Sequence[DocumentProblem]) -> None:
        super().__init__("; ".join(f"{p.location}: {p.message}" for p in problems))
        self.problems = list(problems)


class RemittanceAlreadyPosted(Exception):
    def __init__(self, remittance_id: str, trace_number: str) -> None:
        super().__init__(f"trace {trace_number} was already posted as {remittance_id}")
        self.remittance_id = remittance_id
        self.trace_number = trace_number


def remittance_id_of(advice: RemittanceAdvice) -> str:
    """The same payer's same trace number is the same remittance."""
    payer = advice.originator_id or advice.payer_identifier or advice.payer_name
    return "rem_" + hashlib.sha256(f"{payer}|{advice.trace_number}".encode()).hexdigest()[:24]


class Remittances:
    def __init__(
        self, ledger: Ledger, repos: Repositories, clock: Clock,
        validate: Callable[[str], Sequence[DocumentProblem]], read: Callable[[str], list[RemittanceAdvice]],
    ) -> None:
        self.ledger = ledger
        self.repos = repos
        self.clock = clock
        self.validate = validate
        self.read = read

    def check(self, document: str) -> list[RemittanceAdvice]:
        """The advices of a document that follows the guide and balances; RemittanceRejected
        otherwise. Pure: runs outside any transaction."""
        problems = list(self.validate(document))
        if problems:
            raise RemittanceRejected(problems)
        advices = self.read(document)
        unbalanced = [
            DocumentProblem(f"ST02 {advice.control_number}", problem)
            for advice in advices for problem in balancing_problems(advice)
        ]
        if unbalanced:
            raise RemittanceRejected(unbalanced)
        return advices

    async def post(
        self, conn: asyncpg.Connection, document: str, advices: Sequence[RemittanceAdvice], posted_by: str,
    ) -> list[RemittancePosted]:
        digest = hashlib.sha256(document.encode()).hexdigest()
        posted = []
        for advice in advices:
            posted.append(await self._post(conn, advice, digest, posted_by))
            await conn.execute(
                """INSERT INTO remittance_documents (remittance_id, sha256, document, received_at)
                   VALUES ($1, $2, $3, $4) ON CONFLICT (remittance_id) DO NOTHING""",
                posted[-1].remittance_id, digest, document, self.clock.now(),
            )
        return posted

    async def _post(self, conn: asyncpg.Connection, advice: RemittanceAdvice, digest: str, posted_by: str) -> RemittancePosted:
        remittance_id = remittance_id_of(advice)
        remittance = await self.repos.remittances.get_or_new(remittance_id, connection=conn)
        if remittance.version:
            raise RemittanceAlreadyPosted(remittance_id, advice.trace_number)
        now = self.clock.now()
        claims: list[PostedClaim] = []
        claim_events: list[DomainEvent] = []
        payer_ids: set[str] = set()
        for number, claim in enumerate(advice.claims, 1):
            row = await conn.fetchrow(
                f"{INVOICE_BALANCES} WHERE i.number = $1 AND i.billed_party = 'payer'", claim.claim_reference,
            )
            if row is None or claim.claim_status == REVERSAL or claim.paid < 0:
                claims.append(PostedClaim(
                    claim_reference=claim.claim_reference, invoice_id=None, customer_id=None,
                    claim_status=claim.claim_status, charge=claim.charge, paid=claim.paid,
                    patient_responsibility=claim.patient_responsibility,
                ))
                continue
            payer_ids.add(row["payer_id"])
            payment_id = None
            if claim.paid > 0:
                payment_id = f"pay_{remittance_id}_{number}"
                balance = row["owed"] - row["paid"]
                await self.ledger.receive(
                    conn, payment_id, customer_id=row["customer_id"],
                    party=PayingParty(
                        kind=PAYER_KINDS.get(row["payer_kind"] or "insurer", PartyKind.OTHER),
                        name=advice.payer_name, payer_id=row["payer_id"],
                    ),
                    method=METHODS.get(advice.payment_method, PaymentMethod.OTHER), channel=PaymentChannel.REMITTANCE,
                    amount=claim.paid, fee=0, currency=advice.currency, reference=advice.trace_number,
                    received_on=advice.payment_date, recorded_by=posted_by, remittance_id=remittance_id,
                    allocations=[Allocation(
                        invoice_id=row["invoice_id"], invoice_number=row["number"], amount=min(claim.paid, balance),
                    )] if balance > 0 else None,
                    allocate=False,
                )
            claims.append(PostedClaim(
                claim_reference=claim.claim_reference, invoice_id=row["invoice_id"], customer_id=row["customer_id"],
                claim_status=claim.claim_status, charge=claim.charge, paid=claim.paid,
                patient_responsibility=claim.patient_responsibility, payment_id=payment_id,
            ))
            claim_events.append(self._claim_event(remittance_id, advice, claim, row["payer_id"], row["customer_id"], now))
        unmatched = sum(c.paid for c in claims if c.invoice_id is None)
        event = RemittancePosted(
            remittance_id=remittance_id, payer_id=next(iter(payer_ids)) if len(payer_ids) == 1 else None,
            payer_name=advice.payer_name, payer_identifier=advice.payer_identifier, trace_number=advice.trace_number,
            payment_method=advice.payment_method, payment_amount=advice.payment_amount,
            payment_date=advice.payment_date, currency=advice.currency, claims=claims,
            provider_adjustments=[
                PostedProviderAdjustment(reason_code=p.reason_code, reference=p.reference, amount=p.amount)
                for p in advice.provider_adjustments
            ],
            unmatched_amount=unmatched, document_sha256=digest, posted_by=posted_by, posted_at=now,
        )
        payer_key = event.payer_id or advice.payer_identifier or advice.payer_name
        await self.repos.remittances.save(
            remittance_id, remittance, [event, *claim_events],
            subject=lambda e: getattr(e, "customer_id", None) or payer_key, connection=conn,
        )
        return event

    @staticmethod
    def _claim_event(
        remittance_id: str, advice: RemittanceAdvice, claim: RemittanceClaim, payer_id: str, customer_id: str,
        now: object,
    ) -> DomainEvent:
        fields = {
            "remittance_id": remittance_id, "claim_reference": claim.claim_reference,
            "payer_claim_number": claim.payer_claim_number, "payer_id": payer_id, "customer_id": customer_id,
            "claim_status": claim.claim_status, "currency": advice.currency, "charge": claim.charge, "paid": claim.paid,
            "patient_responsibility": claim.patient_responsibility, "claim_adjustments": claim.claim_adjustments,
            "lines": claim.lines, "payment_date": advice.payment_date, "posted_at": now,
        }
        denied_lines = claim.lines if claim.denied else claim.denied_lines()
        if claim.denied or denied_lines:
            return ClaimDenied(
                **fields, denied_line_references=[line.line_reference for line in denied_lines if line.line_reference],
            )
        return ClaimAdjusted(**fields)
