"""Bills to payers that take electronic claims, written as X12 837P interchanges: filled from
what registration told us (the customer, the coverage's subscriber and member id), what
eligibility told us (the payer's id at its clearinghouse) and the charges; validated with pyx12
before anything is recorded, and kept for audit and submission."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.invoicing.adapters.claim_validation import InvalidClaim, ensure_valid_837p
from services.invoicing.adapters.upstream_events import CoverageTerms
from services.invoicing.adapters.x12_837 import build_837p
from services.invoicing.domain.claim import (
    BillingProvider,
    ClaimAddress,
    ClaimAdjustment,
    ClaimPatient,
    ClaimPayer,
    ClaimPerson,
    ClaimSubscriber,
    OtherPayer,
    ProfessionalClaim,
    RenderingProvider,
    ServiceLine,
)
from services.invoicing.domain.events import (
    ChargeRecorded,
    ClaimDocument,
    InvoiceLine,
    PriorPayer,
    Responsibility,
)
from shared.clock import Clock
from shared.rules import RuleViolated

_RESPONSIBILITY = {
    Responsibility.PRIMARY: "P", Responsibility.SECONDARY: "S", Responsibility.TERTIARY: "T",
}
_PATIENT_RELATIONSHIP = {"spouse": "01", "child": "19", "other": "G8"}
# SBR09 claim filing indicator by payer kind; other kinds are "mutually defined"
_FILING_INDICATOR = {"insurer": "CI"}
# CLM01 while the invoice number is not taken yet: as long as the longest number, PAY-2026-000001
PENDING_REFERENCE = "PENDING-0000-000000"
_STATE = re.compile(r"^[A-Z]{2}$")
_ZIP = re.compile(r"^\d{5}(\d{4})?$")


@dataclass(frozen=True)
class Submitter:
    sender_id: str
    production: bool
    billing_provider: BillingProvider


class X12Claims:
    """Produces, validates and stores the 837P of an invoice to a payer."""

    def __init__(self, submitter: Submitter, clock: Clock) -> None:
        self.submitter = submitter
        self.clock = clock

    async def prepare(
        self, conn: asyncpg.Connection, *, customer_id: str, coverage_id: str, profile: dict[str, Any],
        responsibility: Responsibility, lines: Sequence[InvoiceLine], prior_payers: Sequence[PriorPayer],
    ) -> ProfessionalClaim:
        """The claim, written and validated under a stand-in for its number (a patient control
        number of the same shape), so the invoice number is taken only once it is known to be
        sendable; refused (RuleViolated) when it cannot be written or is not valid."""
        try:
            claim = await self.claim(
                conn, claim_reference=PENDING_REFERENCE, customer_id=customer_id, coverage_id=coverage_id,
                profile=profile, responsibility=responsibility, lines=lines, prior_payers=prior_payers,
            )
        except ValueError as error:  # pydantic's ValidationError included
            raise RuleViolated("claim", f"no 837P can be written: {error}") from None
        try:
            await asyncio.to_thread(_written_and_validated, claim)
        except ValueError as error:
            raise RuleViolated("claim", f"no 837P can be written: {error}") from None
        except InvalidClaim as invalid:
            raise RuleViolated("claim", f"the 837P is not valid: {invalid}") from None
        return claim

    async def store(
        self, conn: asyncpg.Connection, prepared: ProfessionalClaim, *, invoice_id: str, claim_reference: str
    ) -> ClaimDocument:
        claim = prepared.model_copy(update={"claim_reference": claim_reference})
        text = build_837p(claim)
        document_id = f"{invoice_id}-{claim.control_number}"
        await conn.execute(
            """INSERT INTO claim_documents (document_id, invoice_id, control_number, x12, created_at)
               VALUES ($1, $2, $3, $4, $5)""",
            document_id, invoice_id, claim.control_number, text, self.clock.now(),
        )
        return ClaimDocument(control_number=claim.control_number, document_id=document_id)

    async def claim(
        self, conn: asyncpg.Connection, *, claim_reference: str, customer_id: str, coverage_id: str,
        profile: dict[str, Any], responsibility: Responsibility, lines: Sequence[InvoiceLine],
        prior_payers: Sequence[PriorPayer],
    ) -> ProfessionalClaim:
        customer = await conn.fetchrow("SELECT * FROM customers WHERE customer_id = $1", customer_id)
        coverage = await conn.fetchrow("SELECT terms FROM coverages WHERE coverage_id = $1", coverage_id)
        if customer is None or coverage is None:
            raise RuleViolated("customer_id", f"registration has not told invoicing about {customer_id}'s coverage")
        terms = CoverageTerms.model_validate_json(coverage["terms"])
        address = _address(json.loads(customer["contact"]))
        customer_person = ClaimPerson(
            given_name=customer["given_name"] or customer["organisation_name"] or "-",
            family_name=customer["family_name"] or customer["organisation_name"] or "-",
            date_of_birth=customer["date_of_birth"], address=address,
        )
        patient = None
        subscriber_person = customer_person
        if terms.subscriber.relationship != "self":
            name = terms.subscriber.name
            if name is None:
                raise RuleViolated("coverage", f"coverage {coverage_id} does not name its subscriber")
            subscriber_person = ClaimPerson(
                given_name=name.given, family_name=name.family,
                date_of_birth=terms.subscriber.date_of_birth, address=address,
            )
            patient = ClaimPatient(
                person=customer_person,
                relationship=_PATIENT_RELATIONSHIP.get(terms.subscriber.relationship, "G8"),
            )
        charges = await _charges(conn, [line.charge_id for line in lines])
        diagnoses: list[str] = []
        for line in lines:
            for code in line.diagnoses:
                if code not in diagnoses:
                    diagnoses.append(code)
        if not diagnoses:
            raise RuleViolated("diagnoses", f"a claim to {profile['name']} needs at least one diagnosis")
        first = charges[lines[0].charge_id]
        rendering = first.rendering_provider
        connection = profile["connection"]
        return ProfessionalClaim(
            control_number=await conn.fetchval("SELECT nextval('claim_control_numbers')"),
            sender_id=self.submitter.sender_id, sender_name=self.submitter.billing_provider.name,
            receiver_id=connection["receiver_id"], receiver_name=profile["name"],
            production=self.submitter.production, created_at=self.clock.now(),
            billing_provider=self.submitter.billing_provider,
            subscriber=ClaimSubscriber(
                person=subscriber_person, member_id=terms.member_id, group_number=terms.group_number
            ),
            patient=patient,
            payer=_payer(profile, responsibility),
            other_payers=await _other_payers(conn, prior_payers),
            claim_reference=claim_reference, place_of_service=first.place_of_service,
            diagnoses=diagnoses[:12],
            rendering_provider=RenderingProvider(
                given_name=rendering.given_name, family_name=rendering.family_name, npi=rendering.npi
            ) if rendering else None,
            lines=[
                ServiceLine(
                    line_reference=line.line_id, procedure_code=line.code.code, modifiers=line.code.modifiers,
                    charge=line.charge_amount, units=line.units, service_date=line.service_date,
                    diagnosis_pointers=[diagnoses.index(code) + 1 for code in line.diagnoses][:4]
                    or [1],
                )
                for line in lines
            ],
        )


def _written_and_validated(claim: ProfessionalClaim) -> str:
    """The 837P, checked by pyx12 (off the event loop: a validation takes tens of milliseconds)."""
    text = build_837p(claim)
    ensure_valid_837p(text)
    return text


def _payer(profile: dict[str, Any], responsibility: Responsibility) -> ClaimPayer:
    return ClaimPayer(
        name=profile["name"], payer_identifier=profile["connection"].get("payer_identifier") or profile["name"],
        responsibility=_RESPONSIBILITY.get(responsibility, "P"),
        claim_filing_indicator=_FILING_INDICATOR.get(profile.get("kind", ""), "ZZ"),
    )


async def _other_payers(conn: asyncpg.Connection, prior_payers: Sequence[PriorPayer]) -> list[OtherPayer]:
    """The payers billed before this one (loop 2320): with what each paid and why not the rest
    once it has decided, named without amounts while it has not."""
    others = []
    order = [Responsibility.PRIMARY, Responsibility.SECONDARY, Responsibility.TERTIARY]
    for position, prior in enumerate(prior_payers):
        row = await conn.fetchrow("SELECT profile FROM payers WHERE payer_id = $1", prior.payer_id)
        coverage = await conn.fetchrow("SELECT terms FROM coverages WHERE coverage_id = $1", prior.coverage_id)
        if row is None or coverage is None:
            raise RuleViolated(
                "coverage", f"the claim must name the payer billed before it, {prior.payer_id}, which invoicing "
                "does not know",
            )
        terms = CoverageTerms.model_validate_json(coverage["terms"])
        others.append(OtherPayer(
            payer=_payer(json.loads(row["profile"]), order[min(position, 2)]),
            member_id=terms.member_id, group_number=terms.group_number,
            paid_amount=prior.paid,
            adjustments=[
                ClaimAdjustment(group=a.group, reason=a.reason_code, amount=a.amount) for a in prior.adjustments
            ] if prior.paid is not None else [],
            adjudication_date=prior.decided_on if prior.paid is not None else None,
        ))
    return others


async def _charges(conn: asyncpg.Connection, charge_ids: list[str]) -> dict[str, ChargeRecorded]:
    rows = await conn.fetch("SELECT charge FROM charges WHERE charge_id = ANY($1::text[])", charge_ids)
    charges = [ChargeRecorded.model_validate(json.loads(row["charge"])) for row in rows]
    return {charge.charge_id: charge for charge in charges}


def _address(contact: dict[str, Any]) -> ClaimAddress | None:
    """The customer's first US postal address fit for a claim, if any."""
    for address in contact.get("addresses", []):
        region = (address.get("region") or "").upper()
        postal = (address.get("postal_code") or "").replace("-", "").replace(" ", "")
        if address.get("country", "US") == "US" and _STATE.match(region) and _ZIP.match(postal):
            return ClaimAddress(
                lines=address["lines"][:2], city=address["city"], state=region, postal_code=postal
            )
    return None
