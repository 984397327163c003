"""Request and response models of the eligibility API that are not domain commands or events."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from services.eligibility.domain.events import PayerProfile


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PayerCreate(PayerProfile):
    payer_id: str = Field(description="The id registration uses for this payer in coverages, e.g. acme-health")


class PayerRetirement(Body):
    reason: str | None = Field(None, max_length=500)


class PayerPublic(BaseModel):
    payer_id: str
    version: int
    retired: bool
    profile: PayerProfile


class PayersPublic(BaseModel):
    payers: list[PayerPublic]


class CheckCreate(Body):
    service_date: date | None = Field(None, description="Date of service asked about; today when absent")
    service_types: list[str] | None = Field(
        None, min_length=1, max_length=99, description="X12 service type codes; the configured ones when absent"
    )


class CheckPublic(BaseModel):
    check_id: str
    customer_id: str
    coverage_id: str
    payer_id: str
    status: str = Field(description="pending, verified, rejected or failed")
    trigger: str
    service_date: date
    service_types: list[str]
    requested_at: datetime
    completed_at: datetime | None
    attempts: int
    last_error: str | None
    verified_on: date | None
    valid_until: date | None
    outcome: dict[str, Any] | None = Field(description="The event that ended the check, as published")

    @classmethod
    def of(cls, row: asyncpg.Record) -> CheckPublic:
        return cls(
            **{name: row[name] for name in cls.model_fields if name != "outcome"},
            outcome=json.loads(row["outcome"]) if row["outcome"] else None,
        )


class ChecksPublic(BaseModel):
    checks: list[CheckPublic]


class ExchangePublic(BaseModel):
    exchange_id: str
    attempt: int
    endpoint: str
    request: str = Field(description="The X12 270 sent")
    response: str | None = Field(description="The payer's answer as received (a 271, or not)")
    error: str | None
    sent_at: datetime
    answered_at: datetime | None


class ExchangesPublic(BaseModel):
    check_id: str
    exchanges: list[ExchangePublic]


class VerificationStatusPublic(BaseModel):
    coverage_id: str
    as_of: date
    verified: bool = Field(description="True when a current verification covers the date")
    status: str = Field(
        description="verified, stale (verified but past valid_until), rejected, failed, pending or unverified"
    )
    check: CheckPublic | None


class ReverificationRequest(Body):
    as_of: date | None = Field(None, description="The day to act as of; today when absent")


class ReverificationPublic(BaseModel):
    as_of: date
    check_ids: list[str] = Field(description="The checks requested")


class CoverageStandingPublic(BaseModel):
    coverage_id: str
    payer_id: str
    priority: str = Field(description="primary, secondary or tertiary")
    member_id: str
    ended_on: date | None
    verified: bool = Field(description="True when a current verification covers the date")
    status: str = Field(
        description="verified, stale, outside_coverage_dates, rejected, failed, pending or unverified"
    )
    check: CheckPublic | None = Field(description="The check that decided the status")


class CustomerCoveragesPublic(BaseModel):
    customer_id: str
    as_of: date
    coverages: list[CoverageStandingPublic] = Field(description="In coverage order: primary first")
