"""Keeping verifications current: a coverage whose verification is about to go stale is asked
about again before it does, so invoicing finds a current one when it bills.

Run periodically by the service (``Reverifier``) and on demand by operators for a given date
(POST /v1/operations/reverification). Asking twice is harmless: a coverage with a check still
pending is skipped, and the aggregate refuses a duplicate pending check anyway."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta

import asyncpg

from services.eligibility.application.handlers import Verifications
from services.eligibility.application.registration_feed import check_request, coverage_terms
from services.eligibility.domain.events import CheckTrigger
from shared.eventstore import retry_on_conflict
from shared.runtime import Every

log = logging.getLogger(__name__)


async def coverages_going_stale(conn: asyncpg.Connection, *, today: date, lead_days: int) -> list[asyncpg.Record]:
    """Coverages still in force whose latest ended check is a verification that stops counting
    within ``lead_days`` of ``today`` (or already has), with no check pending."""
    return await conn.fetch(
        """SELECT c.coverage_id, c.customer_id, c.terms
           FROM coverages c
           JOIN LATERAL (
               SELECT status, valid_until FROM checks k
               WHERE k.coverage_id = c.coverage_id AND k.status <> 'pending'
               ORDER BY k.completed_at DESC LIMIT 1
           ) latest ON true
           WHERE (c.ended_on IS NULL OR c.ended_on >= $1)
             AND latest.status = 'verified' AND latest.valid_until <= $2
             AND NOT EXISTS (SELECT 1 FROM checks p WHERE p.coverage_id = c.coverage_id AND p.status = 'pending')
           ORDER BY c.coverage_id""",
        today, today + timedelta(days=lead_days),
    )


async def reverify_going_stale(
    pool: asyncpg.Pool, verifications: Verifications, *, today: date, lead_days: int,
    service_types: Sequence[str],
) -> list[str]:
    """Request a check of every coverage going stale; the ids of the checks requested."""
    async with pool.acquire() as conn:
        due = await coverages_going_stale(conn, today=today, lead_days=lead_days)
    requested = []
    for coverage in due:
        async def request(coverage: asyncpg.Record = coverage) -> str | None:
            async with pool.acquire() as conn, conn.transaction():
                return await verifications.request_check(
                    conn, coverage["coverage_id"],
                    await check_request(
                        conn, coverage["customer_id"], coverage_terms(coverage), service_date=today,
                        service_types=service_types, trigger=CheckTrigger.STALE,
                    ),
                )

        check_id = await retry_on_conflict(request)
        if check_id is not None:
            requested.append(check_id)
    return requested


class Reverifier:
    """Runs ``reverify_going_stale`` for the clock's today every ``interval_seconds``."""

    def __init__(
        self, *, pool: asyncpg.Pool, verifications: Verifications, lead_days: int,
        service_types: Sequence[str], interval_seconds: float,
    ) -> None:
        self.pool = pool
        self.verifications = verifications
        self.lead_days = lead_days
        self.service_types = tuple(service_types)
        self.interval_seconds = interval_seconds

    async def run(self) -> None:
        await Every(self.interval_seconds, self.run_once, "re-verification pass").run()

    async def run_once(self) -> None:
        requested = await reverify_going_stale(
            self.pool, self.verifications, today=self.verifications.clock.today(),
            lead_days=self.lead_days, service_types=self.service_types,
        )
        if requested:
            log.info("asked again about %d coverages going stale", len(requested))
