"""A payer's remittance advice (an X12 835) as payments reads it: who paid how much, how, and
what it decided about each claim and line. ``adapters/x12_835.py`` reads the X12 into these
values; posting them (application/remittances.py) allocates what was paid and tells invoicing
what was not.

The 835's balancing rules hold for a well-formed advice and are checked before anything is
posted (``balancing_problems``): for every line, charge = paid + its adjustments; for every claim,
charge = paid + claim-level adjustments + line adjustments (when lines are reported); and the
payment (BPR02) = the claims' paid amounts - provider-level adjustments (PLB)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.payments.domain.events import Adjustment, RemittancePosted, RemittedLine
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent

DENIED = "4"
REVERSAL = "22"


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RemittanceClaim(Value):
    """One CLP loop (2100) with its service lines (2110)."""

    claim_reference: str = Field(description="CLP01, the patient control number (our invoice number)")
    claim_status: str = Field(description="CLP02: 1, 2, 3 processed as primary/secondary/tertiary, 4 denied, 22 reversal")
    charge: int = Field(description="CLP03, minor units")
    paid: int = Field(description="CLP04, minor units")
    patient_responsibility: int = Field(0, description="CLP05, minor units")
    payer_claim_number: str | None = Field(None, description="CLP07")
    patient_name: str | None = Field(None, description="NM1*QC, 'FAMILY, GIVEN'")
    member_id: str | None = Field(None, description="NM109 of NM1*QC (or NM1*IL)")
    claim_adjustments: list[Adjustment] = Field(default=[], description="CAS at claim level")
    lines: list[RemittedLine] = []
    remark_codes: list[str] = Field(default=[], description="MOA/MIA remark codes")

    @property
    def denied(self) -> bool:
        return self.claim_status == DENIED

    def denied_lines(self) -> list[RemittedLine]:
        """Lines the payer paid nothing for although something was charged."""
        return [line for line in self.lines if line.paid == 0 and line.charge > 0]


class ProviderAdjustment(Value):
    """One PLB adjustment: taken from (positive) or added to (negative) the provider's payment."""

    reason_code: str = Field(description="PLB03-1, e.g. WO overpayment recovery, L6 interest, FB forwarding balance")
    reference: str | None = Field(None, description="PLB03-2")
    amount: int = Field(description="Minor units, as the 835 states it: positive reduces the payment")


class RemittanceAdvice(Value):
    """One 835 transaction set."""

    control_number: str = Field(description="ST02")
    trace_number: str = Field(description="TRN02: the check or EFT trace number")
    originator_id: str | None = Field(None, description="TRN03: the payer's originating company id")
    payer_name: str = Field(description="N1*PR N102")
    payer_identifier: str | None = Field(None, description="REF*2U, or N1*PR N104")
    payee_name: str | None = Field(None, description="N1*PE N102")
    payee_npi: str | None = Field(None, description="N1*PE N104 when N103 = XX")
    handling: str = Field(description="BPR01: I remittance with payment, H notification only, ...")
    payment_amount: int = Field(description="BPR02, minor units")
    credit_debit: str = Field("C", description="BPR03")
    payment_method: str = Field(description="BPR04: ACH, CHK, BOP, FWT or NON")
    payment_date: date = Field(description="BPR16")
    currency: str = Field("USD", description="CUR02 when present")
    claims: list[RemittanceClaim] = Field(min_length=1)
    provider_adjustments: list[ProviderAdjustment] = []


def balancing_problems(advice: RemittanceAdvice) -> list[str]:
    """Where the advice does not add up; empty when it balances."""
    problems: list[str] = []
    for claim in advice.claims:
        for number, line in enumerate(claim.lines, 1):
            adjusted = sum(a.amount for a in line.adjustments)
            if line.charge != line.paid + adjusted:
                problems.append(
                    f"claim {claim.claim_reference} line {number}: charge {line.charge} is not paid "
                    f"{line.paid} + adjustments {adjusted}"
                )
        adjusted = sum(a.amount for a in claim.claim_adjustments) + sum(
            a.amount for line in claim.lines for a in line.adjustments
        )
        if claim.lines and claim.charge != claim.paid + adjusted:
            problems.append(
                f"claim {claim.claim_reference}: charge {claim.charge} is not paid {claim.paid} + adjustments {adjusted}"
            )
    paid = sum(c.paid for c in advice.claims) - sum(p.amount for p in advice.provider_adjustments)
    if paid != advice.payment_amount:
        problems.append(
            f"BPR02 {advice.payment_amount} is not the claims' paid amounts less provider adjustments ({paid})"
        )
    return problems


class Remittance(FoldedFromEvents):
    """A posted remittance: its RemittancePosted and the claim events posted with it; the
    stream exists once the trace was posted."""

    def __init__(self, remittance_id: str) -> None:
        self.remittance_id = remittance_id
        self.version = 0
        self.posted: RemittancePosted | None = None

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, RemittancePosted):
            self.posted = event
        self.version += 1
