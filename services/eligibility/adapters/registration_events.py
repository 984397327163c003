"""Registration's events as eligibility reads them: a tolerant reader of the published contracts
(shared/contracts/registration/), taking only the fields eligibility needs and ignoring the rest,
so registration can add fields without breaking us. tests/unit/eligibility/test_registration_reader.py
holds these readers to the published JSON Schemas."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

TOPIC = "registration.events"


class Reader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PersonName(Reader):
    given: str
    family: str


class CustomerRegistered(Reader):
    TYPE: ClassVar[str] = "billing.registration.CustomerRegistered"
    customer_id: str
    person_name: PersonName | None = None
    organisation_name: str | None = None
    date_of_birth: date | None = None


class Subscriber(Reader):
    relationship: str
    name: PersonName | None = None
    date_of_birth: date | None = None


class CoverageTerms(Reader):
    payer_id: str
    member_id: str
    group_number: str | None = None
    priority: str
    subscriber: Subscriber
    effective_from: date
    effective_to: date | None = None


class CoverageAdded(Reader):
    TYPE: ClassVar[str] = "billing.registration.CoverageAdded"
    customer_id: str
    coverage_id: str
    terms: CoverageTerms


class CoverageChanged(Reader):
    TYPE: ClassVar[str] = "billing.registration.CoverageChanged"
    customer_id: str
    coverage_id: str
    terms: CoverageTerms


class CoverageEnded(Reader):
    TYPE: ClassVar[str] = "billing.registration.CoverageEnded"
    customer_id: str
    coverage_id: str
    ended_on: date


READERS: dict[str, type[Reader]] = {
    reader.TYPE: reader for reader in (CustomerRegistered, CoverageAdded, CoverageChanged, CoverageEnded)
}
