"""Questions answered from eligibility's read models: checks, and a coverage's standing on a date."""

from __future__ import annotations

import json
from datetime import date

import asyncpg

from services.eligibility.application.read_models import optional_date
from services.eligibility.application.registration_feed import check_request, coverage_terms
from services.eligibility.domain.events import CheckTrigger
from services.eligibility.domain.verification import (
    CheckNotFound,
    CheckRequest,
    CheckStatus,
    EndedCheck,
    Standing,
    standing_as_of,
)


class CoverageNotKnown(LookupError):
    """Registration has not told us about this coverage (or not yet)."""


class CheckAlreadyPending(Exception):
    def __init__(self, coverage_id: str) -> None:
        super().__init__(f"an identical check of coverage {coverage_id} is already pending")
        self.coverage_id = coverage_id


async def check_row(conn: asyncpg.Connection, check_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM checks WHERE check_id = $1", check_id)
    if row is None:
        raise CheckNotFound(check_id)
    return row


async def checks_of(
    pool: asyncpg.Pool, *, customer_id: str | None, coverage_id: str | None, status: str | None, limit: int,
) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT * FROM checks
           WHERE ($1::text IS NULL OR customer_id = $1) AND ($2::text IS NULL OR coverage_id = $2)
             AND ($3::text IS NULL OR status = $3)
           ORDER BY requested_at DESC, check_id LIMIT $4""",
        customer_id, coverage_id, status, limit,
    )


async def coverage_standing(
    conn: asyncpg.Connection, coverage_id: str, as_of: date
) -> tuple[Standing, asyncpg.Record | None]:
    """The coverage's standing on ``as_of`` and the check that decided it."""
    latest = await conn.fetchrow(
        """SELECT * FROM checks WHERE coverage_id = $1 AND status <> 'pending'
           ORDER BY completed_at DESC, check_id LIMIT 1""",
        coverage_id,
    )
    pending = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM checks WHERE coverage_id = $1 AND status = 'pending')", coverage_id
    )
    ended = None
    if latest is not None:
        outcome = json.loads(latest["outcome"])
        ended = EndedCheck(
            status=CheckStatus(latest["status"]), verified_on=latest["verified_on"],
            valid_until=latest["valid_until"],
            coverage_from=optional_date(outcome.get("coverage_from")), coverage_to=optional_date(outcome.get("coverage_to")),
        )
    return standing_as_of(ended, pending=pending, as_of=as_of), latest


async def coverages_of(conn: asyncpg.Connection, customer_id: str) -> list[asyncpg.Record]:
    """The customer's coverages as registration told us, primary first."""
    return await conn.fetch(
        """SELECT coverage_id, payer_id, priority, terms, ended_on FROM coverages WHERE customer_id = $1
           ORDER BY array_position(ARRAY['primary', 'secondary', 'tertiary'], priority), coverage_id""",
        customer_id,
    )


async def on_demand_request(
    conn: asyncpg.Connection, coverage_id: str, *, service_date: date, service_types: tuple[str, ...]
) -> CheckRequest:
    coverage = await conn.fetchrow("SELECT customer_id, terms FROM coverages WHERE coverage_id = $1", coverage_id)
    if coverage is None:
        raise CoverageNotKnown(coverage_id)
    return await check_request(
        conn, coverage["customer_id"], coverage_terms(coverage), service_date=service_date,
        service_types=service_types, trigger=CheckTrigger.ON_DEMAND,
    )
