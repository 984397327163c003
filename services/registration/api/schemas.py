"""Response models of the registration API. Request bodies are the domain's commands, but for
the two below, whose path carries the rest of the command."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.registration.domain.customer import ContactPointStatus, Customer
from services.registration.domain.events import (
    Channel,
    ConcernFlag,
    ContactDetails,
    CoverageTerms,
    CustomerKind,
    PersonName,
)


class CoveragePublic(BaseModel):
    coverage_id: str
    terms: CoverageTerms
    ended_on: date | None


class ProgramEnrolmentPublic(BaseModel):
    enrolment_id: str
    program_id: str
    enrolled_from: date
    enrolled_to: date | None
    reference: str | None


class CustomerPublic(BaseModel):
    customer_id: str
    version: int
    kind: CustomerKind
    person_name: PersonName | None
    organisation_name: str | None
    date_of_birth: date | None
    contact: ContactDetails
    contact_point_status: dict[str, ContactPointStatus]
    flags: list[ConcernFlag]
    concern_notes: list[str]
    coverages: list[CoveragePublic]
    program_enrolments: list[ProgramEnrolmentPublic]
    registered_at: datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerPublic:
        assert customer.contact is not None and customer.registered_at is not None
        return cls(
            customer_id=customer.customer_id,
            version=customer.version,
            kind=customer.kind,
            person_name=customer.person_name,
            organisation_name=customer.organisation_name,
            date_of_birth=customer.date_of_birth,
            contact=customer.contact,
            contact_point_status=dict(sorted(customer.contact_status.items())),
            flags=sorted(customer.flags),
            concern_notes=customer.concern_notes,
            coverages=[
                CoveragePublic(coverage_id=c.coverage_id, terms=c.terms, ended_on=c.ended_on)
                for c in customer.coverages.values()
            ],
            program_enrolments=[
                ProgramEnrolmentPublic(
                    enrolment_id=p.enrolment_id, program_id=p.program_id, enrolled_from=p.enrolled_from,
                    enrolled_to=p.enrolled_to, reference=p.reference,
                )
                for p in customer.programs.values()
            ],
            registered_at=customer.registered_at,
        )


class CustomerSummaryPublic(BaseModel):
    customer_id: str
    display_name: str
    date_of_birth: date | None
    emails: list[str]
    phones: list[str]
    member_ids: list[str]
    flags: list[str]
    active_coverages: int


class CustomersPublic(BaseModel):
    customers: list[CustomerSummaryPublic]
    next_page_token: str | None


class EventPublic(BaseModel):
    event_id: str
    type: str
    schema_version: int
    version: int
    occurred_at: datetime
    correlation_id: str | None
    causation_id: str | None
    data: dict[str, Any]


class EventHistoryPublic(BaseModel):
    customer_id: str
    events: list[EventPublic]
    next_after_version: int | None = Field(
        description="Pass as after_version for the next page; null on the last page"
    )


class CoverageCreatedPublic(BaseModel):
    coverage_id: str
    customer: CustomerPublic


class ProgramEnrolmentCreatedPublic(BaseModel):
    enrolment_id: str
    customer: CustomerPublic



class BounceReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, examples=["550 mailbox unavailable"])
    channel: Channel | None = Field(default=None, description="sms or phone, for a phone number")


class CoverageTermsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    terms: CoverageTerms


class CoverageEnding(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ended_on: date
    reason: str | None = None
