"""Payment-program determinations and Good Faith Estimates: what the customer will owe for
planned services, and how they could owe less.

An estimate uses the latest verification of the customer's coverage only while it counts (see
domain/verification.py standing_as_of); otherwise it estimates as self-pay and says why, rather
than promising a payer share nobody confirmed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.eligibility.application.handlers import new_id
from services.eligibility.application.queries import (
    CoverageNotKnown,
    coverage_standing,
    coverages_of,
)
from services.eligibility.domain.cost_share import cost_share
from services.eligibility.domain.coverage import Benefit, CostShare
from services.eligibility.domain.documents import IssuedDocument
from services.eligibility.domain.estimates import (
    EstimatePolicy,
    PlannedService,
    advise,
    estimate_costs,
)
from services.eligibility.domain.events import (
    EstimateBasis,
    EstimateIssued,
    ProgramEligibilityDetermined,
)
from services.eligibility.domain.programs import ProgramDetermination, ProgramTable, determine
from services.eligibility.domain.verification import Standing
from shared.clock import Clock
from shared.eventstore.repository import EventSourcedRepository
from shared.money import Money
from shared.rules import RuleViolated


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DetermineProgramEligibility(Command):
    program_id: str
    household_size: int = Field(ge=1, le=50, description="People in the household, the customer included")
    annual_income: Money = Field(description="The household's yearly income before taxes")
    region: str | None = Field(None, description="Poverty-guideline region; the configured one when absent")


class RequestEstimate(Command):
    customer_id: str
    coverage_id: str | None = Field(
        None, description="The coverage to estimate with; the customer's primary coverage when absent"
    )
    service_date: date
    services: list[PlannedService] = Field(min_length=1, max_length=200)
    household_size: int | None = Field(None, ge=1, le=50, description="For program advice, when known")
    annual_income: Money | None = Field(None, description="For program advice, when known")

    @model_validator(mode="after")
    def _income_with_household(self) -> RequestEstimate:
        if (self.household_size is None) != (self.annual_income is None):
            raise ValueError("household_size and annual_income are given together or not at all")
        return self


class ProgramNotFound(LookupError):
    pass


@dataclass
class Estimating:
    documents: EventSourcedRepository[IssuedDocument]
    clock: Clock
    programs: ProgramTable
    region: str
    currency: str
    determination_valid_days: int
    estimate_valid_days: int
    flag_threshold: int
    policy: EstimatePolicy
    new_determination_id: Callable[[], str] = field(default_factory=lambda: new_id("det"))
    new_estimate_id: Callable[[], str] = field(default_factory=lambda: new_id("est"))

    async def determine_program_eligibility(
        self, conn: asyncpg.Connection, customer_id: str, command: DetermineProgramEligibility, determined_by: str,
    ) -> ProgramEligibilityDetermined:
        program = self.programs.program(command.program_id)
        if program is None:
            raise ProgramNotFound(command.program_id)
        region = command.region or self.region
        guidelines = self.programs.guidelines_for(program)
        determination = determine(  # refuses with DeterminationRefused, a RuleViolated naming the field
            program, guidelines, household_size=command.household_size,
            annual_income=_in(command.annual_income, program.currency, "annual_income"), region=region,
        )
        today = self.clock.today()
        event = ProgramEligibilityDetermined(
            determination_id=self.new_determination_id(), customer_id=customer_id, program_name=program.name,
            guideline_year=guidelines.year, region=region, determination=determination,
            valid_from=today, valid_until=today + timedelta(days=self.determination_valid_days),
            determined_by=determined_by, determined_at=self.clock.now(),
        )
        await self._issue(conn, event.determination_id, event, customer_id)
        return event

    async def issue_estimate(self, conn: asyncpg.Connection, command: RequestEstimate, issued_by: str) -> EstimateIssued:
        basis, benefits = await self._coverage_basis(conn, command)
        program = await self._current_determination(conn, command.customer_id, command.service_date)
        cost_share_for = None
        if benefits is not None:
            def cost_share_for(service_type: str, in_network: bool) -> CostShare | None:
                return cost_share(benefits, service_type, in_network=in_network)
        estimate = estimate_costs(
            command.services, currency=self.currency, cost_share_for=cost_share_for,
            program=program[1] if program else None,
        )
        guidelines = self.programs.latest_guidelines()
        advice = advise(
            estimate, policy=self.policy, current_program=program[1] if program else None,
            programs=self.programs.programs_in(self.currency), guidelines=guidelines,
            household_size=command.household_size,
            annual_income=_in(command.annual_income, self.currency, "annual_income") if command.annual_income else None,
            region=self.region,
        )
        today = self.clock.today()
        event = EstimateIssued(
            estimate_id=self.new_estimate_id(), customer_id=command.customer_id,
            service_date=command.service_date, currency=self.currency, lines=estimate.lines,
            total=estimate.total, payer_portion=estimate.payer_portion,
            program_discount=estimate.program_discount, customer_portion=estimate.customer_portion,
            flag_threshold=self.flag_threshold,
            basis=basis.model_copy(update={"determination_id": program[0] if program else None}),
            advice=advice, valid_until=today + timedelta(days=self.estimate_valid_days),
            issued_by=issued_by, issued_at=self.clock.now(),
        )
        await self._issue(conn, event.estimate_id, event, command.customer_id)
        return event

    async def _coverage_basis(
        self, conn: asyncpg.Connection, command: RequestEstimate
    ) -> tuple[EstimateBasis, list[Benefit] | None]:
        coverage = await self._coverage(conn, command)
        if coverage is None:
            return EstimateBasis(self_pay=True, coverage_status="no_coverage"), None
        standing, check = await coverage_standing(conn, coverage["coverage_id"], self.clock.today())
        basis = EstimateBasis(
            coverage_id=coverage["coverage_id"], payer_id=coverage["payer_id"],
            check_id=check["check_id"] if check else None, self_pay=standing is not Standing.VERIFIED,
            coverage_status=standing.value,
        )
        if standing is not Standing.VERIFIED:
            return basis, None
        assert check is not None
        outcome = json.loads(check["outcome"])
        return basis, [Benefit.model_validate(b) for b in outcome["benefits"]]

    async def _coverage(self, conn: asyncpg.Connection, command: RequestEstimate) -> asyncpg.Record | None:
        rows = await coverages_of(conn, command.customer_id)
        if command.coverage_id is not None:
            chosen = [r for r in rows if r["coverage_id"] == command.coverage_id]
            if not chosen:
                raise CoverageNotKnown(command.coverage_id)
            return chosen[0]
        for row in rows:
            terms = json.loads(row["terms"])
            starts, ends = date.fromisoformat(terms["effective_from"]), terms.get("effective_to")
            ended = row["ended_on"] or (date.fromisoformat(ends) if ends else None)
            if starts <= command.service_date and (ended is None or command.service_date <= ended):
                return row
        return None

    async def _current_determination(
        self, conn: asyncpg.Connection, customer_id: str, on: date
    ) -> tuple[str, ProgramDetermination] | None:
        row = await conn.fetchrow(
            """SELECT determination_id, data FROM program_determinations
               WHERE customer_id = $1 AND eligible AND valid_from <= $2 AND $2 <= valid_until
               ORDER BY determined_at DESC LIMIT 1""",
            customer_id, on,
        )
        if row is None:
            return None
        return row["determination_id"], ProgramDetermination.model_validate(json.loads(row["data"])["determination"])

    async def _issue(
        self, conn: asyncpg.Connection, document_id: str, event: EstimateIssued | ProgramEligibilityDetermined,
        customer_id: str,
    ) -> None:
        document = IssuedDocument(document_id)
        await self.documents.save(document_id, document, [event], subject=customer_id, connection=conn)


def _in(amount: Money, currency: str, field_name: str) -> int:
    if amount.currency != currency:
        raise RuleViolated(field_name, f"amounts here are in {currency}, not {amount.currency}")
    return amount.amount
