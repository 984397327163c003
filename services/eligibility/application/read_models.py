"""Eligibility's own read models, updated in the same transaction as the events they fold (so an
answer never lags behind the write that caused it) and rebuildable from the store."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, ClassVar

import asyncpg

from services.eligibility.domain.events import (
    EligibilityCheckFailed,
    EligibilityCheckRequested,
    EligibilityCheckRetried,
    EligibilityRejected,
    EligibilityVerified,
    EstimateIssued,
    PayerChanged,
    PayerRegistered,
    PayerRetired,
    ProgramEligibilityDetermined,
)
from shared.envelope import EventEnvelope


class PayerDirectory:
    name = "eligibility.payers"
    tables = ("payers",)
    event_types = frozenset({PayerRegistered.event_type, PayerChanged.event_type, PayerRetired.event_type})

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        if event.type == PayerRetired.event_type:
            await conn.execute(
                "UPDATE payers SET retired = true, version = version + 1, updated_at = $2 WHERE payer_id = $1",
                data["payer_id"], event.time,
            )
            return
        profile = data["profile"]
        await conn.execute(
            """INSERT INTO payers (payer_id, name, kind, profile, version, updated_at)
               VALUES ($1, $2, $3, $4, 1, $5)
               ON CONFLICT (payer_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
                   profile = EXCLUDED.profile, version = payers.version + 1, updated_at = EXCLUDED.updated_at""",
            data["payer_id"], profile["name"], profile["kind"], json.dumps(profile), event.time,
        )


class CheckLedger:
    """Every check and its outcome; the pending ones are the verifier's queue."""

    name = "eligibility.checks"
    tables = ("checks",)
    event_types = frozenset({
        EligibilityCheckRequested.event_type, EligibilityCheckRetried.event_type,
        EligibilityVerified.event_type, EligibilityRejected.event_type, EligibilityCheckFailed.event_type,
    })
    OUTCOMES: ClassVar[dict[str, str]] = {
        EligibilityVerified.event_type: "verified",
        EligibilityRejected.event_type: "rejected",
        EligibilityCheckFailed.event_type: "failed",
    }

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data: dict[str, Any] = event.data
        if event.type == EligibilityCheckRequested.event_type:
            await conn.execute(
                """INSERT INTO checks (check_id, customer_id, coverage_id, payer_id, status, trigger,
                       service_date, service_types, subscriber, patient, requested_at)
                   VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10)""",
                data["check_id"], data["customer_id"], data["coverage_id"], data["payer_id"],
                data["trigger"], optional_date(data["service_date"]), data["service_types"],
                json.dumps(data["subscriber"]), json.dumps(data.get("patient")), event.time,
            )
        elif event.type == EligibilityCheckRetried.event_type:
            await conn.execute(
                """UPDATE checks SET status = 'pending', attempts = 0, next_attempt_at = now(),
                       lease_until = NULL, completed_at = NULL, outcome = NULL
                   WHERE check_id = $1""",
                data["check_id"],
            )
        else:
            await conn.execute(
                """UPDATE checks SET status = $2, outcome = $3, completed_at = $4, lease_until = NULL,
                       verified_on = $5, valid_until = $6, last_error = COALESCE($7, last_error)
                   WHERE check_id = $1""",
                data["check_id"], self.OUTCOMES[event.type], json.dumps(data), event.time,
                optional_date(data.get("verified_on")), optional_date(data.get("valid_until")),
                data.get("reason"),  # a failure's reason; the others keep the last attempt's error
            )


class ProgramDeterminations:
    name = "eligibility.program-determinations"
    tables = ("program_determinations",)
    event_types = frozenset({ProgramEligibilityDetermined.event_type})

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        await conn.execute(
            """INSERT INTO program_determinations (determination_id, customer_id, program_id, eligible,
                   valid_from, valid_until, data, determined_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            data["determination_id"], data["customer_id"], data["determination"]["program_id"],
            data["determination"]["eligible"], optional_date(data["valid_from"]), optional_date(data["valid_until"]),
            json.dumps(data), event.time,
        )


class Estimates:
    name = "eligibility.estimates"
    tables = ("estimates",)
    event_types = frozenset({EstimateIssued.event_type})

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        await conn.execute(
            "INSERT INTO estimates (estimate_id, customer_id, data, issued_at) VALUES ($1, $2, $3, $4)",
            data["estimate_id"], data["customer_id"], json.dumps(data), event.time,
        )


def optional_date(value: str | None) -> date | None:
    """A date of an event's JSON data, which may be absent."""
    return date.fromisoformat(value) if value else None


INLINE_READ_MODELS = (PayerDirectory(), CheckLedger(), ProgramDeterminations(), Estimates())
