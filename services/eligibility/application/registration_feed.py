"""What eligibility folds from registration's events, and the checks they start.

A CoverageAdded or CoverageChanged arriving on Kafka (never an HTTP call between services) records
the coverage and requests a check, in the consumer's inbox transaction: a redelivered event finds
itself in the inbox and requests nothing twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import asyncpg

from services.eligibility.adapters.registration_events import (
    READERS,
    CoverageAdded,
    CoverageChanged,
    CoverageEnded,
    CoverageTerms,
    CustomerRegistered,
)
from services.eligibility.application.handlers import Verifications
from services.eligibility.domain.events import CheckTrigger, PatientSnapshot, SubscriberSnapshot
from services.eligibility.domain.verification import CheckRequest
from shared.clock import Clock
from shared.envelope import EventEnvelope


class RegistrationFeed:
    """A projection of registration's customers and coverages that also starts verifications.

    Without ``verifications`` it only folds (an operator's rebuild must not ask every payer again)."""

    name = "eligibility.registration-feed"
    tables = ("customers", "coverages")
    event_types = frozenset(READERS)

    def __init__(
        self, verifications: Verifications | None, clock: Clock, service_types: Sequence[str] = ("30",)
    ) -> None:
        self.verifications = verifications
        self.clock = clock
        self.service_types = tuple(service_types)

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        # a payload that does not fit the contract raises ValidationError: the consumer dead-letters it
        match READERS[event.type].model_validate(event.data):
            case CustomerRegistered() as registered:
                await conn.execute(
                    """INSERT INTO customers (customer_id, given_name, family_name, organisation_name, date_of_birth)
                       VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT (customer_id) DO UPDATE SET given_name = EXCLUDED.given_name,
                           family_name = EXCLUDED.family_name, organisation_name = EXCLUDED.organisation_name,
                           date_of_birth = EXCLUDED.date_of_birth""",
                    registered.customer_id,
                    registered.person_name.given if registered.person_name else None,
                    registered.person_name.family if registered.person_name else None,
                    registered.organisation_name, registered.date_of_birth,
                )
            case CoverageAdded() | CoverageChanged() as coverage:
                await self._record_coverage(conn, coverage.customer_id, coverage.coverage_id, coverage.terms, event)
                if self.verifications is None:
                    return
                trigger = (
                    CheckTrigger.COVERAGE_ADDED if isinstance(coverage, CoverageAdded)
                    else CheckTrigger.COVERAGE_CHANGED
                )
                await self.verifications.request_check(
                    conn, coverage.coverage_id,
                    await check_request(
                        conn, coverage.customer_id, coverage.terms,
                        service_date=self._service_date(coverage.terms.effective_from),
                        service_types=self.service_types, trigger=trigger,
                    ),
                )
            case CoverageEnded() as ended:
                await conn.execute(
                    "UPDATE coverages SET ended_on = $2, updated_at = $3 WHERE coverage_id = $1",
                    ended.coverage_id, ended.ended_on, event.time,
                )

    def _service_date(self, effective_from: date) -> date:
        """Today, or the first day of a coverage that has not started yet."""
        return max(self.clock.today(), effective_from)

    @staticmethod
    async def _record_coverage(
        conn: asyncpg.Connection, customer_id: str, coverage_id: str, terms: CoverageTerms, event: EventEnvelope
    ) -> None:
        await conn.execute(
            """INSERT INTO coverages (coverage_id, customer_id, payer_id, priority, terms, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (coverage_id) DO UPDATE SET payer_id = EXCLUDED.payer_id,
                   priority = EXCLUDED.priority, terms = EXCLUDED.terms, updated_at = EXCLUDED.updated_at""",
            coverage_id, customer_id, terms.payer_id, terms.priority, terms.model_dump_json(), event.time,
        )


async def check_request(
    conn: asyncpg.Connection, customer_id: str, terms: CoverageTerms, *, service_date: date,
    service_types: Sequence[str], trigger: CheckTrigger,
) -> CheckRequest:
    """A check of a coverage: the payer is asked about the subscriber, and about the customer as
    a dependent patient when the customer is not the subscriber (a child on a parent's plan)."""
    customer = await conn.fetchrow(
        "SELECT given_name, family_name, organisation_name, date_of_birth FROM customers WHERE customer_id = $1",
        customer_id,
    )
    given = customer["given_name"] if customer else None
    family = (customer["family_name"] or customer["organisation_name"]) if customer else None
    born = customer["date_of_birth"] if customer else None
    patient = None
    if terms.subscriber.relationship != "self":
        patient = PatientSnapshot(given_name=given, family_name=family, date_of_birth=born)
        name = terms.subscriber.name
        given, family = (name.given, name.family) if name else (None, None)
        born = terms.subscriber.date_of_birth
    return CheckRequest(
        customer_id=customer_id, payer_id=terms.payer_id,
        subscriber=SubscriberSnapshot(
            member_id=terms.member_id, given_name=given, family_name=family, date_of_birth=born,
            group_number=terms.group_number,
        ),
        patient=patient, service_date=service_date, service_types=tuple(service_types), trigger=trigger,
    )


def coverage_terms(record: asyncpg.Record) -> CoverageTerms:
    return CoverageTerms.model_validate(json.loads(record["terms"]))
