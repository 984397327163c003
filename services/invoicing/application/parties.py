"""Who is responsible for a customer's services on a day, read from what registration and
eligibility told us: the coverages on file in coverage order, each with whether it counts as
verified that day by eligibility's published rule (the latest outcome decides; it must be a
verification, not stale on the day, and the day within the coverage dates the payer gave)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from services.invoicing.adapters.upstream_events import CoverageTerms
from services.invoicing.domain.events import Responsibility
from services.invoicing.domain.split import CoverageCostShare, VerifiedCoverage

PRIORITY_ORDER = {"primary": 1, "secondary": 2, "tertiary": 3}


@dataclass(frozen=True)
class CoverageOnFile:
    coverage_id: str
    payer_id: str
    responsibility: Responsibility
    terms: CoverageTerms
    check_id: str | None
    cost_shares: list[CoverageCostShare]
    standing: str  # verified, rejected, failed, stale, pending, outside_coverage_dates
    currency: str | None  # of the verification's amounts

    @property
    def verified(self) -> bool:
        return self.standing == "verified"

    def for_split(self) -> VerifiedCoverage:
        return VerifiedCoverage(
            coverage_id=self.coverage_id, payer_id=self.payer_id, cost_shares=self.cost_shares
        )


def standing_on(row: asyncpg.Record, day: date) -> str:
    outcome = row["outcome"]
    if outcome is None:
        return "pending"
    if outcome != "verified":
        return outcome
    if row["valid_until"] is not None and day > row["valid_until"]:
        return "stale"
    if (row["coverage_from"] and day < row["coverage_from"]) or (row["coverage_to"] and day > row["coverage_to"]):
        return "outside_coverage_dates"
    return "verified"


async def coverages_on(conn: asyncpg.Connection, customer_id: str, day: date) -> list[CoverageOnFile]:
    """The customer's coverages in effect on ``day`` (per registration), in coverage order."""
    rows = await conn.fetch(
        """SELECT c.coverage_id, c.payer_id, c.priority, c.terms, c.ended_on, v.outcome, v.check_id,
                  v.valid_until, v.coverage_from, v.coverage_to, v.cost_shares, v.currency
           FROM coverages c LEFT JOIN verifications v USING (coverage_id)
           WHERE c.customer_id = $1 AND (c.ended_on IS NULL OR c.ended_on >= $2)""",
        customer_id, day,
    )
    found = []
    for row in rows:
        terms = CoverageTerms.model_validate_json(row["terms"])
        if day < terms.effective_from or (terms.effective_to and day > terms.effective_to):
            continue
        shares = json.loads(row["cost_shares"]) if row["cost_shares"] else []
        found.append(CoverageOnFile(
            coverage_id=row["coverage_id"], payer_id=row["payer_id"],
            responsibility=Responsibility(terms.priority), terms=terms, check_id=row["check_id"],
            cost_shares=[CoverageCostShare.model_validate(share) for share in shares],
            standing=standing_on(row, day), currency=row["currency"],
        ))
    return sorted(found, key=lambda c: (PRIORITY_ORDER.get(c.responsibility.value, 9), c.coverage_id))


async def payer_profile(conn: asyncpg.Connection | asyncpg.Pool, payer_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT profile, retired FROM payers WHERE payer_id = $1", payer_id)
    if row is None or row["retired"]:
        return None
    return json.loads(row["profile"])


async def customer_record(conn: asyncpg.Connection, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM customers WHERE customer_id = $1", customer_id)


def customer_name(row: asyncpg.Record) -> str:
    if row["organisation_name"]:
        return row["organisation_name"]
    return " ".join(part for part in (row["given_name"], row["family_name"]) if part)


def electronic_claims(profile: dict[str, Any]) -> bool:
    """Payers asked with X12 take X12 837P claims; others get an invoice document."""
    return profile.get("connection", {}).get("method") == "x12"
