"""One professional claim as a payer is to read it, independent of how X12 spells it.

A ``ProfessionalClaim`` is what adapters/x12_837.py writes as an X12 837P (005010X222A1): who bills
(the billing provider), whose coverage pays (the subscriber at the payer), who was treated (the
subscriber, or a dependent on the subscriber's plan), the diagnoses and the service lines. For a
secondary or tertiary claim it also carries the payers billed before (``other_payers``) with what
each paid and why the rest was adjusted.

What a clearinghouse or payer would reject and can be seen without X12 is refused here with a
message naming the field: pointers to diagnoses that are not there, an NPI whose check digit is
wrong, a secondary claim that does not name the primary, a primary's payment and adjustments that
do not add up to the billed total. Amounts are integer minor units (cents): X12 5010 health care
claims are in US dollars.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

# Lengths the 837P allows for what we write (NM103/NM104, N301, N401, REF02, ...).
OrganizationName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)
]
FamilyName = OrganizationName
GivenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=35)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
AddressLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=55)]
PlaceOfService = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]

# SBR09 / 2320 SBR09 claim filing indicator codes (X12 element 1032) allowed in an 837P.
CLAIM_FILING_INDICATORS = frozenset(
    {
        "11", "12", "13", "14", "15", "16", "17",  # self-pay, PPO, POS, EPO, indemnity, HMO
        "AM", "BL", "CH", "CI", "DS", "FI", "HM", "LM", "MA", "MB", "MC", "OF", "TV", "VA", "WC",
        "ZZ",
    }
)  # fmt: skip

# PAT01 (2000C): how the patient is related to the subscriber when they are not the subscriber.
DependentRelationship = Literal["01", "19", "20", "21", "39", "40", "53", "G8"]
# SBR02 of loop 2320: the patient's relationship to the person insured at another payer.
InsuredRelationship = Literal["01", "18", "19", "20", "21", "39", "40", "53", "G8"]
SELF = "18"

# ICD-10-CM: a letter, a digit, a letter or digit, then up to four more after an optional dot.
_ICD10_CM = re.compile(r"^([A-Z][0-9][0-9A-Z])(?:\.?([0-9A-Z]{1,4}))?$")
_PROCEDURE_CODE = re.compile(r"^[A-Z0-9]{5}$")  # CPT (99213, 0001F) and HCPCS Level II (G0008)
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def npi_check_digit_is_valid(npi: str) -> bool:
    """Whether a 10-digit NPI's last digit is its Luhn check digit, computed (as the NPI standard
    says) over the card issuer prefix 80840 followed by the first nine digits."""
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:  # every second digit from the right of the payload is doubled
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def _checked_npi(npi: str) -> str:
    if not (len(npi) == 10 and npi.isdigit()):
        raise ValueError(f"an NPI is 10 digits, not {npi!r}")
    if not npi_check_digit_is_valid(npi):
        raise ValueError(f"NPI {npi} has a wrong check digit: mistyped?")
    return npi


def _digits(value: str, allowed_punctuation: str) -> str:
    """``value`` with the punctuation people write in it (dashes, spaces, brackets) removed."""
    return "".join(c for c in value if c not in allowed_punctuation)


class ClaimAddress(Value):
    """A US street address (N3/N4). A ZIP code may be written 12345-6789; it is kept as digits."""

    lines: list[AddressLine] = Field(min_length=1, max_length=2, description="N301, N302")
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60)]
    state: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="Two-letter USPS code, e.g. NY"
    )
    postal_code: str = Field(description="ZIP (5 digits) or ZIP+4 (9 digits)")

    @field_validator("postal_code")
    @classmethod
    def _zip_code(cls, postal_code: str) -> str:
        digits = _digits(postal_code.strip(), "- ")
        if not (digits.isdigit() and len(digits) in (5, 9)):
            raise ValueError(f"a ZIP code is 5 or 9 digits, not {postal_code!r}")
        return digits


class BillingProvider(Value):
    """Who bills and is paid (loop 2010AA); its contact also answers for the submission (1000A)."""

    name: OrganizationName
    npi: str = Field(description="The billing provider's 10-digit NPI (NM109, qualifier XX)")
    tax_id: str = Field(description="Employer identification number, 9 digits (REF*EI)")
    address: ClaimAddress = Field(description="A street address with ZIP+4; not a PO box")
    contact_name: OrganizationName
    contact_phone: str | None = Field(None, description="10 digits; punctuation is dropped")
    contact_email: str | None = Field(None, max_length=256)

    @field_validator("npi")
    @classmethod
    def _npi(cls, npi: str) -> str:
        return _checked_npi(npi)

    @field_validator("tax_id")
    @classmethod
    def _ein(cls, tax_id: str) -> str:
        digits = _digits(tax_id.strip(), "-")
        if not (digits.isdigit() and len(digits) == 9):
            raise ValueError(f"an EIN is 9 digits (12-3456789), not {tax_id!r}")
        return digits

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, phone: str | None) -> str | None:
        if phone is None:
            return None
        digits = _digits(phone.strip(), "-.() +")
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if not (digits.isdigit() and len(digits) == 10):
            raise ValueError(f"a US phone number is 10 digits, not {phone!r}")
        return digits

    @field_validator("contact_email")
    @classmethod
    def _email(cls, email: str | None) -> str | None:
        if email is None:
            return None
        email = email.strip()
        if "@" not in email.strip("@") or " " in email:
            raise ValueError(f"{email!r} is not an e-mail address")
        return email

    @model_validator(mode="after")
    def _contact_and_zip_plus_four(self) -> BillingProvider:
        if self.contact_phone is None and self.contact_email is None:
            raise ValueError("the billing contact needs a phone number or an e-mail address")
        if len(self.address.postal_code) != 9:
            raise ValueError(
                f"the billing provider's ZIP code must be ZIP+4 (9 digits), not "
                f"{self.address.postal_code!r}"
            )
        return self


class ClaimPerson(Value):
    """A subscriber or patient as the payer knows them."""

    given_name: GivenName
    family_name: FamilyName
    date_of_birth: date | None = None
    gender: Literal["M", "F", "U"] = "U"
    address: ClaimAddress | None = None


class ClaimSubscriber(Value):
    """The person whose coverage is billed (loop 2010BA)."""

    person: ClaimPerson
    member_id: Identifier = Field(description="The subscriber's member id at the payer (NM109, MI)")
    group_number: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None


class ClaimPatient(Value):
    """The patient when they are not the subscriber (loops 2000C/2010CA): a dependent on the
    subscriber's plan with no member id of their own."""

    person: ClaimPerson
    relationship: DependentRelationship = Field(
        description="PAT01, the patient to the subscriber: 01 spouse, 19 child, 20 employee, "
        "21 unknown, 39 organ donor, 40 cadaver donor, 53 life partner, G8 other"
    )


class ClaimPayer(Value):
    """A payer and its place in the order of payment for this claim."""

    name: OrganizationName
    payer_identifier: Identifier = Field(description="The payer's id at the clearinghouse (PI)")
    responsibility: Literal["P", "S", "T"] = Field(
        description="SBR01: pays as primary, secondary or tertiary"
    )
    claim_filing_indicator: str = Field(
        "CI",
        description="SBR09: CI commercial, MB Medicare part B, MC Medicaid, BL Blue Cross/Blue "
        "Shield, HM HMO, 12 PPO, ZZ unknown, ...",
    )

    @field_validator("claim_filing_indicator")
    @classmethod
    def _filing_indicator(cls, code: str) -> str:
        if code not in CLAIM_FILING_INDICATORS:
            raise ValueError(
                f"{code!r} is not a claim filing indicator; one of "
                f"{', '.join(sorted(CLAIM_FILING_INDICATORS))}"
            )
        return code


class ClaimAdjustment(Value):
    """Why part of the charge was not paid by another payer (CAS): a group code, a claim
    adjustment reason code (CARC) and the amount, as that payer's remittance said."""

    group: Literal["CO", "OA", "PI", "PR"] = Field(
        description="CO contractual obligation, OA other, PI payer initiated, PR patient "
        "responsibility"
    )
    reason: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,5}$")] = Field(
        description="CARC, e.g. 45 charge exceeds the fee schedule, 1 deductible, 2 coinsurance"
    )
    amount: int = Field(description="Minor units; negative when the payer gave back")


class OtherPayer(Value):
    """A payer other than the one billed (loops 2320, 2330A, 2330B).

    A secondary or tertiary claim names the payers before it. Once one has decided the claim, it
    comes with what it paid (``paid_amount``, AMT*D) and the adjustments that explain the rest,
    which must add up to the claim's total: that is how the next payer knows what is left. A payer
    that has not decided yet (one billed at the same time, or the secondary on a primary claim) is
    named without an amount."""

    payer: ClaimPayer
    member_id: Identifier = Field(description="The insured's member id at that payer (2330A)")
    group_number: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    insured: ClaimPerson | None = Field(
        None,
        description="Who is insured there, when not the claim's subscriber (e.g. a child on "
        "the other parent's plan)",
    )
    relationship: InsuredRelationship = Field(
        SELF,
        description="2320 SBR02, the patient to the person insured there: 18 self, 01 spouse, "
        "19 child, G8 other, ...",
    )
    paid_amount: int | None = Field(
        None,
        ge=0,
        description="AMT*D, what that payer paid (minor units); None until it has decided",
    )
    adjustments: list[ClaimAdjustment] = Field(default=[], max_length=30)
    adjudication_date: date | None = Field(None, description="DTP*573, when that payer decided")

    @model_validator(mode="after")
    def _adjudicated_or_not(self) -> OtherPayer:
        if self.paid_amount is None and (self.adjustments or self.adjudication_date):
            raise ValueError(
                f"{self.payer.name}: adjustments and an adjudication date come with what the "
                "payer paid (paid_amount)"
            )
        groups = {adjustment.group for adjustment in self.adjustments}
        for group in groups:
            if sum(1 for a in self.adjustments if a.group == group) > 6:
                raise ValueError(
                    f"{self.payer.name}: at most 6 adjustments per group code, {group} has more"
                )
        return self

    @property
    def adjusted_amount(self) -> int:
        return sum(adjustment.amount for adjustment in self.adjustments)


class RenderingProvider(Value):
    """The clinician who performed the services, when not the billing provider (loop 2310B)."""

    given_name: GivenName
    family_name: FamilyName
    npi: str

    @field_validator("npi")
    @classmethod
    def _npi(cls, npi: str) -> str:
        return _checked_npi(npi)


class ServiceLine(Value):
    """One billed service (loop 2400)."""

    line_reference: Annotated[str, StringConstraints(min_length=1, max_length=50)] = Field(
        description="REF*6R line item control number; the payer's remittance echoes it per line"
    )
    procedure_code: str = Field(description="CPT or HCPCS code, e.g. 99213, G0008, 90686")
    modifiers: list[str] = Field(default=[], max_length=4)
    charge: int = Field(ge=0, description="Minor units")
    units: Decimal = Field(gt=0, max_digits=11, decimal_places=3)
    service_date: date
    diagnosis_pointers: list[Annotated[int, Field(ge=1, le=12)]] = Field(
        min_length=1, max_length=4, description="1-based positions in the claim's diagnoses"
    )
    place_of_service: PlaceOfService | None = Field(
        None, description="Only when it differs from the claim's"
    )

    @field_validator("procedure_code")
    @classmethod
    def _procedure_code(cls, code: str) -> str:
        if not _PROCEDURE_CODE.match(code):
            raise ValueError(f"a CPT or HCPCS code is 5 letters or digits, not {code!r}")
        return code

    @field_validator("modifiers")
    @classmethod
    def _modifiers(cls, modifiers: list[str]) -> list[str]:
        for modifier in modifiers:
            if not _MODIFIER.match(modifier):
                raise ValueError(f"a procedure modifier is 2 letters or digits, not {modifier!r}")
        return modifiers

    @field_validator("diagnosis_pointers")
    @classmethod
    def _distinct_pointers(cls, pointers: list[int]) -> list[int]:
        if len(set(pointers)) != len(pointers):
            raise ValueError(f"diagnosis pointers {pointers} name a diagnosis twice")
        return pointers


def normalized_diagnosis(code: str) -> str:
    """An ICD-10-CM code as X12 wants it, without the dot: 'E11.9' -> 'E119'. Raises
    ``ValueError`` for anything not shaped like an ICD-10-CM code."""
    match = _ICD10_CM.match(code.strip().upper())
    if match is None:
        raise ValueError(f"{code!r} is not an ICD-10-CM code (e.g. E11.9 or E119)")
    return match.group(1) + (match.group(2) or "")


class ProfessionalClaim(Value):
    """A claim for professional services to one payer, in one interchange of its own."""

    control_number: int = Field(ge=1, le=999_999_999, description="ISA13 and GS06")
    sender_id: Annotated[str, StringConstraints(min_length=1, max_length=15)] = Field(
        description="ISA06/GS02 and the submitter's id (1000A): ours at the clearinghouse"
    )
    sender_name: OrganizationName = Field(description="The submitter (1000A)")
    receiver_id: Annotated[str, StringConstraints(min_length=1, max_length=15)] = Field(
        description="ISA08/GS03 and the receiver's id (1000B): the clearinghouse's"
    )
    receiver_name: OrganizationName
    production: bool = Field(False, description="ISA15: P when true, T (test) otherwise")
    created_at: datetime = Field(description="Dates the envelope and the BHT")
    billing_provider: BillingProvider
    subscriber: ClaimSubscriber
    patient: ClaimPatient | None = Field(
        None, description="The patient when not the subscriber; None: the subscriber was treated"
    )
    payer: ClaimPayer
    other_payers: list[OtherPayer] = Field(default=[], max_length=10)
    claim_reference: Annotated[str, StringConstraints(min_length=1, max_length=20)] = Field(
        description="CLM01, the patient control number; remittances echo it as CLP01"
    )
    place_of_service: PlaceOfService = Field("11", description="CLM05-1; 11 office")
    diagnoses: list[str] = Field(
        min_length=1, max_length=12, description="ICD-10-CM codes, the principal first"
    )
    rendering_provider: RenderingProvider | None = None
    lines: list[ServiceLine] = Field(min_length=1, max_length=50)

    @field_validator("diagnoses")
    @classmethod
    def _diagnoses(cls, diagnoses: list[str]) -> list[str]:
        normalized = [normalized_diagnosis(code) for code in diagnoses]
        repeated = sorted({code for code in normalized if normalized.count(code) > 1})
        if repeated:
            raise ValueError(f"diagnoses {', '.join(repeated)} are listed more than once")
        return normalized

    @property
    def total_charge(self) -> int:
        """CLM02: the sum of the lines' charges, minor units."""
        return sum(line.charge for line in self.lines)

    @property
    def patient_person(self) -> ClaimPerson:
        """Who was treated: the dependent, or else the subscriber."""
        return self.patient.person if self.patient else self.subscriber.person

    @property
    def patient_relationship(self) -> str:
        """The patient to the subscriber: 18 (self) when the subscriber was treated."""
        return self.patient.relationship if self.patient else SELF

    @model_validator(mode="after")
    def _consistent(self) -> ProfessionalClaim:
        self._check_lines()
        self._check_patient()
        self._check_other_payers()
        return self

    def _check_lines(self) -> None:
        references = [line.line_reference for line in self.lines]
        repeated = sorted({r for r in references if references.count(r) > 1})
        if repeated:
            raise ValueError(
                f"line references {', '.join(repeated)} are used twice; remittances match lines "
                "by them"
            )
        for number, line in enumerate(self.lines, start=1):
            beyond = [p for p in line.diagnosis_pointers if p > len(self.diagnoses)]
            if beyond:
                raise ValueError(
                    f"line {number} ({line.line_reference}) points at diagnoses {beyond}, "
                    f"the claim has {len(self.diagnoses)}"
                )

    def _check_patient(self) -> None:
        """The guide requires the patient's address and date of birth (N3/N4/DMG in 2010BA when the
        subscriber was treated, in 2010CA otherwise); payers reject a birth after the service."""
        person = self.patient_person
        who = "patient" if self.patient else "subscriber (the patient)"
        if person.address is None or person.date_of_birth is None:
            raise ValueError(f"the {who} needs an address and a date of birth on a claim")
        first_service = min(line.service_date for line in self.lines)
        if person.date_of_birth > first_service:
            raise ValueError(
                f"the {who} was born {person.date_of_birth}, after the service on {first_service}"
            )

    def _check_other_payers(self) -> None:
        order = "PST"
        responsibilities = [self.payer.responsibility] + [
            other.payer.responsibility for other in self.other_payers
        ]
        repeated = sorted({r for r in responsibilities if responsibilities.count(r) > 1})
        if repeated:
            raise ValueError(
                f"more than one payer has responsibility {', '.join(repeated)} "
                f"(billed: {self.payer.responsibility})"
            )
        billed_position = order.index(self.payer.responsibility)
        for earlier in order[:billed_position]:
            if earlier not in responsibilities:
                raise ValueError(
                    f"a claim to the {_ORDINAL[self.payer.responsibility]} payer names the "
                    f"{_ORDINAL[earlier]} payer among other_payers"
                )
        for other in self.other_payers:
            name = other.payer.name
            pays_later = order.index(other.payer.responsibility) > billed_position
            if pays_later and other.paid_amount is not None:
                raise ValueError(f"{name} pays after {self.payer.name}: it has paid nothing yet")
            if other.insured is None and other.relationship != self.patient_relationship:
                raise ValueError(
                    f"{name}: the insured there is the claim's subscriber, to whom the patient's "
                    f"relationship is {self.patient_relationship}, not {other.relationship}; "
                    "name the insured if it is someone else"
                )
            if other.paid_amount is not None:
                accounted = other.paid_amount + other.adjusted_amount
                if accounted != self.total_charge:
                    raise ValueError(
                        f"{name} paid {other.paid_amount} and adjusted {other.adjusted_amount}, "
                        f"together {accounted}; they must add up to the claim's total "
                        f"{self.total_charge} (minor units) for the next payer to balance it"
                    )


_ORDINAL = {"P": "primary", "S": "secondary", "T": "tertiary"}
