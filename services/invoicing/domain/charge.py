"""A charge: one service rendered, to be billed. Recorded once; a mistake is corrected by reversing
the charge and recording a new one that names it, never by editing it."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.invoicing.domain.codes import CodeKind, CodeRef, CodeSystem
from services.invoicing.domain.events import ChargeRecorded, ChargeReversed, Code, RenderingProvider
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.money import CurrencyCode
from shared.rules import RuleViolated


def _of_kind(kind: CodeKind, what: str):  # type: ignore[no-untyped-def]
    def check(code: CodeRef) -> CodeRef:
        if CodeSystem.named(code.system).kind is not kind:
            raise ValueError(f"{code.system} codes are not {what}")
        return code

    return AfterValidator(check)


# A code as a charge names it: canonical (upper case, ICD-10-CM with its dot), its modifiers fit
# for a claim line, and of the right kind for where it is given.
ServiceCode = Annotated[CodeRef, _of_kind(CodeKind.SERVICE, "procedures or services")]
DiagnosisCode = Annotated[CodeRef, _of_kind(CodeKind.DIAGNOSIS, "diagnoses")]


def as_code(code: CodeRef) -> Code:
    return Code(system=code.system, code=code.code, modifiers=list(code.modifiers))


class ChargeEntry(BaseModel):
    """What staff or a practice-management system records for a service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str
    service_date: date
    procedure: ServiceCode = Field(description="HCPCS, CPT or tariff code of the service, with modifiers")
    description: str | None = Field(None, max_length=200, description="Defaults to the catalogue's description")
    diagnoses: list[DiagnosisCode] = Field(default=[], max_length=12, description="ICD-10-CM codes")
    diagnosis_pointers: list[int] | None = Field(
        None, description="Which diagnoses (1-based) this service treats; the first four by default"
    )
    units: Decimal = Field(Decimal(1), gt=0, max_digits=12, decimal_places=3)
    unit_price: int = Field(ge=0, description="Minor units")
    currency: CurrencyCode = "USD"
    service_type: str = Field("30", pattern=r"^[A-Z0-9]{1,2}$", description="X12 service type code")
    place_of_service: str = Field("11", pattern=r"^\d{2}$", description="CMS place of service code")
    rendering_provider: RenderingProvider | None = None
    encounter: str | None = Field(
        None, max_length=100,
        description="Groups charges billed together; by default the customer, date and provider",
    )
    corrects: str | None = Field(None, description="A reversed charge this one replaces")

    @field_validator("diagnosis_pointers")
    @classmethod
    def _pointers_in_range(cls, pointers: list[int] | None, info: ValidationInfo) -> list[int] | None:
        diagnoses = info.data.get("diagnoses", [])
        for pointer in pointers or []:
            if not 1 <= pointer <= len(diagnoses):
                raise ValueError(f"diagnosis pointer {pointer} names no diagnosis of this charge")
        if pointers is not None and len(set(pointers)) != len(pointers):
            raise ValueError("a diagnosis is pointed at twice")
        if pointers is not None and len(pointers) > 4:
            raise ValueError("a service line points at no more than four diagnoses")
        return pointers

    @property
    def amount(self) -> int:
        return int((self.units * self.unit_price).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def pointers(self) -> list[int]:
        if self.diagnosis_pointers is not None:
            return list(self.diagnosis_pointers)
        return list(range(1, min(4, len(self.diagnoses)) + 1))

    @property
    def encounter_key(self) -> str:
        if self.encounter:
            return self.encounter
        provider = self.rendering_provider.npi if self.rendering_provider else "-"
        return f"{self.customer_id}/{self.service_date.isoformat()}/{provider}"


class Charge(FoldedFromEvents):
    def __init__(self, charge_id: str) -> None:
        self.charge_id = charge_id
        self.version = 0
        self.recorded: ChargeRecorded | None = None
        self.reversed = False

    def may_reverse(self) -> ChargeRecorded:
        if self.recorded is None:
            raise RuleViolated("charge_id", f"no charge {self.charge_id}")
        if self.reversed:
            raise RuleViolated("charge_id", f"charge {self.charge_id} is already reversed")
        return self.recorded

    def apply(self, event: DomainEvent) -> None:
        match event:
            case ChargeRecorded():
                self.recorded = event
            case ChargeReversed():
                self.reversed = True
        self.version += 1
