"""Eligibility's use cases for the payer directory and verification checks. Each reads as a
sentence: load the aggregate, decide, save.

Every handler runs inside a transaction its caller opened (an HTTP write's idempotency guard, the
Kafka consumer's inbox transaction, or the verifier's), so events and inline read models commit
together."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from services.eligibility.domain.coverage import EligibilityResponse
from services.eligibility.domain.events import PayerProfile
from services.eligibility.domain.payer import Payer
from services.eligibility.domain.verification import (
    CheckNotFound,
    CheckRequest,
    CoverageVerification,
    StaffAnswer,
)
from shared.clock import Clock
from shared.events import DomainEvent
from shared.eventstore.repository import EventSourcedRepository, StreamNotFound
from shared.rules import RuleViolated


class PayerNotFound(StreamNotFound):
    pass


def new_id(prefix: str) -> Callable[[], str]:
    return lambda: f"{prefix}_{uuid.uuid4().hex}"


@dataclass
class Verifications:
    """The payer directory and the checks of coverages."""

    payers: EventSourcedRepository[Payer]
    coverages: EventSourcedRepository[CoverageVerification]
    clock: Clock
    valid_days: int
    new_check_id: Callable[[], str] = field(default_factory=lambda: new_id("chk"))

    # -- payer directory ------------------------------------------------------------------------

    async def register_payer(self, conn: asyncpg.Connection, payer_id: str, profile: PayerProfile) -> Payer:
        payer = await self.payers.get_or_new(payer_id, connection=conn)
        if payer.version:
            raise RuleViolated("payer_id", f"payer {payer_id} is already in the directory")
        events = Payer.register(payer_id, profile, now=self.clock.now())
        await self.payers.save(payer_id, payer, events, subject=payer_id, connection=conn)
        return payer

    async def change_payer(
        self, conn: asyncpg.Connection, payer_id: str, profile: PayerProfile, expected_version: int | None,
    ) -> Payer:
        return await self._update_payer(
            conn, payer_id, expected_version, lambda payer: payer.change(profile, now=self.clock.now())
        )

    async def retire_payer(
        self, conn: asyncpg.Connection, payer_id: str, reason: str | None, expected_version: int | None,
    ) -> Payer:
        return await self._update_payer(
            conn, payer_id, expected_version, lambda payer: payer.retire(reason, now=self.clock.now())
        )

    async def _update_payer(
        self, conn: asyncpg.Connection, payer_id: str, expected_version: int | None,
        decide: Callable[[Payer], list[DomainEvent]],
    ) -> Payer:
        payer = await self.payers.get(payer_id, connection=conn, expected_version=expected_version)
        await self.payers.save(payer_id, payer, decide(payer), subject=payer_id, connection=conn)
        return payer

    # -- checks ---------------------------------------------------------------------------------

    async def request_check(
        self, conn: asyncpg.Connection, coverage_id: str, request: CheckRequest
    ) -> str | None:
        """The id of the new check, or None when the same check is already pending."""
        check_id = self.new_check_id()
        verification = await self.coverages.get_or_new(coverage_id, connection=conn)
        events = verification.request_check(request, check_id=check_id, now=self.clock.now())
        await self._save(conn, verification, events, customer_id=request.customer_id)
        return check_id if events else None

    async def record_answer(
        self, conn: asyncpg.Connection, coverage_id: str, check_id: str, response: EligibilityResponse,
        exchange_id: str,
    ) -> list[DomainEvent]:
        verification = await self.coverages.get(coverage_id, connection=conn)
        events = verification.record_answer(
            check_id, response, exchange_id=exchange_id, today=self.clock.today(),
            valid_days=self.valid_days, now=self.clock.now(),
        )
        await self._save(conn, verification, events)
        return events

    async def record_failure(
        self, conn: asyncpg.Connection, coverage_id: str, check_id: str, *, attempts: int, reason: str,
        exchange_id: str | None, retryable: bool = True,
    ) -> list[DomainEvent]:
        verification = await self.coverages.get(coverage_id, connection=conn)
        events = verification.record_failure(
            check_id, attempts=attempts, reason=reason, exchange_id=exchange_id,
            retryable=retryable, now=self.clock.now(),
        )
        await self._save(conn, verification, events)
        return events

    async def retry_check(self, conn: asyncpg.Connection, check_id: str, requested_by: str) -> None:
        verification = await self._coverage_of_check(conn, check_id)
        await self._save(
            conn, verification, verification.retry(check_id, requested_by=requested_by, now=self.clock.now())
        )

    async def record_staff_answer(
        self, conn: asyncpg.Connection, check_id: str, answer: StaffAnswer, recorded_by: str
    ) -> None:
        verification = await self._coverage_of_check(conn, check_id)
        events = verification.record_staff_answer(
            check_id, answer, recorded_by=recorded_by, today=self.clock.today(), valid_days=self.valid_days,
            now=self.clock.now(),
        )
        await self._save(conn, verification, events)

    async def _coverage_of_check(self, conn: asyncpg.Connection, check_id: str) -> CoverageVerification:
        coverage_id = await conn.fetchval("SELECT coverage_id FROM checks WHERE check_id = $1", check_id)
        if coverage_id is None:
            raise CheckNotFound(check_id)
        return await self.coverages.get(coverage_id, connection=conn)

    async def _save(
        self, conn: asyncpg.Connection, verification: CoverageVerification, events: list[DomainEvent],
        *, customer_id: str | None = None,
    ) -> None:
        """Verification events are keyed by the customer, so a consumer sees them in order with
        the customer's other events."""
        subject = customer_id or verification.customer_id
        assert subject is not None, "a coverage's first event is its first check request"
        await self.coverages.save(
            verification.coverage_id, verification, events, subject=subject, connection=conn
        )
