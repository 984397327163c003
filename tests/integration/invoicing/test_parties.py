"""Which party a bill goes to and what it says, through the HTTP API and Kafka: a payer billing in
its own codes waits for a crosswalk, a customer bill above their Good Faith Estimate is flagged,
and a secondary coverage is billed after the primary (also for what the primary later denies),
with remittances applied once and one for an unknown claim dead-lettered."""

from __future__ import annotations

import io
import json
from typing import Any

from pypdf import PdfReader

from services.invoicing.adapters.claim_validation import validate_837p
from shared.events import CONTRACTS_DIR
from shared.x12 import parse_interchange
from tests.integration.invoicing.conftest import (
    NOW,
    SERVICE_DATE,
    Customer,
    RunningInvoicing,
    bill,
    charge,
    cost_share,
    coverage_added,
    customer_registered,
    customer_with_coverage,
    eligibility_verified,
    invoice,
    invoices_of,
    payer_registered,
    record_charges,
    unique,
)
from tests.integration.invoicing.test_delivery import INVOICING_EVENTS, delivered, keyed, tailing
from tests.polling import eventually

TARIFF = "tariff:county-aid"
FEEDS_DLQ = "invoicing.feeds.dlq"


def fitting_its_contract(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data``, once checked to have every field the publisher's contract requires and no other."""
    service = event_type.split(".")[1]
    schema = json.loads((CONTRACTS_DIR / service / f"{event_type}.v1.schema.json").read_text())
    assert set(schema["required"]) <= set(data) <= set(schema["properties"]), event_type
    return data


# -- crosswalks ----------------------------------------------------------------------------------


async def test_a_bill_to_a_payer_with_no_crosswalk_to_its_codes_is_held_until_one_is_published(
    invoicing: RunningInvoicing,
) -> None:
    payer_id = unique("county-aid-")
    payer = payer_registered(
        payer_id, code_system=TARIFF, electronic=False, kind="government_agency", name="County Aid"
    )
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)], payer=payer)
    await record_charges(invoicing, charge(customer.customer_id, "99213", unit_price=15000))

    billed = await bill(invoicing, customer.customer_id)

    [held_id] = billed["held"]
    held = await invoice(invoicing, held_id)
    assert held["status"] == "held" and held["number"] is None and held["open_amount"] == 0
    [reason] = held["hold_reasons"]
    assert "CPT 99213" in reason and TARIFF in reason
    [own] = [
        i
        for i in await invoices_of(invoicing, customer.customer_id)
        if i["party_kind"] == "customer"
    ]
    assert own["status"] == "issued" and own["total"] == 2500, "the customer's part is not held"

    versions = f"/v1/payers/{payer_id}/crosswalk-versions"
    mapping = {"system": "CPT", "code": "99213", "payer_system": TARIFF, "payer_code": "CA-0213"}
    refused = {
        "version": {"version": 2, "effective_from": "2026-01-01", "entries": [mapping]},
        "entries[0].payer_system": {
            "version": 1,
            "effective_from": "2026-01-01",
            "entries": [{**mapping, "payer_system": "HCPCS", "payer_code": "G0008"}],
        },
        "effective_to": {
            "effective_from": "2026-01-01",
            "effective_to": "2025-12-31",
            "entries": [mapping],
        },
    }
    for field, body in refused.items():
        answer = await invoicing.api.post(versions, json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == field
    assert (await invoice(invoicing, held_id))["status"] == "held"

    published = await invoicing.api.post(
        versions, json={"version": 1, "effective_from": "2026-01-01", "entries": [mapping]}
    )

    assert published.status_code == 201, published.text
    issued = await invoice(invoicing, held_id)
    assert issued["status"] == "issued" and issued["hold_reasons"] == []
    assert issued["number"].startswith("PAY-2026-") and issued["total"] == 12500
    [line] = issued["lines"]
    assert line["code"] == {"system": TARIFF, "code": "CA-0213", "modifiers": []}
    assert line["amount"] == 12500 and line["charge_id"] == held["lines"][0]["charge_id"]
    assert (await invoicing.api.get(f"/v1/invoices/{held_id}/claim")).status_code == 404
    sent = await delivered(invoicing, held_id)
    assert (
        sent["channel"] == "email"
        and sent["recipient"] == payer["profile"]["billing_contact"]["email"]
    )


# -- estimates -----------------------------------------------------------------------------------


async def estimated(
    invoicing: RunningInvoicing, customer: Customer, customer_portion: int, flag_threshold: int
) -> str:
    """Eligibility's Good Faith Estimate for an office visit on the day, once invoicing has it."""
    estimate_id = unique("est_")
    total = 15000
    await invoicing.publish(
        "eligibility.events",
        "EstimateIssued",
        customer.customer_id,
        fitting_its_contract(
            "billing.eligibility.EstimateIssued",
            {
                "estimate_id": estimate_id,
                "customer_id": customer.customer_id,
                "service_date": SERVICE_DATE.isoformat(),
                "currency": "USD",
                "lines": [
                    {
                        "code": "99213",
                        "quantity": 1,
                        "unit_price": total,
                        "total": total,
                        "deductible_applied": 0,
                        "copay_applied": customer_portion,
                        "coinsurance_applied": 0,
                        "out_of_pocket_capped": 0,
                        "payer_portion": total - customer_portion,
                        "customer_portion_before_program": customer_portion,
                        "program_discount": 0,
                        "customer_portion": customer_portion,
                    }
                ],
                "total": total,
                "payer_portion": total - customer_portion,
                "program_discount": 0,
                "customer_portion": customer_portion,
                "flag_threshold": flag_threshold,
                "basis": {
                    "self_pay": False,
                    "coverage_status": "verified",
                    "coverage_id": customer.coverage_id,
                    "payer_id": customer.payer_id,
                    "check_id": None,
                    "determination_id": None,
                },
                "advice": [],
                "valid_until": "2026-04-01",
                "issued_by": "front-desk",
                "issued_at": NOW.isoformat(),
            },
        ),
    )
    await eventually(
        lambda: invoicing.pool.fetchval(
            "SELECT 1 FROM estimates WHERE estimate_id = $1", estimate_id
        ),
        timeout=20,
        message=f"invoicing saw estimate {estimate_id}",
    )
    return estimate_id


async def test_a_customer_bill_above_the_estimate_by_more_than_its_threshold_is_flagged(
    invoicing: RunningInvoicing,
    kafka_bootstrap: str,
) -> None:
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)])
    estimate_id = await estimated(invoicing, customer, customer_portion=1000, flag_threshold=500)
    await record_charges(invoicing, charge(customer.customer_id, "99213", unit_price=15000))

    async with tailing(kafka_bootstrap, INVOICING_EVENTS) as events:
        await bill(invoicing, customer.customer_id)
        [own] = [
            i
            for i in await invoices_of(invoicing, customer.customer_id)
            if i["party_kind"] == "customer"
        ]
        [published] = await events.collect(
            keyed(customer.customer_id, "billing.invoicing.InvoiceExceededEstimate"), 1, timeout=20
        )

    assert own["total"] == 2500 and own["flagged"] is True
    flagged = await invoice(invoicing, own["invoice_id"])
    assert flagged["flagged"] is True
    assert flagged["estimate"] == {
        "estimate_id": estimate_id,
        "estimated": 1000,
        "billed": 2500,
        "threshold": 500,
        "exceeded": True,
    }
    data = json.loads(published.value)
    assert (data["invoice_id"], data["number"], data["estimate_id"]) == (
        own["invoice_id"],
        own["number"],
        estimate_id,
    )
    assert (data["estimated"], data["billed"], data["threshold"], data["excess"]) == (
        1000,
        2500,
        500,
        1500,
    )
    pdf = await invoicing.api.get(f"/v1/invoices/{own['invoice_id']}/pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Good Faith Estimate" in text and "15.00" in text, (
        "the customer is told they may dispute it"
    )


async def test_a_customer_bill_above_the_estimate_by_no_more_than_its_threshold_is_not_flagged(
    invoicing: RunningInvoicing,
    kafka_bootstrap: str,
) -> None:
    customer = await customer_with_coverage(invoicing, [cost_share(copay=1500)])
    estimate_id = await estimated(invoicing, customer, customer_portion=1000, flag_threshold=500)
    await record_charges(invoicing, charge(customer.customer_id, "99213", unit_price=15000))

    async with tailing(kafka_bootstrap, INVOICING_EVENTS) as events:
        await bill(invoicing, customer.customer_id)
        [own] = [
            i
            for i in await invoices_of(invoicing, customer.customer_id)
            if i["party_kind"] == "customer"
        ]
        # InvoiceSent follows any flag on the customer's partition: everything before it is in
        await events.collect(
            keyed(customer.customer_id, "billing.invoicing.InvoiceSent"), 1, timeout=20
        )

    assert own["total"] == 1500 and own["flagged"] is False
    compared = await invoice(invoicing, own["invoice_id"])
    assert compared["flagged"] is False
    assert compared["estimate"] == {
        "estimate_id": estimate_id,
        "estimated": 1000,
        "billed": 1500,
        "threshold": 500,
        "exceeded": False,
    }
    assert not [
        r
        for r in events.seen
        if keyed(customer.customer_id, "billing.invoicing.InvoiceExceededEstimate")(r)
    ]


# -- coverage order and remittances --------------------------------------------------------------


async def customer_with_two_coverages(invoicing: RunningInvoicing) -> tuple[Customer, Customer]:
    """A customer with a primary coverage (20% coinsurance) and a secondary one (a 10.00 copay) at
    two insurers that take 837Ps, both verified, as registration and eligibility publish them."""
    customer_id = unique("cus_")
    await invoicing.publish(
        "registration.events", "CustomerRegistered", customer_id, customer_registered(customer_id)
    )
    coverages = []
    for priority, name, share in (
        ("primary", "Acme Health", cost_share(coinsurance_bp=2000)),
        ("secondary", "Second Mutual", cost_share(copay=1000)),
    ):
        payer_id, coverage_id = unique(f"{priority}-"), unique("cov_")
        await invoicing.publish(
            "eligibility.events", "PayerRegistered", payer_id, payer_registered(payer_id, name=name)
        )
        await invoicing.publish(
            "registration.events",
            "CoverageAdded",
            customer_id,
            coverage_added(
                customer_id,
                coverage_id,
                payer_id,
                priority=priority,
                member_id=unique("M").upper(),
            ),
        )
        await invoicing.publish(
            "eligibility.events",
            "EligibilityVerified",
            customer_id,
            eligibility_verified(customer_id, coverage_id, payer_id, [share]),
        )
        coverages.append(Customer(customer_id, coverage_id, payer_id))
    await eventually(
        lambda: invoicing.pool.fetchval(
            "SELECT count(*) = 2 FROM coverages c JOIN verifications v USING (coverage_id) "
            "JOIN payers p ON p.payer_id = c.payer_id "
            "JOIN customers r ON r.customer_id = c.customer_id "
            "WHERE c.customer_id = $1",
            customer_id,
        ),
        timeout=20,
        message=f"invoicing saw both coverages of {customer_id}",
    )
    primary, secondary = coverages
    return primary, secondary


async def billed_to_both(
    invoicing: RunningInvoicing,
) -> tuple[Customer, Customer, dict[str, dict], dict[str, str]]:
    """An office visit (150.00) and a strep test (40.00) billed: the invoices by responsibility,
    and the charge ids by procedure. The primary's 20% leaves 30.00 and 8.00; of that 38.00 the
    secondary pays all but its 10.00 copay (which line the copay falls on depends on the order
    the charges are billed in, which a fixed clock leaves to their ids)."""
    primary, secondary = await customer_with_two_coverages(invoicing)
    office, strep = await record_charges(
        invoicing,
        charge(primary.customer_id, "99213", unit_price=15000),
        charge(primary.customer_id, "87880", unit_price=4000),
    )
    billed = await bill(invoicing, primary.customer_id)
    assert billed["waiting"] is None and billed["held"] == [], billed
    invoices = {i["responsibility"]: i for i in await invoices_of(invoicing, primary.customer_id)}
    return (
        primary,
        secondary,
        invoices,
        {
            "99213": office["charge"]["charge_id"],
            "87880": strep["charge"]["charge_id"],
        },
    )


def remittance(
    invoice_to_payer: dict[str, Any],
    payer_id: str,
    customer_id: str,
    lines: list[dict[str, Any]],
    event_type: str = "billing.payments.ClaimDenied",
) -> dict[str, Any]:
    """Payments' remittance (ClaimDenied or ClaimAdjusted) of the invoice's claim, line by line."""
    denied = {
        "denied_line_references": [line["line_reference"] for line in lines if line["paid"] == 0]
    }
    return fitting_its_contract(
        event_type,
        {
            "remittance_id": unique("rem_"),
            "claim_reference": invoice_to_payer["number"],
            "payer_claim_number": unique("PCN-"),
            "payer_id": payer_id,
            "customer_id": customer_id,
            "claim_status": "1",
            "currency": "USD",
            "charge": sum(line["charge"] for line in lines),
            "paid": sum(line["paid"] for line in lines),
            "patient_responsibility": sum(
                a["amount"] for line in lines for a in line["adjustments"] if a["group"] == "PR"
            ),
            "claim_adjustments": [],
            "lines": lines,
            "payment_date": "2026-03-20",
            "posted_at": "2026-03-20T10:00:00+00:00",
            **(denied if event_type.endswith("ClaimDenied") else {}),
        },
    )


def remitted_line(
    charge_id: str, code: str, charge_amount: int, paid: int, *adjustments: tuple[str, str, int]
) -> dict[str, Any]:
    return {
        "line_reference": charge_id,
        "procedure_code": f"HC:{code}",
        "charge": charge_amount,
        "paid": paid,
        "allowed": None,
        "remark_codes": [],
        "adjustments": [
            {"group": group, "reason_code": reason, "amount": amount}
            for group, reason, amount in adjustments
        ],
    }


def strep_denied_as_patient_responsibility(
    primary: Customer, invoices: dict[str, dict], charges: dict[str, str]
) -> dict[str, Any]:
    """The primary pays its 80% of the visit and denies the strep test as not covered (PR-96)."""
    return remittance(
        invoices["primary"],
        primary.payer_id,
        primary.customer_id,
        [
            remitted_line(charges["99213"], "99213", 15000, 12000, ("PR", "2", 3000)),
            remitted_line(charges["87880"], "87880", 4000, 0, ("PR", "96", 4000)),
        ],
    )


def paid_in_full(invoice_to_payer: dict[str, Any], payer_id: str) -> dict[str, Any]:
    """The payer's ClaimAdjusted paying every line of the invoice what it was billed for."""
    return remittance(
        invoice_to_payer,
        payer_id,
        invoice_to_payer["customer_id"],
        [
            remitted_line(
                line["line_id"], line["code"]["code"], line["charge_amount"], line["amount"]
            )
            for line in invoice_to_payer["lines"]
        ],
        event_type="billing.payments.ClaimAdjusted",
    )


async def remitted(invoicing: RunningInvoicing, invoice_id: str) -> dict[str, Any]:
    async def applied() -> dict[str, Any] | None:
        found = await invoice(invoicing, invoice_id)
        return found if found["remittances"] else None

    return await eventually(
        applied, timeout=20, message=f"a remittance was applied to {invoice_id}"
    )


async def transfers(invoicing: RunningInvoicing, customer_id: str) -> list[dict[str, Any]]:
    return [i for i in await invoices_of(invoicing, customer_id) if i["transferred_from"]]


def segments_of(claim: str) -> list[Any]:
    [transaction_set] = parse_interchange(claim).transaction_sets
    return list(transaction_set.body)


async def test_the_primary_the_secondary_and_the_customer_are_billed_in_coverage_order(
    invoicing: RunningInvoicing,
) -> None:
    primary, secondary, invoices, _ = await billed_to_both(invoicing)

    assert set(invoices) == {"primary", "secondary", "customer"}
    assert (
        invoices["primary"]["payer_id"] == primary.payer_id
        and invoices["primary"]["total"] == 15200
    )
    assert (
        invoices["secondary"]["payer_id"] == secondary.payer_id
        and invoices["secondary"]["total"] == 2800
    )
    assert invoices["customer"]["total"] == 1000
    assert sum(i["total"] for i in invoices.values()) == 15000 + 4000
    claim = await invoicing.api.get(f"/v1/invoices/{invoices['secondary']['invoice_id']}/claim")
    assert claim.status_code == 200
    assert validate_837p(claim.text) == []
    subscriber_loops = [s.element(1) for s in segments_of(claim.text) if s.id == "SBR"]
    assert subscriber_loops == ["S", "P"], (
        "billed as secondary, naming the primary as the other payer"
    )


async def test_what_the_primary_denies_as_patient_responsibility_is_billed_to_the_secondary(
    invoicing: RunningInvoicing,
) -> None:
    primary, secondary, invoices, charges = await billed_to_both(invoicing)

    await invoicing.publish(
        "payments.events",
        "ClaimDenied",
        primary.customer_id,
        strep_denied_as_patient_responsibility(primary, invoices, charges),
    )

    [moved] = await eventually(
        lambda: transfers(invoicing, primary.customer_id),
        timeout=20,
        message="the denied remainder was billed",
    )
    assert moved["party_kind"] == "payer" and moved["payer_id"] == secondary.payer_id
    assert moved["responsibility"] == "secondary" and moved["total"] == 3200
    assert moved["transferred_from"] == invoices["primary"]["invoice_id"]
    assert [
        i["invoice_id"]
        for i in await invoices_of(invoicing, primary.customer_id)
        if i["party_kind"] == "customer"
    ] == [invoices["customer"]["invoice_id"]], "not to the customer"
    original = await invoice(invoicing, invoices["primary"]["invoice_id"])
    [applied] = original["remittances"]
    assert (applied["paid"], applied["written_off"], applied["transferred"]) == (12000, 0, 3200)
    assert applied["transferred_to"] == moved["invoice_id"] and original["open_amount"] == 0
    claim = await invoicing.api.get(f"/v1/invoices/{moved['invoice_id']}/claim")
    assert claim.status_code == 200
    assert validate_837p(claim.text) == []
    segments = segments_of(claim.text)
    assert [s.element(1) for s in segments if s.id == "SBR"] == ["S", "P"]
    assert [s.element(1).split(":")[1] for s in segments if s.id == "SV1"] == ["87880"]
    # The primary has decided this claim: the secondary must be told what it paid (AMT*D) and
    # why it left the rest (CAS, on the claim or the line), or it cannot coordinate benefits.
    after_primary = segments[[s.id for s in segments].index("SBR", 1) :]
    told = "~".join("*".join([s.id, *s.elements]) for s in after_primary)
    assert ["D", "0"] in [list(s.elements[:2]) for s in after_primary if s.id == "AMT"], told
    assert ["PR", "96", "40"] in [list(s.elements[:3]) for s in after_primary if s.id == "CAS"], told


async def test_a_denial_adjusted_only_as_contractual_is_written_off_without_a_new_invoice(
    invoicing: RunningInvoicing,
) -> None:
    primary, _, invoices, charges = await billed_to_both(invoicing)

    await invoicing.publish(
        "payments.events",
        "ClaimDenied",
        primary.customer_id,
        remittance(
            invoices["primary"],
            primary.payer_id,
            primary.customer_id,
            [
                remitted_line(charges["99213"], "99213", 15000, 0, ("CO", "197", 15000)),
                remitted_line(charges["87880"], "87880", 4000, 0, ("CO", "197", 4000)),
            ],
        ),
    )

    original = await remitted(invoicing, invoices["primary"]["invoice_id"])
    [applied] = original["remittances"]
    assert (applied["paid"], applied["written_off"], applied["transferred"]) == (0, 15200, 0)
    assert applied["denied"] is True and applied["transferred_to"] is None
    assert original["open_amount"] == 0
    assert await transfers(invoicing, primary.customer_id) == []
    assert len(await invoices_of(invoicing, primary.customer_id)) == 3


async def test_a_remittance_delivered_twice_is_applied_once(invoicing: RunningInvoicing) -> None:
    primary, secondary, invoices, charges = await billed_to_both(invoicing)
    denial = strep_denied_as_patient_responsibility(primary, invoices, charges)

    await invoicing.publish("payments.events", "ClaimDenied", primary.customer_id, denial)
    await invoicing.publish("payments.events", "ClaimDenied", primary.customer_id, denial)
    # a later remittance on the same partition: once it is applied, both copies were seen
    to_secondary = await invoice(invoicing, invoices["secondary"]["invoice_id"])
    await invoicing.publish(
        "payments.events",
        "ClaimAdjusted",
        primary.customer_id,
        paid_in_full(to_secondary, secondary.payer_id),
    )
    await remitted(invoicing, invoices["secondary"]["invoice_id"])

    original = await invoice(invoicing, invoices["primary"]["invoice_id"])
    assert [r["remittance_id"] for r in original["remittances"]] == [denial["remittance_id"]]
    assert original["open_amount"] == 0
    [moved] = await transfers(invoicing, primary.customer_id)
    assert moved["total"] == 3200


async def test_a_remittance_for_an_unknown_claim_is_dead_lettered_and_the_feed_goes_on(
    invoicing: RunningInvoicing,
    kafka_bootstrap: str,
) -> None:
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)])
    [recorded] = await record_charges(
        invoicing, charge(customer.customer_id, "99213", unit_price=15000)
    )
    await bill(invoicing, customer.customer_id)
    [to_payer] = [
        i for i in await invoices_of(invoicing, customer.customer_id) if i["party_kind"] == "payer"
    ]
    charge_id = recorded["charge"]["charge_id"]
    unknown = remittance(
        {"number": unique("PAY-1999-")},
        customer.payer_id,
        customer.customer_id,
        [remitted_line(charge_id, "99213", 15000, 0, ("PR", "96", 12500))],
    )

    async with tailing(kafka_bootstrap, FEEDS_DLQ) as dead_letters:
        await invoicing.publish("payments.events", "ClaimDenied", customer.customer_id, unknown)
        await invoicing.publish(
            "payments.events",
            "ClaimAdjusted",
            customer.customer_id,
            remittance(
                to_payer,
                customer.payer_id,
                customer.customer_id,
                [remitted_line(charge_id, "99213", 15000, 12500, ("PR", "3", 2500))],
                event_type="billing.payments.ClaimAdjusted",
            ),
        )
        [dead] = await dead_letters.collect(
            lambda r: r.key == customer.customer_id.encode(), 1, timeout=30
        )

    headers = dict(dead.headers)
    assert headers["ce_type"] == b"billing.payments.ClaimDenied"
    assert headers["dlq_original_topic"] == b"payments.events"
    assert unknown["claim_reference"].encode() in headers["dlq_reason"]
    assert json.loads(dead.value)["remittance_id"] == unknown["remittance_id"]
    applied = await remitted(invoicing, to_payer["invoice_id"])
    assert [r["paid"] for r in applied["remittances"]] == [12500] and applied["open_amount"] == 0
