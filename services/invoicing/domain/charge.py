"""A charge: one service rendered, to be billed. Recorded once; a mistake is corrected by reversing
the charge and recording a new one that names it, never by editing it."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.invoicing.domain.events import ChargeRecorded, ChargeReversed, Code, RenderingProvider
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.money import CurrencyCode
from shared.rules import RuleViolated


class ChargeEntry(BaseModel):
    """What staff or a practice-management system records for a service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str
    service_date: date
    procedure: Code = Field(description="HCPCS, CPT or tariff code of the service, with modifiers")
    description: str | None = Field(None, description="Defaults to the catalogue's description")
    diagnoses: list[Code] = Field(default=[], max_length=12, description="ICD-10-CM codes")
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

    @model_validator(mode="after")
    def _pointers_in_range(self) -> ChargeEntry:
        for pointer in self.diagnosis_pointers or []:
            if not 1 <= pointer <= len(self.diagnoses):
                raise ValueError(f"diagnosis pointer {pointer} names no diagnosis of this charge")
        return self

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
