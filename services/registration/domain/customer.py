"""The customer aggregate: its state is the fold of its events.

Decision methods check the rules and return new events without changing anything; ``apply`` is
the one place where each event changes the state, so replaying a stream always yields the same
customer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from services.registration.domain.commands import (
    AddCoverage,
    ChangeContactDetails,
    ChangeCoverage,
    ContactDetailsInput,
    EndCoverage,
    EnrolInProgram,
    MarkContactPointBounced,
    MarkContactPointVerified,
    NoteSpecialConcern,
    RegisterCustomer,
)
from services.registration.domain.events import (
    Channel,
    ConcernFlag,
    ContactDetails,
    ContactDetailsChanged,
    ContactPointBounced,
    ContactPointVerified,
    CoverageAdded,
    CoverageChanged,
    CoverageEnded,
    CoverageTerms,
    CustomerKind,
    CustomerRegistered,
    Email,
    PersonName,
    Phone,
    PostalAddress,
    ProgramEnrolled,
    SpecialConcernNoted,
)
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.rules import RuleViolated


class ContactPointStatus(StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    BOUNCED = "bounced"


def contact_point_id(channel: Channel, value: str) -> str:
    """A stable id for a contact point: the same address keeps its id, and its status, across
    changes of the rest of the contact details."""
    digest = hashlib.sha256(f"{channel}:{value.strip().lower()}".encode()).hexdigest()[:12]
    return f"{channel.value}-{digest}"


def contact_details_from(requested: ContactDetailsInput) -> ContactDetails:
    contact = ContactDetails(
        addresses=[
            PostalAddress(
                id=contact_point_id(
                    Channel.POST, "|".join([*a.lines, a.city, a.postal_code, a.country])
                ),
                **a.model_dump(),
            )
            for a in requested.addresses
        ],
        phones=[Phone(id=contact_point_id(Channel.PHONE, p.number), **p.model_dump()) for p in requested.phones],
        emails=[Email(id=contact_point_id(Channel.EMAIL, e.address), **e.model_dump()) for e in requested.emails],
        preferred_channel=requested.preferred_channel,
        consents=requested.consents,
        time_zone=requested.time_zone,
    )
    _check_reachable(contact)
    return contact


def _check_reachable(contact: ContactDetails) -> None:
    for kind, points in (("addresses", contact.addresses), ("phones", contact.phones), ("emails", contact.emails)):
        ids = [p.id for p in points]
        if len(ids) != len(set(ids)):
            raise RuleViolated(f"contact.{kind}", f"the same {kind[:-1] if kind != 'addresses' else 'address'} is listed twice")
    needs = {
        Channel.EMAIL: ("emails", contact.emails),
        Channel.SMS: ("phones", contact.phones),
        Channel.PHONE: ("phones", contact.phones),
        Channel.POST: ("addresses", contact.addresses),
    }
    kind, points = needs[contact.preferred_channel]
    if not points:
        raise RuleViolated(
            "contact.preferred_channel",
            f"preferred channel {contact.preferred_channel.value} needs at least one entry in {kind}",
        )
    # Consents has one field per channel, named as the channel is
    if not getattr(contact.consents, contact.preferred_channel.value):
        raise RuleViolated(
            f"contact.consents.{contact.preferred_channel.value}",
            f"{contact.preferred_channel.value} is preferred but not consented to",
        )


@dataclass
class Coverage:
    coverage_id: str
    terms: CoverageTerms
    ended_on: date | None = None

    @property
    def last_day(self) -> date | None:
        """The last day covered: the earlier of the agreed end and the day it was ended."""
        ends = [d for d in (self.terms.effective_to, self.ended_on) if d is not None]
        return min(ends) if ends else None

    def active_on(self, day: date) -> bool:
        return self.terms.effective_from <= day and (self.last_day is None or day <= self.last_day)

    @property
    def is_ended(self) -> bool:
        return self.ended_on is not None


@dataclass
class ProgramEnrolment:
    enrolment_id: str
    program_id: str
    enrolled_from: date
    enrolled_to: date | None
    reference: str | None


@dataclass
class Customer(FoldedFromEvents):
    """A customer of the business, as registration knows them."""

    customer_id: str
    version: int = 0
    kind: CustomerKind = CustomerKind.PERSON
    person_name: PersonName | None = None
    organisation_name: str | None = None
    date_of_birth: date | None = None
    contact: ContactDetails | None = None
    contact_status: dict[str, ContactPointStatus] = field(default_factory=dict)
    flags: set[ConcernFlag] = field(default_factory=set)
    concern_notes: list[str] = field(default_factory=list)
    coverages: dict[str, Coverage] = field(default_factory=dict)
    programs: dict[str, ProgramEnrolment] = field(default_factory=dict)
    registered_at: datetime | None = None

    # -- folding ------------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        match event:
            case CustomerRegistered():
                self.kind = event.kind
                self.person_name = event.person_name
                self.organisation_name = event.organisation_name
                self.date_of_birth = event.date_of_birth
                self._replace_contact(event.contact)
                self.concern_notes = list(event.concern_notes)
                self.flags = set(event.flags)
                self.registered_at = event.registered_at
            case ContactDetailsChanged():
                self._replace_contact(event.contact)
            case ContactPointBounced():
                self.contact_status[event.contact_point_id] = ContactPointStatus.BOUNCED
            case ContactPointVerified():
                self.contact_status[event.contact_point_id] = ContactPointStatus.VERIFIED
            case CoverageAdded():
                self.coverages[event.coverage_id] = Coverage(event.coverage_id, event.terms)
            case CoverageChanged():
                self.coverages[event.coverage_id].terms = event.terms
            case CoverageEnded():
                self.coverages[event.coverage_id].ended_on = event.ended_on
            case ProgramEnrolled():
                self.programs[event.enrolment_id] = ProgramEnrolment(
                    event.enrolment_id, event.program_id, event.enrolled_from, event.enrolled_to,
                    event.reference,
                )
            case SpecialConcernNoted():
                if event.note:
                    self.concern_notes.append(event.note)
                self.flags |= set(event.flags_raised)
                self.flags -= set(event.flags_cleared)
            case _:
                raise TypeError(f"a customer cannot apply {type(event).__name__}")
        self.version += 1

    def _replace_contact(self, contact: ContactDetails) -> None:
        current = {p.id for p in (*contact.addresses, *contact.phones, *contact.emails)}
        # a contact point that stays keeps what we learnt about it; a new one starts unverified
        self.contact_status = {
            point_id: self.contact_status.get(point_id, ContactPointStatus.UNVERIFIED)
            for point_id in current
        }
        self.contact = contact

    # -- decisions ----------------------------------------------------------------------------

    @staticmethod
    def register(
        command: RegisterCustomer, *, customer_id: str, now: datetime, possible_duplicates: list[str]
    ) -> list[DomainEvent]:
        if possible_duplicates and not command.allow_possible_duplicate:
            raise LikelyDuplicate(possible_duplicates)
        if command.date_of_birth and command.date_of_birth > now.date():
            raise RuleViolated("date_of_birth", "is in the future")
        return [
            CustomerRegistered(
                customer_id=customer_id,
                kind=command.kind,
                person_name=command.person_name,
                organisation_name=command.organisation_name,
                date_of_birth=command.date_of_birth,
                contact=contact_details_from(command.contact),
                concern_notes=command.concern_notes,
                flags=sorted(set(command.flags)),
                possible_duplicate_of=possible_duplicates,
                registered_at=now,
            )
        ]

    def change_contact_details(self, command: ChangeContactDetails, *, now: datetime) -> list[DomainEvent]:
        contact = contact_details_from(command.contact)
        if contact == self.contact:
            return []  # asking twice for the same details changes nothing
        return [ContactDetailsChanged(customer_id=self.customer_id, contact=contact, changed_at=now)]

    def mark_contact_point_bounced(self, command: MarkContactPointBounced, *, now: datetime) -> list[DomainEvent]:
        channel = self._channel_of(command.contact_point_id)
        if command.channel is not None:
            if {channel, command.channel} not in ({Channel.PHONE}, {Channel.PHONE, Channel.SMS}, {channel}):
                raise RuleViolated("channel", f"{command.contact_point_id} is not reached by {command.channel.value}")
            channel = command.channel
        if self.contact_status[command.contact_point_id] is ContactPointStatus.BOUNCED:
            return []
        return [
            ContactPointBounced(
                customer_id=self.customer_id, contact_point_id=command.contact_point_id,
                channel=channel, reason=command.reason, bounced_at=now,
            )
        ]

    def mark_contact_point_verified(self, command: MarkContactPointVerified, *, now: datetime) -> list[DomainEvent]:
        channel = self._channel_of(command.contact_point_id)
        if self.contact_status[command.contact_point_id] is ContactPointStatus.VERIFIED:
            return []
        return [
            ContactPointVerified(
                customer_id=self.customer_id, contact_point_id=command.contact_point_id,
                channel=channel, verified_at=now,
            )
        ]

    def add_coverage(self, command: AddCoverage, *, coverage_id: str, now: datetime) -> list[DomainEvent]:
        self._check_coverage_terms(command.terms, replacing=None)
        return [CoverageAdded(customer_id=self.customer_id, coverage_id=coverage_id, terms=command.terms, added_at=now)]

    def change_coverage(self, command: ChangeCoverage, *, now: datetime) -> list[DomainEvent]:
        coverage = self._coverage(command.coverage_id)
        if coverage.is_ended:
            raise RuleViolated("coverage_id", "an ended coverage cannot be changed; add a new one")
        if coverage.terms == command.terms:
            return []
        self._check_coverage_terms(command.terms, replacing=command.coverage_id)
        return [
            CoverageChanged(
                customer_id=self.customer_id, coverage_id=command.coverage_id, terms=command.terms, changed_at=now
            )
        ]

    def end_coverage(self, command: EndCoverage, *, now: datetime) -> list[DomainEvent]:
        coverage = self._coverage(command.coverage_id)
        if coverage.is_ended:
            raise RuleViolated("coverage_id", f"coverage already ended on {coverage.ended_on}")
        if command.ended_on < coverage.terms.effective_from:
            raise RuleViolated("ended_on", "is before the coverage became effective")
        return [
            CoverageEnded(
                customer_id=self.customer_id, coverage_id=command.coverage_id,
                ended_on=command.ended_on, reason=command.reason, ended_at=now,
            )
        ]

    def enrol_in_program(self, command: EnrolInProgram, *, enrolment_id: str, now: datetime) -> list[DomainEvent]:
        if command.enrolled_to and command.enrolled_to < command.enrolled_from:
            raise RuleViolated("enrolled_to", "is before enrolled_from")
        new_end = command.enrolled_to or date.max
        for enrolment in self.programs.values():
            overlaps = (
                enrolment.enrolled_from <= new_end
                and command.enrolled_from <= (enrolment.enrolled_to or date.max)
            )
            if enrolment.program_id == command.program_id and overlaps:
                raise RuleViolated("program_id", f"already enrolled in {command.program_id} ({enrolment.enrolment_id})")
        return [
            ProgramEnrolled(
                customer_id=self.customer_id, enrolment_id=enrolment_id, program_id=command.program_id,
                program_kind=command.program_kind, reference=command.reference,
                enrolled_from=command.enrolled_from, enrolled_to=command.enrolled_to, enrolled_at=now,
            )
        ]

    def note_special_concern(self, command: NoteSpecialConcern, *, now: datetime) -> list[DomainEvent]:
        if not command.note and not command.flags_raised and not command.flags_cleared:
            raise RuleViolated("note", "give a note or raise or clear at least one flag")
        both = set(command.flags_raised) & set(command.flags_cleared)
        if both:
            raise RuleViolated("flags_cleared", f"{sorted(both)} both raised and cleared")
        raised = sorted(set(command.flags_raised) - self.flags)
        cleared = sorted(set(command.flags_cleared) & self.flags)
        if not command.note and not raised and not cleared:
            return []  # the flags already stand as asked
        return [
            SpecialConcernNoted(
                customer_id=self.customer_id, note=command.note, flags_raised=raised,
                flags_cleared=cleared, noted_at=now,
            )
        ]

    # -- rules --------------------------------------------------------------------------------

    def _channel_of(self, point_id: str) -> Channel:
        assert self.contact is not None
        if point_id not in self.contact_status:
            raise RuleViolated("contact_point_id", f"{point_id} is not one of the customer's contact points")
        for email in self.contact.emails:
            if email.id == point_id:
                return Channel.EMAIL
        for phone in self.contact.phones:
            if phone.id == point_id:
                return Channel.PHONE
        return Channel.POST

    def _coverage(self, coverage_id: str) -> Coverage:
        try:
            return self.coverages[coverage_id]
        except KeyError:
            raise CoverageNotFound(coverage_id) from None

    def _check_coverage_terms(self, terms: CoverageTerms, *, replacing: str | None) -> None:
        if terms.effective_to and terms.effective_to < terms.effective_from:
            raise RuleViolated("terms.effective_to", "is before effective_from")
        for other in self.coverages.values():
            if other.coverage_id == replacing or other.terms.priority != terms.priority:
                continue
            # an ended coverage still holds its priority up to the day it was ended
            other_end = other.last_day or date.max
            new_end = terms.effective_to or date.max
            if other.terms.effective_from <= new_end and terms.effective_from <= other_end:
                raise RuleViolated(
                    "terms.priority",
                    f"coverage {other.coverage_id} is already {terms.priority.value} for overlapping dates;"
                    " end or change it first",
                )


class LikelyDuplicate(Exception):
    """The customer seems to be registered already; the caller may insist."""

    def __init__(self, existing_customer_ids: list[str]) -> None:
        super().__init__(f"likely the same customer as {', '.join(existing_customer_ids)}")
        self.existing_customer_ids = existing_customer_ids


class CoverageNotFound(LookupError):
    pass
