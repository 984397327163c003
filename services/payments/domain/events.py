"""Payments' events, as far as they are agreed today: what a payer's remittance (an X12 835) says
about each claim, which invoicing uses to move what the payer did not pay to the next party.

They are published on the `payments.events` topic, keyed by customer id. Their JSON Schemas are in
shared/contracts/payments/. One event per claim of a remittance:

- ``ClaimAdjusted``: the payer paid the claim, possibly less than billed, with its adjustments;
- ``ClaimDenied``: the payer denied the claim, or some of its lines, paying nothing for them.

Both carry every line the payer reported with what it paid and its adjustments, so a consumer
reconciles a line from one event: charge = paid + the sum of its adjustments (the 835's balancing
rule). Adjustment groups follow X12 CAS01: CO contractual obligation and PI payer initiated are
the provider's to write off; PR patient responsibility and OA other adjustments remain to be paid
by the next party (a secondary payer, or the customer).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, EventRegistry

SOURCE = "/billing/payments"
TOPIC = "payments.events"


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AdjustmentGroup(StrEnum):
    """CAS01 claim adjustment group code."""

    CONTRACTUAL_OBLIGATION = "CO"
    PATIENT_RESPONSIBILITY = "PR"
    OTHER_ADJUSTMENT = "OA"
    PAYER_INITIATED = "PI"
    CORRECTION_REVERSAL = "CR"


class Adjustment(Value):
    """One CAS reason: why part of a claim or line was not paid."""

    group: AdjustmentGroup
    reason_code: str = Field(description="CARC, claim adjustment reason code, e.g. '45', '96', '2'")
    amount: int = Field(description="Minor units; negative when the payer reverses an adjustment")
    quantity: str | None = None
    description: str | None = Field(None, description="The CARC's text, when known")


class RemittedLine(Value):
    """One service line (SVC loop) of a claim as the payer adjudicated it."""

    line_reference: str | None = Field(
        description="REF*6R: the line item control number the claim sent, echoed back"
    )
    procedure_code: str = Field(description="SVC01 as adjudicated, e.g. 'HC:99213'")
    charge: int = Field(description="SVC02: what was billed for the line, minor units")
    paid: int = Field(description="SVC03: what the payer paid for the line, minor units")
    allowed: int | None = Field(None, description="AMT*B6 allowed amount, when sent")
    units: str | None = None
    service_date: date | None = None
    adjustments: list[Adjustment] = []
    remark_codes: list[str] = Field(default=[], description="RARC remark codes (LQ*HE), e.g. 'N130'")


class ClaimRemittance(DomainEvent):
    """What one CLP loop of an 835 said about one claim."""

    remittance_id: str = Field(description="The remittance (835) this claim came in")
    claim_reference: str = Field(
        description="CLP01: the patient control number our claim sent (CLM01), i.e. the invoice number"
    )
    payer_claim_number: str | None = Field(None, description="CLP07: the payer's own claim number")
    payer_id: str
    customer_id: str
    claim_status: str = Field(description="CLP02: 1 processed as primary, 2 secondary, 3 tertiary, 4 denied, 22 reversal")
    currency: str = "USD"
    charge: int = Field(description="CLP03: total billed, minor units")
    paid: int = Field(description="CLP04: total paid, minor units")
    patient_responsibility: int = Field(0, description="CLP05, minor units")
    claim_adjustments: list[Adjustment] = Field(default=[], description="CAS at claim level")
    lines: list[RemittedLine]
    payment_date: date | None = Field(None, description="BPR16: when the payer pays")
    posted_at: datetime


class ClaimAdjusted(ClaimRemittance):
    """The payer paid the claim, possibly less than billed; the adjustments say why."""

    event_type = "billing.payments.ClaimAdjusted"


class ClaimDenied(ClaimRemittance):
    """The payer denied the claim (CLP02 = 4) or some of its lines, paying nothing for them;
    ``denied_line_references`` names the denied lines (all of them when the whole claim was)."""

    event_type = "billing.payments.ClaimDenied"
    denied_line_references: list[str] = Field(default=[])


PAYMENTS_EVENTS = EventRegistry([ClaimAdjusted, ClaimDenied])
