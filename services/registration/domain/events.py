"""Registration's events: the facts other services learn about customers from.

They are published on the `registration.events` topic keyed by customer id; their JSON Schemas are
in shared/contracts/. Amounts of later services aside, everything a biller needs to know about who
the customer is, how to reach them and who pays is here.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, EventRegistry

SOURCE = "/billing/registration"
TOPIC = "registration.events"


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CustomerKind(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"


class ContactPointUse(StrEnum):
    HOME = "home"
    WORK = "work"
    MOBILE = "mobile"
    BILLING = "billing"


class ConcernFlag(StrEnum):
    HARDSHIP = "hardship"
    DO_NOT_CONTACT = "do_not_contact"
    DECEASED = "deceased"
    LEGAL_REPRESENTATIVE = "legal_representative"
    ATTORNEY_REPRESENTED = "attorney_represented"
    BANKRUPTCY = "bankruptcy"
    INTERPRETER_NEEDED = "interpreter_needed"


class PayerKind(StrEnum):
    INSURER = "insurer"
    GOVERNMENT_PROGRAM = "government_program"
    EMPLOYER = "employer"
    OTHER = "other"


class CoveragePriority(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"


class SubscriberRelationship(StrEnum):
    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    OTHER = "other"


ContactPointId = Annotated[str, Field(description="Stable id of a contact point, derived from its value")]


class PersonName(Value):
    given: str
    family: str
    middle: str | None = None


class PostalAddress(Value):
    id: ContactPointId
    use: ContactPointUse = ContactPointUse.HOME
    lines: list[str]
    city: str
    region: str | None = None
    postal_code: str
    country: str = Field(description="ISO 3166-1 alpha-2")


class Phone(Value):
    id: ContactPointId
    use: ContactPointUse = ContactPointUse.MOBILE
    number: str = Field(description="E.164, e.g. +15555550100")


class Email(Value):
    id: ContactPointId
    use: ContactPointUse = ContactPointUse.HOME
    address: str


class Consents(Value):
    email: bool = False
    sms: bool = False
    phone: bool = True
    post: bool = True


class ContactDetails(Value):
    addresses: list[PostalAddress] = []
    phones: list[Phone] = []
    emails: list[Email] = []
    preferred_channel: Channel
    consents: Consents = Consents()
    time_zone: str = Field(description="IANA time zone of the customer, e.g. America/Chicago")


class Subscriber(Value):
    relationship: SubscriberRelationship
    name: PersonName | None = None
    date_of_birth: date | None = None


class CoverageTerms(Value):
    payer_id: str
    payer_kind: PayerKind
    member_id: str
    group_number: str | None = None
    plan_name: str | None = None
    priority: CoveragePriority
    subscriber: Subscriber
    effective_from: date
    effective_to: date | None = None


# -- events ------------------------------------------------------------------------------------


class CustomerRegistered(DomainEvent):
    """A customer was registered: who they are, how to reach them, what to be careful of."""

    event_type = "billing.registration.CustomerRegistered"
    customer_id: str
    kind: CustomerKind
    person_name: PersonName | None = None
    organisation_name: str | None = None
    date_of_birth: date | None = None
    contact: ContactDetails
    concern_notes: list[str] = []
    flags: list[ConcernFlag] = []
    possible_duplicate_of: list[str] = Field(
        default=[], description="Customers the caller was shown as likely duplicates and overrode"
    )
    registered_at: datetime


class ContactDetailsChanged(DomainEvent):
    """The customer's contact details were replaced (addresses, phones, e-mails, channel, consents)."""

    event_type = "billing.registration.ContactDetailsChanged"
    customer_id: str
    contact: ContactDetails
    changed_at: datetime


class ContactPointBounced(DomainEvent):
    """Mail, e-mail, SMS or a call to one contact point did not reach the customer."""

    event_type = "billing.registration.ContactPointBounced"
    customer_id: str
    contact_point_id: str
    channel: Channel
    reason: str
    bounced_at: datetime


class ContactPointVerified(DomainEvent):
    """One contact point was confirmed to reach the customer."""

    event_type = "billing.registration.ContactPointVerified"
    customer_id: str
    contact_point_id: str
    channel: Channel
    verified_at: datetime


class CoverageAdded(DomainEvent):
    """A coverage (insurer, government program, employer, other) now pays for the customer's services."""

    event_type = "billing.registration.CoverageAdded"
    customer_id: str
    coverage_id: str
    terms: CoverageTerms
    added_at: datetime


class CoverageChanged(DomainEvent):
    """The terms of a coverage changed (member id, plan, priority, dates...)."""

    event_type = "billing.registration.CoverageChanged"
    customer_id: str
    coverage_id: str
    terms: CoverageTerms
    changed_at: datetime


class CoverageEnded(DomainEvent):
    """A coverage stopped paying from the day after ended_on."""

    event_type = "billing.registration.CoverageEnded"
    customer_id: str
    coverage_id: str
    ended_on: date
    reason: str | None = None
    ended_at: datetime


class ProgramEnrolled(DomainEvent):
    """The customer was enrolled in a payment program (e.g. a sliding-fee discount)."""

    event_type = "billing.registration.ProgramEnrolled"
    customer_id: str
    enrolment_id: str
    program_id: str
    program_kind: PayerKind
    reference: str | None = None
    enrolled_from: date
    enrolled_to: date | None = None
    enrolled_at: datetime


class SpecialConcernNoted(DomainEvent):
    """A concern was noted at or after intake, or flags such as do-not-contact were raised or cleared."""

    event_type = "billing.registration.SpecialConcernNoted"
    customer_id: str
    note: str | None = None
    flags_raised: list[ConcernFlag] = []
    flags_cleared: list[ConcernFlag] = []
    noted_at: datetime


REGISTRATION_EVENTS = EventRegistry(
    [
        CustomerRegistered,
        ContactDetailsChanged,
        ContactPointBounced,
        ContactPointVerified,
        CoverageAdded,
        CoverageChanged,
        CoverageEnded,
        ProgramEnrolled,
        SpecialConcernNoted,
    ]
)
