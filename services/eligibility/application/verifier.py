"""The verifier: works the queue of pending checks, asks each payer, records how each check ended.

For every due check it renders a 270, keeps it, sends it to the payer's clearinghouse, keeps the
answer, and records EligibilityVerified or EligibilityRejected. A payer that cannot be reached is
asked again with exponential backoff; after ``max_attempts`` the check ends EligibilityCheckFailed
and stays in the ledger for an operator to retry. An answer that is not a 271 is kept as it came
and fails the check at once: asking again would get the same garbage.

Checks are claimed with a lease (``FOR UPDATE SKIP LOCKED``), so several verifier processes can
share the queue, and a crashed one's checks are picked up again once its lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import asyncpg
from pydantic import TypeAdapter

from services.eligibility.application.handlers import Verifications
from services.eligibility.domain.coverage import (
    EligibilityInquiry,
    EligibilityResponse,
    Member,
    Party,
)
from services.eligibility.domain.events import (
    PatientSnapshot,
    PayerProfile,
    SubscriberSnapshot,
    X12Connection,
)
from shared.eventstore import retry_on_conflict

log = logging.getLogger(__name__)

_PATIENT: TypeAdapter[PatientSnapshot | None] = TypeAdapter(PatientSnapshot | None)


class PayerUnreachable(Exception):
    """No answer: connection refused, timed out, or the clearinghouse is failing (5xx, 429)."""


class PayerRefused(Exception):
    """The clearinghouse refused the inquiry itself (a 4xx): sending it again will not help."""


class MalformedAnswer(Exception):
    """The answer is not a 271 we can read."""


class UnsendableInquiry(Exception):
    """The inquiry cannot be written as X12 (e.g. a name holding a separator character); the
    coverage's data must be corrected in registration before the check is retried."""


class EligibilityGateway(Protocol):
    """How inquiries reach payers: rendered as X12 270, answered as X12 271 (adapters/x12_gateway.py)."""

    def render_inquiry(self, inquiry: EligibilityInquiry) -> str: ...

    async def send(self, endpoint: str, document: str, *, timeout: float) -> str: ...

    def read_answer(self, document: str) -> EligibilityResponse: ...


@dataclass(frozen=True)
class VerifierPolicy:
    max_attempts: int = 4
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    batch_size: int = 8
    poll_interval_seconds: float = 1.0
    # How long a claimed check is left to its worker before another may take it: longer than the
    # slowest payer may take to answer (X12Connection allows up to 120 s) plus recording.
    lease_seconds: float = 180.0

    def backoff(self, attempts: int) -> float:
        return min(self.backoff_seconds * 2 ** (attempts - 1), self.backoff_max_seconds)


@dataclass(frozen=True)
class Submitter:
    """Who we are to clearinghouses: ISA06 and the provider of the 2100B loop."""

    sender_id: str
    provider: Party
    production: bool = False


@dataclass(frozen=True)
class DueCheck:
    check_id: str
    coverage_id: str
    payer_id: str
    subscriber: SubscriberSnapshot
    patient: PatientSnapshot | None
    service_date: date
    service_types: list[str]
    attempts: int


class Verifier:
    def __init__(
        self, *, pool: asyncpg.Pool, verifications: Verifications, gateway: EligibilityGateway,
        submitter: Submitter, policy: VerifierPolicy,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self.pool = pool
        self.verifications = verifications
        self.gateway = gateway
        self.submitter = submitter
        self.policy = policy
        self.on_outcome = on_outcome or (lambda outcome: None)

    async def run(self) -> None:
        """Work the queue until cancelled; a failing pass is logged and the next one tries again."""
        while True:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("verifier pass failed")
                worked = 0
            if not worked:
                await asyncio.sleep(self.policy.poll_interval_seconds)

    async def run_once(self) -> int:
        """Claim the checks that are due and work them concurrently; how many were worked."""
        due = await self._claim()
        await asyncio.gather(*(self._work(check) for check in due))
        return len(due)

    async def _claim(self) -> list[DueCheck]:
        rows = await self.pool.fetch(
            """UPDATE checks SET attempts = attempts + 1, lease_until = now() + make_interval(secs => $1)
               WHERE check_id IN (
                   SELECT check_id FROM checks
                   WHERE status = 'pending' AND next_attempt_at <= now()
                     AND (lease_until IS NULL OR lease_until < now())
                   ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
               RETURNING check_id, coverage_id, payer_id, subscriber, patient, service_date, service_types,
                         attempts""",
            self.policy.lease_seconds, self.policy.batch_size,
        )
        return [
            DueCheck(
                check_id=r["check_id"], coverage_id=r["coverage_id"], payer_id=r["payer_id"],
                subscriber=SubscriberSnapshot.model_validate_json(r["subscriber"]),
                patient=_PATIENT.validate_json(r["patient"]),
                service_date=r["service_date"],
                service_types=list(r["service_types"]), attempts=r["attempts"],
            )
            for r in rows
        ]

    async def _work(self, check: DueCheck) -> None:
        try:
            await self._verify(check)
        except Exception:  # the lease runs out and the check is tried again
            log.exception("working check %s failed", check.check_id)

    async def _verify(self, check: DueCheck) -> None:
        payer = await self.pool.fetchrow("SELECT profile, retired FROM payers WHERE payer_id = $1", check.payer_id)
        if payer is None or payer["retired"]:
            state = "is not in the directory" if payer is None else "is retired"
            await self._fail(check, f"payer {check.payer_id} {state}; add it, then retry the check", None)
            return
        profile = PayerProfile.model_validate_json(payer["profile"])
        if not isinstance(profile.connection, X12Connection):
            await self._fail(
                check, f"payer {check.payer_id} takes no electronic inquiries; staff confirm its coverage",
                None, retryable=False,
            )
            return
        connection = profile.connection
        inquiry = await self._inquiry(check, profile.name, connection)
        try:
            document = self.gateway.render_inquiry(inquiry)
        except UnsendableInquiry as error:
            await self._fail(check, f"the inquiry cannot be sent: {error}", None)
            return
        exchange_id = await self._keep_request(check, connection.endpoint, document)
        try:
            answer = await self.gateway.send(connection.endpoint, document, timeout=connection.timeout_seconds)
        except PayerUnreachable as error:
            await self._keep_answer(exchange_id, None, str(error))
            await self._unreachable(check, str(error))
            return
        except PayerRefused as error:
            await self._keep_answer(exchange_id, None, str(error))
            await self._fail(check, f"the clearinghouse refused the inquiry: {error}", exchange_id)
            return
        await self._keep_answer(exchange_id, answer, None)
        try:
            response = self.gateway.read_answer(answer)
        except MalformedAnswer as error:
            await self._fail(check, f"the payer's answer is not a valid 271: {error}", exchange_id)
            return
        if response.trace_number not in (None, inquiry.trace_number):
            await self._fail(
                check, f"the 271 answers trace {response.trace_number}, not this check's {inquiry.trace_number}",
                exchange_id,
            )
            return
        await self._in_transaction(
            lambda conn: self.verifications.record_answer(conn, check.coverage_id, check.check_id, response, exchange_id)
        )
        self.on_outcome(response.status.value)

    async def _inquiry(self, check: DueCheck, payer_name: str, connection: X12Connection) -> EligibilityInquiry:
        control_number = await self.pool.fetchval("SELECT nextval('x12_control_numbers')")
        subscriber, patient = check.subscriber, check.patient
        return EligibilityInquiry(
            trace_number=check.check_id.removeprefix("chk_")[:30],
            control_number=control_number,
            sender_id=self.submitter.sender_id,
            receiver_id=connection.receiver_id,
            payer=Party(name=payer_name, identifier=connection.payer_identifier, identifier_qualifier="PI"),
            provider=self.submitter.provider,
            subscriber=Member(**subscriber.model_dump()),
            dependent=None if patient is None else Member(member_id=subscriber.member_id, **patient.model_dump()),
            service_date=check.service_date,
            service_types=check.service_types,
            production=self.submitter.production,
        )

    async def _unreachable(self, check: DueCheck, error: str) -> None:
        if check.attempts >= self.policy.max_attempts:
            await self._fail(check, f"payer unreachable after {check.attempts} attempts: {error}", None)
            return
        delay = self.policy.backoff(check.attempts)
        log.warning("check %s: payer unreachable (attempt %d), next try in %.1fs: %s",
                    check.check_id, check.attempts, delay, error)
        await self.pool.execute(
            """UPDATE checks SET next_attempt_at = now() + make_interval(secs => $2), lease_until = NULL,
                   last_error = $3
               WHERE check_id = $1 AND status = 'pending'""",
            check.check_id, delay, error,
        )
        self.on_outcome("retry_scheduled")

    async def _fail(self, check: DueCheck, reason: str, exchange_id: str | None, *, retryable: bool = True) -> None:
        await self._in_transaction(
            lambda conn: self.verifications.record_failure(
                conn, check.coverage_id, check.check_id, attempts=check.attempts, reason=reason,
                exchange_id=exchange_id, retryable=retryable,
            )
        )
        self.on_outcome("failed")

    async def _in_transaction(self, work: Callable[[asyncpg.Connection], Awaitable[object]]) -> None:
        async def once() -> None:
            async with self.pool.acquire() as conn, conn.transaction():
                await work(conn)

        await retry_on_conflict(once)

    async def _keep_request(self, check: DueCheck, endpoint: str, document: str) -> str:
        exchange_id = f"x12_{uuid.uuid4().hex}"
        await self.pool.execute(
            """INSERT INTO x12_exchanges (exchange_id, check_id, attempt, endpoint, request, sent_at)
               VALUES ($1, $2, $3, $4, $5, now())""",
            exchange_id, check.check_id, check.attempts, endpoint, document,
        )
        return exchange_id

    async def _keep_answer(self, exchange_id: str, response: str | None, error: str | None) -> None:
        await self.pool.execute(
            "UPDATE x12_exchanges SET response = $2, error = $3, answered_at = now() WHERE exchange_id = $1",
            exchange_id, response, error,
        )
