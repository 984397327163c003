"""Invoicing's use cases: record and reverse charges, bill encounters to the responsible parties,
move what a payer did not pay on to the next party, void and credit invoices, issue statements.

Each runs in the caller's transaction (an HTTP request, a consumer's inbox transaction, a billing
run's per-encounter transaction), so the events, the read models and the invoice numbers they take
commit or roll back together."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import asyncpg

from services.invoicing.application.numbering import next_number, series_name
from services.invoicing.application.parties import (
    coverages_on,
    customer_name,
    customer_record,
    electronic_claims,
    payer_profile,
)
from services.invoicing.domain.bill import Bill, CrosswalkBook, Statement
from services.invoicing.domain.charge import Charge, ChargeEntry, as_code
from services.invoicing.domain.codes import CodeRef
from services.invoicing.domain.crosswalk import (
    CrosswalkEntry,
    CrosswalkVersion,
    MissingMapping,
    check_publishable,
    resolve,
)
from services.invoicing.domain.events import (
    CUSTOMER,
    BilledParty,
    ChargeRecorded,
    ChargeReversed,
    ClaimDocument,
    Code,
    CoverageBasis,
    CreditNoteIssued,
    CrosswalkPublished,
    EncounterBilled,
    EstimateComparison,
    InvoiceExceededEstimate,
    InvoiceHeld,
    InvoiceIssued,
    InvoiceLine,
    InvoiceVoided,
    InvoiceWithdrawn,
    MappedCode,
    PartyKind,
    PriorPayer,
    RemittanceApplied,
    Responsibility,
    ShareComponents,
    StatementIssued,
    StatementItem,
)
from services.invoicing.domain.invoice import Invoice, InvoiceStatus
from services.invoicing.domain.remittance import ClaimRemittance, adjudication, settle
from services.invoicing.domain.split import CUSTOMER as SPLIT_CUSTOMER
from services.invoicing.domain.split import ChargeLine, EncounterSplit, split_encounter
from shared.clock import Clock
from shared.consumer import PoisonEvent
from shared.eventstore.repository import EventSourcedRepository
from shared.rules import RuleViolated

log = logging.getLogger(__name__)
BLOCKING_STANDINGS = frozenset({"pending", "failed", "stale"})
# what a customer invoice still asks: its open amount less what payments allocated to it
STILL_OWED = (
    "(i.open_amount - COALESCE((SELECT p.paid FROM invoice_payments p WHERE p.invoice_id = i.invoice_id), 0))"
)
# CARC codes of patient responsibility that say why the customer owes a transferred amount
_PR_COMPONENT = {"1": "deductible", "2": "coinsurance", "3": "copay"}


class CodeChecker(Protocol):
    async def refusals(
        self, conn: asyncpg.Connection, codes: Sequence[tuple[str, Code]], on: date
    ) -> list[tuple[str, str]]:
        """(field, message) for each code that may not be charged on the day."""
        ...

    async def description(self, conn: asyncpg.Connection, code: Code, on: date) -> str | None: ...


class ClaimProducer(Protocol):
    async def prepare(
        self, conn: asyncpg.Connection, *, customer_id: str, coverage_id: str, profile: dict[str, Any],
        responsibility: Responsibility, lines: Sequence[InvoiceLine], prior_payers: Sequence[PriorPayer],
    ) -> Any:
        """The claim, written and validated, waiting for its number."""
        ...

    async def store(
        self, conn: asyncpg.Connection, prepared: Any, *, invoice_id: str, claim_reference: str
    ) -> ClaimDocument:
        """The claim under the invoice's number, kept for audit and submission."""
        ...


class InvoiceNotFound(LookupError):
    pass


class ChargeNotFound(LookupError):
    pass


class UnknownClaim(PoisonEvent):
    """A remittance names a claim reference no invoice of ours carries: no retry can fix that,
    so the consumer dead-letters it at once."""


@dataclass(frozen=True)
class BillingPolicy:
    customer_terms_days: int = 30
    payer_terms_days: int = 30
    customer_series: str = "INV"
    payer_series: str = "PAY"
    credit_note_series: str = "CN"
    statement_series: str = "ST"

    def terms(self, kind: PartyKind) -> tuple[int, str]:
        days = self.customer_terms_days if kind is PartyKind.CUSTOMER else self.payer_terms_days
        return days, f"Net {days} days"


@dataclass
class EncounterOutcome:
    customer_id: str
    encounter: str
    bill_id: str | None = None
    issued: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    waiting: str | None = None  # why the encounter was not billed yet


@dataclass
class Repositories:
    charges: EventSourcedRepository[Charge]
    invoices: EventSourcedRepository[Invoice]
    bills: EventSourcedRepository[Bill]
    crosswalks: EventSourcedRepository[CrosswalkBook]
    statements: EventSourcedRepository[Statement]


def _new_id() -> str:
    return uuid.uuid4().hex


class Billing:
    def __init__(
        self, repositories: Repositories, *, codes: CodeChecker, claims: ClaimProducer, clock: Clock,
        policy: BillingPolicy,
    ) -> None:
        self.repos = repositories
        self.codes = codes
        self.claims = claims
        self.clock = clock
        self.policy = policy

    # -- charges ---------------------------------------------------------------------------------

    async def record_charge(
        self, conn: asyncpg.Connection, charge_id: str, entry: ChargeEntry, recorded_by: str
    ) -> Charge:
        if await customer_record(conn, entry.customer_id) is None:
            raise RuleViolated(
                "customer_id", f"registration has not told invoicing about customer {entry.customer_id}"
            )
        checks = [("procedure", as_code(entry.procedure))] + [
            (f"diagnoses[{i}]", as_code(diagnosis)) for i, diagnosis in enumerate(entry.diagnoses)
        ]
        refused = await self.codes.refusals(conn, checks, entry.service_date)
        if refused:
            field_name, message = refused[0]
            raise RuleViolated(field_name, message)
        if entry.corrects is not None:
            corrected = await self.repos.charges.get_or_new(entry.corrects, connection=conn)
            if corrected.recorded is None or corrected.recorded.customer_id != entry.customer_id:
                raise RuleViolated("corrects", f"customer {entry.customer_id} has no charge {entry.corrects}")
            if not corrected.reversed:
                raise RuleViolated("corrects", f"charge {entry.corrects} must be reversed before it is replaced")
        description = entry.description or await self._description(conn, entry)
        charge = await self.repos.charges.get_or_new(charge_id, connection=conn)
        if charge.version:
            raise RuleViolated("charge_id", f"charge {charge_id} already exists")
        event = ChargeRecorded(
            charge_id=charge_id, customer_id=entry.customer_id, service_date=entry.service_date,
            procedure=as_code(entry.procedure), description=description,
            diagnoses=[as_code(diagnosis) for diagnosis in entry.diagnoses],
            diagnosis_pointers=entry.pointers, units=entry.units, unit_price=entry.unit_price,
            amount=entry.amount, currency=entry.currency, service_type=entry.service_type,
            place_of_service=entry.place_of_service, rendering_provider=entry.rendering_provider,
            encounter=entry.encounter_key, corrects=entry.corrects, recorded_by=recorded_by,
            recorded_at=self.clock.now(),
        )
        await self.repos.charges.save(charge_id, charge, [event], subject=entry.customer_id, connection=conn)
        return charge

    async def _description(self, conn: asyncpg.Connection, entry: ChargeEntry) -> str:
        found = await self.codes.description(conn, as_code(entry.procedure), entry.service_date)
        return found or f"{entry.procedure.system} {entry.procedure.code}"

    async def reverse_charge(
        self, conn: asyncpg.Connection, charge_id: str, reason: str, reversed_by: str
    ) -> tuple[Charge, list[CreditNoteIssued]]:
        """Takes a charge back; if it was billed, credit notes take its lines off the open bills."""
        charge = await self.repos.charges.get_or_new(charge_id, connection=conn)
        if charge.version == 0:
            raise ChargeNotFound(charge_id)
        recorded = charge.may_reverse()
        # the row lock waits for a billing run that holds the charge, so its bill is seen
        bill_id = await conn.fetchval("SELECT bill_id FROM charges WHERE charge_id = $1 FOR UPDATE", charge_id)
        await self.repos.charges.save(charge_id, charge, [ChargeReversed(
            charge_id=charge_id, customer_id=recorded.customer_id, reason=reason,
            reversed_by=reversed_by, reversed_at=self.clock.now(),
        )], subject=recorded.customer_id, connection=conn)
        credit_notes = []
        if bill_id is not None:
            for row in await conn.fetch(
                "SELECT invoice_id FROM invoices WHERE bill_id = $1 AND status = 'held' ORDER BY invoice_id", bill_id
            ):
                held = await self.repos.invoices.get(row["invoice_id"], connection=conn)
                assert held.held is not None
                if not await self._unreversed(conn, held.held.lines):
                    await self._withdraw(conn, held, f"every charge on it was reversed: {reason}")
            invoice_ids = await conn.fetch(
                "SELECT invoice_id FROM invoices WHERE bill_id = $1 AND status = 'issued' ORDER BY invoice_id",
                bill_id,
            )
            for row in invoice_ids:
                invoice = await self.repos.invoices.get(row["invoice_id"], connection=conn)
                amounts = {
                    line.line_id: invoice.open_on_line(line.line_id)
                    for line in invoice.lines if line.charge_id == charge_id
                }
                if any(amounts.values()):
                    credit_notes.append(await self._credit(
                        conn, invoice, {k: v for k, v in amounts.items() if v},
                        f"charge {charge_id} reversed: {reason}", reversed_by,
                    ))
        return charge, credit_notes

    # -- crosswalks ------------------------------------------------------------------------------

    async def publish_crosswalk(
        self, conn: asyncpg.Connection, payer_id: str, version: int | None, effective_from: date,
        effective_to: date | None, entries: Sequence[MappedCode], published_by: str,
    ) -> CrosswalkBook:
        profile = await payer_profile(conn, payer_id)
        if profile is None:
            raise RuleViolated("payer_id", f"payer {payer_id} is not in the payer directory (or is retired)")
        book = await self.repos.crosswalks.get_or_new(payer_id, connection=conn)
        number = book.may_publish(version)
        try:
            candidate = CrosswalkVersion(
                payer_id=payer_id, version=number, effective_from=effective_from,
                effective_to=effective_to, entries=[_entry(entry) for entry in entries],
            )
        except ValueError as error:
            raise RuleViolated("entries", str(error)) from None
        check_publishable(candidate, [_version(published) for published in book.published], profile["code_system"])
        await self.repos.crosswalks.save(payer_id, book, [CrosswalkPublished(
            payer_id=payer_id, version=number, effective_from=effective_from, effective_to=effective_to,
            entries=list(entries), published_by=published_by, published_at=self.clock.now(),
        )], subject=payer_id, connection=conn)
        await self.release_held(conn, payer_id)
        return book

    @staticmethod
    async def crosswalk_versions(conn: asyncpg.Connection, payer_id: str) -> list[CrosswalkVersion]:
        """The payer's published versions, from the crosswalks read model (billing reads them for
        every bill to a payer; the stream is replayed only to publish)."""
        rows = await conn.fetch(
            """SELECT version, effective_from, effective_to, entries FROM crosswalks
               WHERE payer_id = $1 ORDER BY version""",
            payer_id,
        )
        return [
            CrosswalkVersion(
                payer_id=payer_id, version=row["version"], effective_from=row["effective_from"],
                effective_to=row["effective_to"], entries=json.loads(row["entries"]),
            )
            for row in rows
        ]

    # -- billing ---------------------------------------------------------------------------------

    async def bill_encounter(
        self, conn: asyncpg.Connection, customer_id: str, encounter: str
    ) -> EncounterOutcome | None:
        """Bills the encounter's unbilled charges; None when another run holds or billed them."""
        # one run owns the whole encounter: locking its rows one by one with SKIP LOCKED would let
        # two runs each take part of it and bill the copay twice
        if not await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtext('encounter/' || $1 || '/' || $2))", customer_id, encounter
        ):
            return None
        rows = await conn.fetch(
            """SELECT charge FROM charges WHERE customer_id = $1 AND encounter = $2 AND status = 'unbilled'
               ORDER BY recorded_at, charge_id FOR UPDATE""",
            customer_id, encounter,
        )
        if not rows:
            return None
        charges = [ChargeRecorded.model_validate(json.loads(row["charge"])) for row in rows]
        outcome = EncounterOutcome(customer_id=customer_id, encounter=encounter)
        day = charges[0].service_date
        currency = charges[0].currency
        if any(charge.currency != currency for charge in charges):
            outcome.waiting = "charges of one encounter are in different currencies"
            return outcome
        coverages = await coverages_on(conn, customer_id, day)
        blocking = [c for c in coverages if c.standing in BLOCKING_STANDINGS]
        if blocking:
            outcome.waiting = "; ".join(
                f"coverage {c.coverage_id} ({c.payer_id}) is {c.standing} for {day.isoformat()}"
                for c in blocking
            )
            return outcome
        foreign = [c for c in coverages if c.verified and c.currency != currency]
        if foreign:
            outcome.waiting = "; ".join(
                f"coverage {c.coverage_id} states its cost shares in {c.currency}, the charges are in {currency}"
                for c in foreign
            )
            return outcome
        applied = [c for c in coverages if c.verified]
        split = split_encounter(
            [ChargeLine(line_id=c.charge_id, amount=c.amount, service_type=c.service_type) for c in charges],
            [c.for_split() for c in applied],
        )
        bill_id = _new_id()
        outcome.bill_id = bill_id
        invoice_ids: dict[str, str] = {}
        prior: list[PriorPayer] = []  # the coverages billed before
        for coverage in applied:
            lines = _lines_for(charges, split, coverage.coverage_id)
            total = sum(line.amount for line in lines)
            if total:
                invoice_id = _new_id()
                invoice = await self._bill_payer(
                    conn, invoice_id, bill_id, customer_id, coverage.payer_id, coverage.coverage_id,
                    coverage.responsibility, lines, currency, prior,
                )
                invoice_ids[coverage.coverage_id] = invoice_id
                (outcome.issued if invoice.status is InvoiceStatus.ISSUED else outcome.held).append(invoice_id)
            prior.append(PriorPayer(coverage_id=coverage.coverage_id, payer_id=coverage.payer_id))
        customer_lines = _lines_for(charges, split, SPLIT_CUSTOMER)
        if sum(line.amount for line in customer_lines):
            invoice_id = _new_id()
            await self._bill_customer(conn, invoice_id, bill_id, customer_id, customer_lines, currency)
            invoice_ids[CUSTOMER] = invoice_id
            outcome.issued.append(invoice_id)
        bill = await self.repos.bills.get_or_new(bill_id, connection=conn)
        await self.repos.bills.save(bill_id, bill, [EncounterBilled(
            bill_id=bill_id, customer_id=customer_id, service_date=day,
            charge_ids=[c.charge_id for c in charges], currency=currency,
            coverages=[
                CoverageBasis(coverage_id=c.coverage_id, payer_id=c.payer_id,
                              responsibility=c.responsibility, check_id=c.check_id)
                for c in applied
            ],
            unverified_coverages=[c.coverage_id for c in coverages if not c.verified],
            totals={party: split.total_for(party) for party in split.parties()},
            invoice_ids=invoice_ids, billed_at=self.clock.now(),
        )], subject=customer_id, connection=conn)
        return outcome

    async def billing_run(
        self, pool: asyncpg.Pool, *, customer_id: str | None = None, recorded_before: Any = None,
    ) -> list[EncounterOutcome]:
        """Bills every encounter with unbilled charges (of one customer, or recorded before a time),
        one transaction per encounter; concurrent runs share the work without billing twice."""
        async with pool.acquire() as conn:
            encounters = await conn.fetch(
                """SELECT customer_id, encounter FROM charges
                   WHERE status = 'unbilled' AND ($1::text IS NULL OR customer_id = $1)
                   GROUP BY customer_id, encounter
                   HAVING $2::timestamptz IS NULL OR max(recorded_at) < $2
                   ORDER BY min(recorded_at)""",
                customer_id, recorded_before,
            )
        outcomes = []
        for row in encounters:
            try:
                async with pool.acquire() as conn, conn.transaction():
                    outcome = await self.bill_encounter(conn, row["customer_id"], row["encounter"])
            except RuleViolated as refused:  # nothing of the encounter was recorded; it waits
                outcome = EncounterOutcome(
                    customer_id=row["customer_id"], encounter=row["encounter"], waiting=refused.message
                )
            except Exception as error:  # one encounter failing must not stop the others being billed
                log.exception("billing encounter %s of %s failed", row["encounter"], row["customer_id"])
                outcome = EncounterOutcome(
                    customer_id=row["customer_id"], encounter=row["encounter"],
                    waiting=f"billing failed: {type(error).__name__}: {error}"[:500],
                )
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    async def _bill_payer(
        self, conn: asyncpg.Connection, invoice_id: str, bill_id: str | None, customer_id: str,
        payer_id: str, coverage_id: str | None, responsibility: Responsibility,
        lines: list[InvoiceLine], currency: str, prior: Sequence[PriorPayer],
        transferred_from: str | None = None, transfer_reason: str | None = None,
    ) -> Invoice:
        profile = await payer_profile(conn, payer_id)
        party = BilledParty(
            kind=PartyKind.PAYER, name=(profile or {}).get("name", payer_id), payer_id=payer_id,
            payer_kind=(profile or {}).get("kind"), coverage_id=coverage_id, responsibility=responsibility,
        )
        invoice = await self.repos.invoices.get_or_new(invoice_id, connection=conn)
        payer_lines, reasons = await self._payer_lines(conn, payer_id, profile, lines)
        if reasons:
            await self.repos.invoices.save(invoice_id, invoice, [InvoiceHeld(
                invoice_id=invoice_id, customer_id=customer_id, bill_id=bill_id, party=party, lines=lines,
                currency=currency, transferred_from=transferred_from, transfer_reason=transfer_reason,
                prior_payers=list(prior), reasons=reasons, held_at=self.clock.now(),
            )], subject=customer_id, connection=conn)
            return invoice
        assert profile is not None
        await self._issue(
            conn, invoice, party, customer_id, bill_id, payer_lines, currency, transferred_from,
            transfer_reason, profile=profile, prior=prior,
        )
        return invoice

    async def _payer_lines(
        self, conn: asyncpg.Connection, payer_id: str, profile: dict[str, Any] | None,
        lines: Sequence[InvoiceLine],
    ) -> tuple[list[InvoiceLine], list[str]]:
        if profile is None:
            return [], [f"payer {payer_id} is not in the payer directory (or is retired)"]
        versions = await self.crosswalk_versions(conn, payer_id)
        payer_lines, reasons = [], []
        for line in lines:
            resolved = resolve(
                CodeRef(system=line.code.system, code=line.code.code, modifiers=line.code.modifiers),
                profile["code_system"], versions, line.service_date, payer_id=payer_id,
            )
            if isinstance(resolved, MissingMapping):
                reasons.append(resolved.reason)
                continue
            payer_lines.append(line.model_copy(update={"code": Code(
                system=resolved.system, code=resolved.code, modifiers=list(resolved.modifiers),
            )}))
        return payer_lines, reasons

    async def _bill_customer(
        self, conn: asyncpg.Connection, invoice_id: str, bill_id: str | None, customer_id: str,
        lines: list[InvoiceLine], currency: str, transferred_from: str | None = None,
        transfer_reason: str | None = None,
    ) -> Invoice:
        customer = await customer_record(conn, customer_id)
        party = BilledParty(
            kind=PartyKind.CUSTOMER, name=customer_name(customer) if customer else customer_id,
            responsibility=Responsibility.CUSTOMER,
        )
        invoice = await self.repos.invoices.get_or_new(invoice_id, connection=conn)
        await self._issue(conn, invoice, party, customer_id, bill_id, lines, currency, transferred_from, transfer_reason)
        return invoice

    async def _issue(
        self, conn: asyncpg.Connection, invoice: Invoice, party: BilledParty, customer_id: str,
        bill_id: str | None, lines: list[InvoiceLine], currency: str, transferred_from: str | None,
        transfer_reason: str | None, *, profile: dict[str, Any] | None = None,
        prior: Sequence[PriorPayer] = (),
    ) -> None:
        today = self.clock.today()
        prefix = self.policy.customer_series if party.kind is PartyKind.CUSTOMER else self.policy.payer_series
        series = series_name(prefix, today)
        days, terms = self.policy.terms(party.kind)
        total = sum(line.amount for line in lines)
        prepared = None
        if profile is not None and electronic_claims(profile):
            assert party.payer_id is not None and party.coverage_id is not None
            prepared = await self.claims.prepare(
                conn, customer_id=customer_id, coverage_id=party.coverage_id, profile=profile,
                responsibility=party.responsibility, lines=lines, prior_payers=prior,
            )
        estimate = None
        if party.kind is PartyKind.CUSTOMER:
            estimate = await self._compare_with_estimate(conn, customer_id, lines[0].service_date, total)
        # The number comes last: its series stays locked from here until the transaction ends, so
        # nothing slow (writing and validating the claim) may happen while it is held.
        number = await next_number(conn, series)
        claim = None
        if prepared is not None:
            claim = await self.claims.store(conn, prepared, invoice_id=invoice.invoice_id, claim_reference=number)
        events: list[Any] = [InvoiceIssued(
            invoice_id=invoice.invoice_id, number=number, series=series, customer_id=customer_id,
            bill_id=bill_id, party=party, lines=lines, total=total, currency=currency, issue_date=today,
            due_date=today + timedelta(days=days), payment_terms=terms, transferred_from=transferred_from,
            transfer_reason=transfer_reason, claim=claim, estimate=estimate, issued_at=self.clock.now(),
        )]
        if estimate is not None and estimate.exceeded:
            events.append(InvoiceExceededEstimate(
                invoice_id=invoice.invoice_id, number=number, customer_id=customer_id,
                estimate_id=estimate.estimate_id, estimated=estimate.estimated, billed=estimate.billed,
                threshold=estimate.threshold, excess=estimate.billed - estimate.estimated,
                currency=currency, flagged_at=self.clock.now(),
            ))
        await self.repos.invoices.save(invoice.invoice_id, invoice, events, subject=customer_id, connection=conn)

    async def _compare_with_estimate(
        self, conn: asyncpg.Connection, customer_id: str, service_date: date, total: int
    ) -> EstimateComparison | None:
        """The customer's bills for the day so far plus this one, against their latest estimate."""
        estimate = await conn.fetchrow(
            """SELECT estimate_id, customer_portion, flag_threshold FROM estimates
               WHERE customer_id = $1 AND service_date = $2 ORDER BY issued_at DESC LIMIT 1""",
            customer_id, service_date,
        )
        if estimate is None:
            return None
        billed_before = await conn.fetchval(
            """SELECT coalesce(sum(total), 0) FROM invoices
               WHERE customer_id = $1 AND party_kind = 'customer' AND status = 'issued'
                 AND bill_id IN (SELECT bill_id FROM charges
                                 WHERE customer_id = $1 AND service_date = $2 AND bill_id IS NOT NULL)""",
            customer_id, service_date,
        )
        billed = int(billed_before) + total
        return EstimateComparison(
            estimate_id=estimate["estimate_id"], estimated=estimate["customer_portion"], billed=billed,
            threshold=estimate["flag_threshold"],
            exceeded=billed - estimate["customer_portion"] > estimate["flag_threshold"],
        )

    async def release_held(self, conn: asyncpg.Connection, payer_id: str) -> int:
        """Issues the bills held for ``payer_id`` whose reasons are now resolved."""
        rows = await conn.fetch(
            """SELECT invoice_id FROM invoices WHERE status = 'held' AND payer_id = $1
               ORDER BY updated_at FOR UPDATE SKIP LOCKED""",
            payer_id,
        )
        profile = await payer_profile(conn, payer_id)
        released = 0
        for row in rows:
            invoice = await self.repos.invoices.get(row["invoice_id"], connection=conn)
            held = invoice.held
            assert held is not None and held.party.payer_id is not None
            lines = await self._unreversed(conn, held.lines)
            if not lines:
                await self._withdraw(conn, invoice, "every charge on it was reversed while it was held")
                continue
            payer_lines, reasons = await self._payer_lines(conn, payer_id, profile, lines)
            if reasons or profile is None:
                continue
            party = held.party.model_copy(update={"name": profile.get("name", payer_id), "payer_kind": profile.get("kind")})
            prior = held.prior_payers or await self._prior_payers(conn, held.bill_id, held.party.coverage_id)
            await self._issue(
                conn, invoice, party, held.customer_id, held.bill_id, payer_lines, held.currency,
                held.transferred_from, held.transfer_reason, profile=profile, prior=prior,
            )
            released += 1
        return released

    async def _unreversed(self, conn: asyncpg.Connection, lines: Sequence[InvoiceLine]) -> list[InvoiceLine]:
        """The lines whose charge still stands."""
        reversed_ids = {
            row["charge_id"] for row in await conn.fetch(
                "SELECT charge_id FROM charges WHERE charge_id = ANY($1::text[]) AND status = 'reversed'",
                [line.charge_id for line in lines],
            )
        }
        return [line for line in lines if line.charge_id not in reversed_ids]

    async def _withdraw(self, conn: asyncpg.Connection, invoice: Invoice, reason: str) -> None:
        assert invoice.customer_id is not None
        await self.repos.invoices.save(invoice.invoice_id, invoice, [InvoiceWithdrawn(
            invoice_id=invoice.invoice_id, customer_id=invoice.customer_id, reason=reason,
            withdrawn_at=self.clock.now(),
        )], subject=invoice.customer_id, connection=conn)

    async def _prior_payers(
        self, conn: asyncpg.Connection, bill_id: str | None, coverage_id: str | None
    ) -> list[PriorPayer]:
        if bill_id is None:
            return []
        bill = await self.repos.bills.get_or_new(bill_id, connection=conn)
        if bill.billed is None:
            return []
        prior = []
        for basis in bill.billed.coverages:
            if basis.coverage_id == coverage_id:
                break
            prior.append(PriorPayer(coverage_id=basis.coverage_id, payer_id=basis.payer_id))
        return prior

    # -- remittances -----------------------------------------------------------------------------

    async def apply_remittance(self, conn: asyncpg.Connection, remittance: ClaimRemittance) -> None:
        invoice_id = await conn.fetchval(
            "SELECT invoice_id FROM invoices WHERE number = $1 AND party_kind = 'payer'",
            remittance.claim_reference,
        )
        if invoice_id is None:
            raise UnknownClaim(f"no invoice to a payer is numbered {remittance.claim_reference}")
        invoice = await self.repos.invoices.get(invoice_id, connection=conn)
        if remittance.remittance_id in invoice.remittances:
            return
        issued = invoice.require_issued("remitted")
        outcomes = settle(
            issued.lines, {line.line_id: invoice.open_on_line(line.line_id) for line in issued.lines},
            remittance,
        )
        transferred = sum(o.transferred for o in outcomes)
        new_invoice_id = None
        if transferred:
            new_invoice_id = _new_id()
            await self._transfer(conn, invoice, issued, outcomes, new_invoice_id, remittance)
        await self.repos.invoices.save(invoice_id, invoice, [RemittanceApplied(
            invoice_id=invoice_id, customer_id=issued.customer_id, remittance_id=remittance.remittance_id,
            claim_reference=remittance.claim_reference, denied=remittance.paid == 0 or any(
                o.paid == 0 and o.expected for o in outcomes),
            lines=outcomes, paid=sum(o.paid for o in outcomes),
            written_off=sum(o.written_off for o in outcomes), transferred=transferred,
            transferred_to=new_invoice_id, applied_at=self.clock.now(),
        )], subject=issued.customer_id, connection=conn)

    async def _transfer(
        self, conn: asyncpg.Connection, invoice: Invoice, issued: InvoiceIssued, outcomes: Sequence[Any],
        new_invoice_id: str, remittance: ClaimRemittance,
    ) -> None:
        """Bills what the payer left unpaid (and did not adjust as contractual) to the next party."""
        by_line = {line.line_id: line for line in issued.lines}
        lines = []
        for outcome in outcomes:
            if not outcome.transferred:
                continue
            line = by_line[outcome.line_id]
            charge = await conn.fetchval("SELECT charge FROM charges WHERE charge_id = $1", line.charge_id)
            internal = ChargeRecorded.model_validate(json.loads(charge)).procedure if charge else line.code
            lines.append(line.model_copy(update={
                "code": internal, "amount": outcome.transferred, "components": _components(outcome),
            }))
        reason = (
            f"Remainder of {issued.number} after {issued.party.name}'s remittance "
            f"{remittance.remittance_id} ({', '.join(sorted({r for o in outcomes for r in o.reasons})) or 'unpaid'})"
        )
        next_coverage = await self._next_coverage(conn, issued)
        if next_coverage is not None:
            decided = adjudication(
                issued.party.coverage_id or "", issued.lines, remittance, outcomes,
                {line.line_id for line in lines},
            )
            prior = [
                decided if payer.coverage_id == decided.coverage_id else payer
                for payer in await self._prior_payers(conn, issued.bill_id, next_coverage.coverage_id)
            ]
            await self._bill_payer(
                conn, new_invoice_id, issued.bill_id, issued.customer_id, next_coverage.payer_id,
                next_coverage.coverage_id, next_coverage.responsibility, lines, issued.currency, prior,
                transferred_from=issued.invoice_id, transfer_reason=reason,
            )
        else:
            await self._bill_customer(
                conn, new_invoice_id, issued.bill_id, issued.customer_id, lines, issued.currency,
                transferred_from=issued.invoice_id, transfer_reason=reason,
            )

    async def _next_coverage(self, conn: asyncpg.Connection, issued: InvoiceIssued) -> CoverageBasis | None:
        if issued.bill_id is None:
            return None
        bill = await self.repos.bills.get_or_new(issued.bill_id, connection=conn)
        if bill.billed is None:
            return None
        coverages = bill.billed.coverages
        for index, basis in enumerate(coverages):
            if basis.coverage_id == issued.party.coverage_id and index + 1 < len(coverages):
                return coverages[index + 1]
        return None

    # -- voids and credit notes ------------------------------------------------------------------

    async def invoice(self, conn: asyncpg.Connection, invoice_id: str) -> Invoice:
        invoice = await self.repos.invoices.get_or_new(invoice_id, connection=conn)
        if invoice.version == 0:
            raise InvoiceNotFound(invoice_id)
        return invoice

    async def void(self, conn: asyncpg.Connection, invoice_id: str, reason: str, voided_by: str) -> Invoice:
        invoice = await self.invoice(conn, invoice_id)
        invoice.may_void()
        assert invoice.issued is not None
        await self.repos.invoices.save(invoice_id, invoice, [InvoiceVoided(
            invoice_id=invoice_id, number=invoice.issued.number, customer_id=invoice.issued.customer_id,
            reason=reason, voided_by=voided_by, voided_at=self.clock.now(),
        )], subject=invoice.issued.customer_id, connection=conn)
        return invoice

    async def credit(
        self, conn: asyncpg.Connection, invoice_id: str, amounts: dict[str, int] | None, reason: str,
        issued_by: str,
    ) -> CreditNoteIssued:
        invoice = await self.invoice(conn, invoice_id)
        return await self._credit(conn, invoice, amounts, reason, issued_by)

    async def _credit(
        self, conn: asyncpg.Connection, invoice: Invoice, amounts: dict[str, int] | None, reason: str,
        issued_by: str,
    ) -> CreditNoteIssued:
        lines = invoice.credit_lines(amounts)
        assert invoice.issued is not None
        today = self.clock.today()
        series = series_name(self.policy.credit_note_series, today)
        event = CreditNoteIssued(
            credit_note_id=_new_id(), number=await next_number(conn, series), series=series,
            invoice_id=invoice.invoice_id, invoice_number=invoice.issued.number,
            customer_id=invoice.issued.customer_id, lines=lines, total=sum(line.amount for line in lines),
            currency=invoice.issued.currency, reason=reason, issued_by=issued_by, issue_date=today,
            issued_at=self.clock.now(),
        )
        await self.repos.invoices.save(
            invoice.invoice_id, invoice, [event], subject=invoice.issued.customer_id, connection=conn
        )
        return event

    # -- statements ------------------------------------------------------------------------------

    async def statement_run(
        self, pool: asyncpg.Pool, statement_date: date, customer_id: str | None = None
    ) -> list[str]:
        """A statement of open items for every customer owing something on ``statement_date``
        (once per customer, date and currency: amounts in different currencies never add up).
        An item is open for what payments has not yet received of it."""
        async with pool.acquire() as conn:
            customers = await conn.fetch(
                f"""SELECT DISTINCT customer_id FROM invoices i
                   WHERE party_kind = 'customer' AND status = 'issued' AND {STILL_OWED} > 0
                     AND issue_date <= $1 AND ($2::text IS NULL OR customer_id = $2)
                     AND NOT EXISTS (SELECT 1 FROM statements s WHERE s.customer_id = i.customer_id
                                     AND s.statement_date = $1 AND s.currency = i.currency)
                   ORDER BY customer_id""",
                statement_date, customer_id,
            )
        issued = []
        for row in customers:
            async with pool.acquire() as conn, conn.transaction():
                issued += await self.issue_statements(conn, row["customer_id"], statement_date)
        return issued

    async def issue_statements(self, conn: asyncpg.Connection, customer_id: str, statement_date: date) -> list[str]:
        """The customer's statements for the date, one per currency they owe in."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('statement/' || $1))", customer_id)
        rows = await conn.fetch(
            f"""SELECT invoice_id, number, issue_date, due_date, total, {STILL_OWED} AS open_amount, currency
               FROM invoices i
               WHERE customer_id = $1 AND party_kind = 'customer' AND status = 'issued'
                 AND {STILL_OWED} > 0 AND issue_date <= $2
                 AND NOT EXISTS (SELECT 1 FROM statements s WHERE s.customer_id = i.customer_id
                                 AND s.statement_date = $2 AND s.currency = i.currency)
               ORDER BY currency, issue_date, number""",
            customer_id, statement_date,
        )
        by_currency: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_currency.setdefault(row["currency"], []).append(row)
        issued = []
        series = series_name(self.policy.statement_series, statement_date)
        for currency, items in by_currency.items():
            statement_id = _new_id()
            statement = await self.repos.statements.get_or_new(statement_id, connection=conn)
            await self.repos.statements.save(statement_id, statement, [StatementIssued(
                statement_id=statement_id, number=await next_number(conn, series), customer_id=customer_id,
                statement_date=statement_date,
                items=[StatementItem(invoice_id=r["invoice_id"], number=r["number"], issue_date=r["issue_date"],
                                     due_date=r["due_date"], total=r["total"], open=r["open_amount"])
                       for r in items],
                total_open=sum(r["open_amount"] for r in items), currency=currency,
                issued_at=self.clock.now(),
            )], subject=customer_id, connection=conn)
            issued.append(statement_id)
        return issued


def _entry(entry: MappedCode) -> CrosswalkEntry:
    return CrosswalkEntry.model_validate(entry.model_dump())


def _version(published: CrosswalkPublished) -> CrosswalkVersion:
    return CrosswalkVersion(
        payer_id=published.payer_id, version=published.version, effective_from=published.effective_from,
        effective_to=published.effective_to, entries=[_entry(entry) for entry in published.entries],
    )


def _lines_for(charges: Sequence[ChargeRecorded], split: EncounterSplit, party: str) -> list[InvoiceLine]:
    shares = {line.line_id: {share.party: share for share in line.shares} for line in split.lines}
    lines = []
    for charge in charges:
        share = shares[charge.charge_id].get(party)
        if share is None or share.amount == 0:
            continue
        components = None
        if party == SPLIT_CUSTOMER:
            components = ShareComponents(
                deductible=share.deductible, copay=share.copay, coinsurance=share.coinsurance,
                not_covered=share.not_covered,
            )
        lines.append(InvoiceLine(
            line_id=charge.charge_id, charge_id=charge.charge_id, service_date=charge.service_date,
            code=charge.procedure, description=charge.description, units=charge.units,
            unit_price=charge.unit_price, charge_amount=charge.amount, amount=share.amount,
            diagnoses=[charge.diagnoses[p - 1].code for p in charge.diagnosis_pointers],
            components=components,
        ))
    return lines


def _components(outcome: Any) -> ShareComponents:
    parts = {"deductible": 0, "copay": 0, "coinsurance": 0}
    for reason in outcome.reasons:
        group, _, carc = reason.partition("-")
        if group == "PR" and carc in _PR_COMPONENT:
            parts[_PR_COMPONENT[carc]] = outcome.transferred - sum(parts.values())
            break
    return ShareComponents(**parts, not_covered=outcome.transferred - sum(parts.values()))
