"""What callers ask registration to do. Commands are imperative and may be refused.

Field formats are checked here (an E.164 phone, a plausible e-mail, a real IANA time zone), so a
bad request is refused naming the field before any rule runs."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.registration.domain.events import (
    Channel,
    ConcernFlag,
    Consents,
    ContactPointUse,
    CoverageTerms,
    CustomerKind,
    PayerKind,
    PersonName,
)

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AddressInput(Command):
    use: ContactPointUse = ContactPointUse.HOME
    lines: list[str] = Field(min_length=1, max_length=4)
    city: str = Field(min_length=1)
    region: str | None = None
    postal_code: str = Field(min_length=1, max_length=16)
    country: str = Field(description="ISO 3166-1 alpha-2, e.g. US")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not _COUNTRY.match(value):
            raise ValueError("must be an ISO 3166-1 alpha-2 code such as US")
        return value


class PhoneInput(Command):
    use: ContactPointUse = ContactPointUse.MOBILE
    number: str = Field(description="E.164, e.g. +15555550100")

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        compact = re.sub(r"[\s().-]", "", value)
        if not _E164.match(compact):
            raise ValueError("must be an E.164 number such as +15555550100")
        return compact


class EmailInput(Command):
    use: ContactPointUse = ContactPointUse.HOME
    address: str = Field(max_length=254)

    @field_validator("address")
    @classmethod
    def _plausible(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("is not an e-mail address")
        return value.strip()


class ContactDetailsInput(Command):
    addresses: list[AddressInput] = []
    phones: list[PhoneInput] = []
    emails: list[EmailInput] = []
    preferred_channel: Channel
    consents: Consents = Consents()
    time_zone: str = Field(examples=["America/Chicago"])

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone such as America/Chicago") from None
        return value


class RegisterCustomer(Command):
    kind: CustomerKind
    person_name: PersonName | None = Field(default=None, validate_default=True)
    organisation_name: str | None = Field(default=None, min_length=1, validate_default=True)
    date_of_birth: date | None = None
    contact: ContactDetailsInput
    concern_notes: list[str] = []
    flags: list[ConcernFlag] = []
    allow_possible_duplicate: bool = Field(
        default=False,
        description="Register even though a likely duplicate was reported for this request",
    )

    # field validators (not a model validator) so a refusal names the missing field
    @field_validator("person_name")
    @classmethod
    def _person_is_named(cls, value: PersonName | None, info: ValidationInfo) -> PersonName | None:
        if info.data.get("kind") is CustomerKind.PERSON and value is None:
            raise ValueError("is required for a person")
        return value

    @field_validator("organisation_name")
    @classmethod
    def _organisation_is_named(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") is CustomerKind.ORGANISATION and not value:
            raise ValueError("is required for an organisation")
        return value


class ChangeContactDetails(Command):
    contact: ContactDetailsInput


class MarkContactPointBounced(Command):
    contact_point_id: str
    channel: Channel | None = Field(
        default=None, description="What bounced, when a phone takes both calls and SMS (sms or phone)"
    )
    reason: str = Field(min_length=1, max_length=500)


class MarkContactPointVerified(Command):
    contact_point_id: str


class AddCoverage(Command):
    terms: CoverageTerms


class ChangeCoverage(Command):
    coverage_id: str
    terms: CoverageTerms


class EndCoverage(Command):
    coverage_id: str
    ended_on: date
    reason: str | None = None


class EnrolInProgram(Command):
    program_id: str = Field(min_length=1)
    program_kind: PayerKind = PayerKind.GOVERNMENT_PROGRAM
    reference: str | None = None
    enrolled_from: date
    enrolled_to: date | None = None


class NoteSpecialConcern(Command):
    note: str | None = Field(default=None, max_length=2000)
    flags_raised: list[ConcernFlag] = []
    flags_cleared: list[ConcernFlag] = []
