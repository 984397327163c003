"""What invoicing folds from the other services' events, and what they set in motion.

Registration tells us who the customers are, how to reach them and which coverages they hold;
eligibility tells us the payers, whether each coverage was verified and with which cost shares,
and the estimates customers were given; payments tells us what payers answered to our claims.
Everything arrives on Kafka (never an HTTP call between services) and is applied in the consumer's
inbox transaction, so a redelivered event changes nothing twice. A remittance moves what the payer
did not pay on to the next party in that same transaction; a payer entering the directory releases
the bills held for it. Payments' allocations say what customers paid on their invoices, so
statements list only what is still owed, and its payment instructions are what invoices and
statements print under "How to pay"."""

from __future__ import annotations

import json
from typing import Protocol

import asyncpg

from services.invoicing.adapters.upstream_events import (
    READERS,
    AllocationReleased,
    ClaimAdjusted,
    ClaimDenied,
    ContactDetailsChanged,
    ContactPointBounced,
    ContactPointVerified,
    CoverageAdded,
    CoverageEnded,
    CustomerRegistered,
    EligibilityCheckFailed,
    EligibilityRejected,
    EligibilityVerified,
    EstimateIssued,
    PayerRegistered,
    PayerRetired,
    PaymentAllocated,
    PaymentInstructionsPublished,
    PaymentReversed,
)
from services.invoicing.domain.remittance import ClaimRemittance
from shared.envelope import EventEnvelope


class Reactions(Protocol):
    async def apply_remittance(self, conn: asyncpg.Connection, remittance: ClaimRemittance) -> None: ...

    async def release_held(self, conn: asyncpg.Connection, payer_id: str) -> int: ...


class UpstreamFeed:
    """A projection of registration's, eligibility's and payments' events.

    Without ``reactions`` it only folds: an operator's rebuild must not bill anything again."""

    name = "invoicing.feeds"
    tables = ("customers", "coverages", "payers", "verifications", "estimates", "invoice_payments",
              "payment_instructions")
    event_types = frozenset(READERS)

    def __init__(self, reactions: Reactions | None) -> None:
        self.reactions = reactions

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        # a payload that does not fit the contract raises ValidationError: the consumer dead-letters it
        match READERS[event.type].model_validate(event.data):
            case CustomerRegistered() as registered:
                name = registered.person_name
                await conn.execute(
                    """INSERT INTO customers (customer_id, kind, given_name, family_name, organisation_name,
                           date_of_birth, contact, flags, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                       ON CONFLICT (customer_id) DO UPDATE SET kind = EXCLUDED.kind,
                           given_name = EXCLUDED.given_name, family_name = EXCLUDED.family_name,
                           organisation_name = EXCLUDED.organisation_name,
                           date_of_birth = EXCLUDED.date_of_birth, contact = EXCLUDED.contact,
                           flags = EXCLUDED.flags, updated_at = EXCLUDED.updated_at""",
                    registered.customer_id, registered.kind, name.given if name else None,
                    name.family if name else None, registered.organisation_name,
                    registered.date_of_birth, json.dumps(registered.contact),
                    json.dumps(registered.flags), event.time,
                )
            case ContactDetailsChanged() as changed:
                await conn.execute(
                    "UPDATE customers SET contact = $2, updated_at = $3 WHERE customer_id = $1",
                    changed.customer_id, json.dumps(changed.contact), event.time,
                )
            case ContactPointBounced() as bounced:
                await conn.execute(
                    """UPDATE customers SET bounced_contact_points = bounced_contact_points || to_jsonb($2::text),
                           updated_at = $3
                       WHERE customer_id = $1 AND NOT bounced_contact_points ? $2""",
                    bounced.customer_id, bounced.contact_point_id, event.time,
                )
            case ContactPointVerified() as verified:
                await conn.execute(
                    """UPDATE customers SET bounced_contact_points = bounced_contact_points - $2::text,
                           updated_at = $3 WHERE customer_id = $1""",
                    verified.customer_id, verified.contact_point_id, event.time,
                )
            case CoverageAdded() as coverage:  # and CoverageChanged
                await conn.execute(
                    """INSERT INTO coverages (coverage_id, customer_id, payer_id, priority, terms, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (coverage_id) DO UPDATE SET payer_id = EXCLUDED.payer_id,
                           priority = EXCLUDED.priority, terms = EXCLUDED.terms,
                           updated_at = EXCLUDED.updated_at""",
                    coverage.coverage_id, coverage.customer_id, coverage.terms.payer_id,
                    coverage.terms.priority, coverage.terms.model_dump_json(), event.time,
                )
            case CoverageEnded() as ended:
                await conn.execute(
                    "UPDATE coverages SET ended_on = $2, updated_at = $3 WHERE coverage_id = $1",
                    ended.coverage_id, ended.ended_on, event.time,
                )
            case PayerRegistered() as payer:  # and PayerChanged
                await conn.execute(
                    """INSERT INTO payers (payer_id, profile, updated_at) VALUES ($1, $2, $3)
                       ON CONFLICT (payer_id) DO UPDATE SET profile = EXCLUDED.profile,
                           retired = false, updated_at = EXCLUDED.updated_at""",
                    payer.payer_id, json.dumps(payer.profile), event.time,
                )
                if self.reactions is not None:
                    await self.reactions.release_held(conn, payer.payer_id)
            case PayerRetired() as retired:
                await conn.execute(
                    "UPDATE payers SET retired = true, updated_at = $2 WHERE payer_id = $1",
                    retired.payer_id, event.time,
                )
            case EligibilityVerified() as verified:
                await self._verification(
                    conn, event, verified.coverage_id, verified.customer_id, "verified", verified.check_id,
                    verified.valid_until, verified.coverage_from, verified.coverage_to,
                    json.dumps([share.model_dump(mode="json") for share in verified.cost_shares]),
                    verified.currency,
                )
            case EligibilityRejected() as rejected:
                await self._verification(
                    conn, event, rejected.coverage_id, rejected.customer_id, "rejected", rejected.check_id,
                    None, rejected.coverage_from, rejected.coverage_to, "[]", None,
                )
            case EligibilityCheckFailed() as failed:
                await self._verification(
                    conn, event, failed.coverage_id, failed.customer_id, "failed", failed.check_id,
                    None, None, None, "[]", None,
                )
            case EstimateIssued() as estimate:
                await conn.execute(
                    """INSERT INTO estimates (estimate_id, customer_id, service_date, currency,
                           customer_portion, flag_threshold, valid_until, issued_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (estimate_id) DO NOTHING""",
                    estimate.estimate_id, estimate.customer_id, estimate.service_date, estimate.currency,
                    estimate.customer_portion, estimate.flag_threshold, estimate.valid_until, event.time,
                )
            case ClaimAdjusted() | ClaimDenied() as remittance:
                if self.reactions is not None:
                    await self.reactions.apply_remittance(conn, remittance)
            case PaymentAllocated() as allocated:
                for paid in allocated.allocations:
                    await self._paid(conn, event, paid.invoice_id, allocated.customer_id, paid.amount)
            case AllocationReleased() as released:
                await self._paid(conn, event, released.invoice_id, released.customer_id, -released.amount)
            case PaymentReversed() as reversed_:
                for paid in reversed_.released:
                    await self._paid(conn, event, paid.invoice_id, reversed_.customer_id, -paid.amount)
            case PaymentInstructionsPublished() as instructions:
                await conn.execute(
                    """INSERT INTO payment_instructions (business_id, options, notes, updated_at)
                       VALUES ($1, $2, $3, $4)
                       ON CONFLICT (business_id) DO UPDATE SET options = EXCLUDED.options, notes = EXCLUDED.notes,
                           updated_at = EXCLUDED.updated_at""",
                    instructions.business_id, json.dumps(instructions.options), instructions.notes, event.time,
                )

    @staticmethod
    async def _paid(conn: asyncpg.Connection, event: EventEnvelope, invoice_id: str, customer_id: str, amount: int) -> None:
        """What payments allocated to an invoice, so statements list only what is still owed, and its payment instructions are what invoices and
statements print under "How to pay"."""
        await conn.execute(
            """INSERT INTO invoice_payments (invoice_id, customer_id, paid, updated_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (invoice_id) DO UPDATE SET paid = invoice_payments.paid + EXCLUDED.paid,
                   updated_at = EXCLUDED.updated_at""",
            invoice_id, customer_id, amount, event.time,
        )

    @staticmethod
    async def _verification(
        conn: asyncpg.Connection, event: EventEnvelope, coverage_id: str, customer_id: str, outcome: str,
        check_id: str, valid_until: object, coverage_from: object, coverage_to: object, cost_shares: str,
        currency: str | None,
    ) -> None:
        await conn.execute(
            """INSERT INTO verifications (coverage_id, customer_id, outcome, check_id, valid_until,
                   coverage_from, coverage_to, cost_shares, currency, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $9)
               ON CONFLICT (coverage_id) DO UPDATE SET outcome = EXCLUDED.outcome,
                   check_id = EXCLUDED.check_id, valid_until = EXCLUDED.valid_until,
                   coverage_from = EXCLUDED.coverage_from, coverage_to = EXCLUDED.coverage_to,
                   cost_shares = EXCLUDED.cost_shares, currency = EXCLUDED.currency,
                   updated_at = EXCLUDED.updated_at""",
            coverage_id, customer_id, outcome, check_id, valid_until, coverage_from, coverage_to,
            cost_shares, event.time, currency,
        )
