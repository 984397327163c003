"""Charges, and taking them back, through invoicing's HTTP API: charge entry checks every code
against the catalogue for the date of service and refuses as problem+json naming the field;
amounts are units x unit price rounded half up; a reversed charge is never billed, or is taken off
its bill's open invoices by credit notes; an untouched invoice can be voided, anything else is
lowered line by line with numbered credit notes that print as PDFs."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.integration.invoicing.conftest import (
    Customer,
    RunningInvoicing,
    bill,
    charge,
    cost_share,
    customer_with_coverage,
    invoice,
    invoices_of,
    payer_registered,
    record_charges,
    unique,
)
from tests.polling import eventually

CREDIT_NOTE_NUMBER = re.compile(r"CN-2026-\d{6}")
TWENTY_PERCENT = [cost_share(coinsurance_bp=2000)]


def refusal(answer: httpx.Response, status: int = 422) -> dict[str, Any]:
    """The problem+json body of a refused request, after checking it is one."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == status
    return problem


async def charges_of(invoicing: RunningInvoicing, customer_id: str) -> list[dict[str, Any]]:
    listed = await invoicing.api.get(f"/v1/customers/{customer_id}/charges")
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


async def reverse(
    invoicing: RunningInvoicing, charge_id: str, reason: str = "charged in error"
) -> httpx.Response:
    return await invoicing.api.post(f"/v1/charges/{charge_id}/reversal", json={"reason": reason})


async def credit(
    invoicing: RunningInvoicing,
    invoice_id: str,
    lines: dict[str, int] | None = None,
    reason: str = "goodwill",
) -> httpx.Response:
    body: dict[str, Any] = (
        {"reason": reason} if lines is None else {"reason": reason, "lines": lines}
    )
    return await invoicing.api.post(f"/v1/invoices/{invoice_id}/credit-notes", json=body)


async def void(invoicing: RunningInvoicing, invoice_id: str, **headers: str) -> httpx.Response:
    return await invoicing.api.post(
        f"/v1/invoices/{invoice_id}/void", json={"reason": "billed twice"}, headers=headers
    )


def line_of(billed: dict[str, Any], charge_id: str) -> dict[str, Any]:
    [line] = [line for line in billed["lines"] if line["charge_id"] == charge_id]
    return line


@dataclass
class BilledVisit:
    """An office visit and a strep test, billed 80% to the insurer and 20% to the customer."""

    customer: Customer
    office_id: str
    strep_id: str
    insurer: dict[str, Any]
    own: dict[str, Any]


async def billed_visit(invoicing: RunningInvoicing) -> BilledVisit:
    customer = await customer_with_coverage(invoicing, TWENTY_PERCENT)
    office, strep = await record_charges(
        invoicing,
        charge(customer.customer_id, "99213", unit_price=15000),
        charge(customer.customer_id, "87880", unit_price=4000),
    )
    await bill(invoicing, customer.customer_id)
    parties = {
        i["party_kind"]: i["invoice_id"] for i in await invoices_of(invoicing, customer.customer_id)
    }
    insurer, own = (
        await invoice(invoicing, parties["payer"]),
        await invoice(invoicing, parties["customer"]),
    )
    assert (insurer["total"], own["total"]) == (15200, 3800)  # 20% coinsurance on 15000 + 4000
    return BilledVisit(
        customer, office["charge"]["charge_id"], strep["charge"]["charge_id"], insurer, own
    )


# -- charge entry --------------------------------------------------------------------------------


REFUSED_ENTRIES: dict[str, tuple[Callable[[str], dict[str, Any]], str, str]] = {
    "unknown procedure": (
        lambda customer_id: charge(customer_id, "G9999", system="HCPCS"),
        "procedure.code",
        "HCPCS G9999 is not in the catalogue",
    ),
    "expired procedure": (
        lambda customer_id: charge(customer_id, "99201"),
        "procedure.code",
        "CPT 99201 expired on 2020-12-31",
    ),
    "expired tariff item": (
        lambda customer_id: charge(
            customer_id, "WATER-M3", system="tariff:city-water", diagnoses=[]
        ),
        "procedure.code",
        "tariff:city-water WATER-M3 expired on 2025-12-31",
    ),
    "malformed procedure": (
        lambda customer_id: charge(customer_id, "9921X"),
        "procedure.code",
        "'9921X' is not in the form of CPT codes",
    ),
    "unknown diagnosis": (
        lambda customer_id: charge(
            customer_id, diagnoses=[{"system": "ICD-10-CM", "code": "J02.99"}]
        ),
        "diagnoses[0].code",
        "ICD-10-CM J02.99 is not in the catalogue",
    ),
    "unknown second diagnosis": (
        lambda customer_id: charge(
            customer_id,
            diagnoses=[
                {"system": "ICD-10-CM", "code": "J02.9"},
                {"system": "ICD-10-CM", "code": "J02.99"},
            ],
        ),
        "diagnoses[1].code",
        "ICD-10-CM J02.99 is not in the catalogue",
    ),
    "pointer to no diagnosis": (
        lambda customer_id: charge(customer_id, diagnosis_pointers=[1, 2]),
        "diagnosis_pointers",
        "diagnosis pointer 2 names no diagnosis",
    ),
}


@pytest.mark.parametrize("entry", REFUSED_ENTRIES.values(), ids=REFUSED_ENTRIES.keys())
async def test_a_charge_with_a_code_that_may_not_be_charged_is_refused_naming_the_field(
    invoicing: RunningInvoicing, entry: tuple[Callable[[str], dict[str, Any]], str, str]
) -> None:
    entered, field, message = entry
    customer = await customer_with_coverage(invoicing)

    answer = await invoicing.api.post("/v1/charges", json=entered(customer.customer_id))

    problem = refusal(answer)
    assert problem["errors"][0]["field"].startswith(field), problem
    assert message in problem["errors"][0]["message"]
    assert await charges_of(invoicing, customer.customer_id) == []


async def test_a_charge_for_a_customer_invoicing_never_heard_of_is_refused(
    invoicing: RunningInvoicing,
) -> None:
    stranger = unique("cus_")

    problem = refusal(await invoicing.api.post("/v1/charges", json=charge(stranger)))

    assert problem["errors"][0]["field"] == "customer_id"
    assert stranger in problem["errors"][0]["message"]
    assert await charges_of(invoicing, stranger) == []


MISPLACED_CODES: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
    "diagnosis as the procedure": (
        lambda customer_id: charge(customer_id, "J02.9", system="ICD-10-CM"),
        "procedure",
    ),
    "procedure as a diagnosis": (
        lambda customer_id: charge(customer_id, diagnoses=[{"system": "CPT", "code": "87880"}]),
        "diagnoses[0]",
    ),
}


@pytest.mark.parametrize("entry", MISPLACED_CODES.values(), ids=MISPLACED_CODES.keys())
async def test_a_code_of_the_wrong_kind_is_refused(
    invoicing: RunningInvoicing, entry: tuple[Callable[[str], dict[str, Any]], str]
) -> None:
    """A procedure is HCPCS, CPT or a tariff item; a diagnosis is ICD-10-CM."""
    entered, field = entry
    customer = await customer_with_coverage(invoicing)

    problem = refusal(await invoicing.api.post("/v1/charges", json=entered(customer.customer_id)))

    assert problem["errors"][0]["field"].startswith(field), problem
    assert await charges_of(invoicing, customer.customer_id) == []


@pytest.mark.parametrize(
    "modifiers",
    [["LEFT"], ["25", "59", "LT", "RT", "76"], ["LT", "LT"]],
    ids=["not two characters", "five of them", "one twice"],
)
async def test_modifiers_a_claim_line_cannot_carry_are_refused(
    invoicing: RunningInvoicing, modifiers: list[str]
) -> None:
    customer = await customer_with_coverage(invoicing)
    entered = charge(customer.customer_id)
    entered["procedure"]["modifiers"] = modifiers

    problem = refusal(await invoicing.api.post("/v1/charges", json=entered))

    assert problem["errors"][0]["field"].startswith("procedure.modifiers"), problem
    assert await charges_of(invoicing, customer.customer_id) == []


async def test_codes_are_recorded_in_their_canonical_form(invoicing: RunningInvoicing) -> None:
    """Upper case, ICD-10-CM with its dot, as the catalogue, crosswalks and claims compare them."""
    customer = await customer_with_coverage(invoicing)
    entered = charge(
        customer.customer_id,
        "g0008",
        system="HCPCS",
        diagnoses=[{"system": "ICD-10-CM", "code": "j029"}],
    )
    entered["procedure"]["modifiers"] = ["lt"]

    [recorded] = await record_charges(invoicing, entered)

    assert recorded["charge"]["procedure"] == {
        "system": "HCPCS",
        "code": "G0008",
        "modifiers": ["LT"],
    }
    assert [d["code"] for d in recorded["charge"]["diagnoses"]] == ["J02.9"]


async def test_a_retried_charge_with_the_same_idempotency_key_is_recorded_once(
    invoicing: RunningInvoicing,
) -> None:
    customer = await customer_with_coverage(invoicing)
    entered, key = charge(customer.customer_id), {"Idempotency-Key": unique("pm-visit-")}

    first = await invoicing.api.post("/v1/charges", json=entered, headers=key)
    again = await invoicing.api.post("/v1/charges", json=entered, headers=key)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    [recorded] = await charges_of(invoicing, customer.customer_id)
    assert recorded["charge"]["charge_id"] == first.json()["charge"]["charge_id"]


async def test_an_idempotency_key_reused_for_another_charge_is_refused(
    invoicing: RunningInvoicing,
) -> None:
    customer = await customer_with_coverage(invoicing)
    key = {"Idempotency-Key": unique("pm-visit-")}
    await invoicing.api.post("/v1/charges", json=charge(customer.customer_id, "99213"), headers=key)

    answer = await invoicing.api.post(
        "/v1/charges", json=charge(customer.customer_id, "87880"), headers=key
    )

    assert refusal(answer)["errors"][0]["field"] == "Idempotency-Key"
    assert [
        c["charge"]["procedure"]["code"] for c in await charges_of(invoicing, customer.customer_id)
    ] == ["99213"]


@pytest.mark.parametrize(
    ("units", "unit_price", "amount"),
    [
        ("2.5", 333, 833),  # 832.5: half up, not half to even
        ("0.5", 1, 1),
        ("1.005", 100, 101),
        ("3", 15000, 45000),
    ],
)
async def test_the_amount_is_units_times_unit_price_rounded_half_up(
    invoicing: RunningInvoicing, units: str, unit_price: int, amount: int
) -> None:
    customer = await customer_with_coverage(invoicing)

    [recorded] = await record_charges(
        invoicing, charge(customer.customer_id, units=units, unit_price=unit_price)
    )

    assert recorded["charge"]["amount"] == amount
    stored = await invoicing.api.get(f"/v1/charges/{recorded['charge']['charge_id']}")
    assert stored.json()["charge"]["amount"] == amount and stored.json()["status"] == "unbilled"


async def test_a_tariff_item_is_charged_by_decimal_units_with_the_tariffs_description(
    invoicing: RunningInvoicing,
) -> None:
    customer = await customer_with_coverage(invoicing)

    [water] = await record_charges(
        invoicing,
        charge(
            customer.customer_id,
            "WATER-T1",
            system="tariff:city-water",
            units="12.345",
            unit_price=215,
            diagnoses=[],
            rendering_provider=None,
        ),
    )

    recorded = water["charge"]
    assert (
        recorded["procedure"]["system"] == "tariff:city-water"
        and recorded["procedure"]["code"] == "WATER-T1"
    )
    assert recorded["units"] == "12.345" and recorded["amount"] == 2654  # 2654.175
    assert recorded["description"] == "Metered water, first 15 m³ of the month, per m³"


# -- reversal ------------------------------------------------------------------------------------


async def test_a_reversed_unbilled_charge_is_never_billed(invoicing: RunningInvoicing) -> None:
    customer = await customer_with_coverage(invoicing)
    [entered] = await record_charges(invoicing, charge(customer.customer_id))
    charge_id = entered["charge"]["charge_id"]

    reversed_ = await reverse(invoicing, charge_id)

    assert reversed_.status_code == 200, reversed_.text
    assert (
        reversed_.json()["charge"]["status"] == "reversed"
        and reversed_.json()["credit_notes"] == []
    )
    run = await invoicing.api.post("/v1/billing-runs", json={"customer_id": customer.customer_id})
    assert run.status_code == 200 and run.json()["encounters"] == []
    assert await invoices_of(invoicing, customer.customer_id) == []
    [listed] = await charges_of(invoicing, customer.customer_id)
    assert listed["status"] == "reversed" and listed["bill_id"] is None


async def test_reversing_a_billed_charge_credits_its_lines_on_every_open_invoice_of_its_bill(
    invoicing: RunningInvoicing,
) -> None:
    visit = await billed_visit(invoicing)
    office_to_insurer = line_of(visit.insurer, visit.office_id)
    office_to_customer = line_of(visit.own, visit.office_id)

    reversed_ = await reverse(invoicing, visit.office_id, "wrong visit level")

    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["charge"]["status"] == "reversed"
    notes = {note["invoice_id"]: note for note in reversed_.json()["credit_notes"]}
    assert notes.keys() == {visit.insurer["invoice_id"], visit.own["invoice_id"]}
    for billed, line in ((visit.insurer, office_to_insurer), (visit.own, office_to_customer)):
        note = notes[billed["invoice_id"]]
        assert CREDIT_NOTE_NUMBER.fullmatch(note["number"]), note["number"]
        assert note["invoice_number"] == billed["number"]
        assert note["lines"] == [{"line_id": line["line_id"], "amount": line["amount"]}]
        assert note["total"] == line["amount"] and "wrong visit level" in note["reason"]
        after = await invoice(invoicing, billed["invoice_id"])
        assert after["open_amount"] == billed["total"] - line["amount"]
        assert (after["number"], after["total"], after["lines"]) == (
            billed["number"],
            billed["total"],
            billed["lines"],
        )
        assert [n["credit_note_id"] for n in after["credit_notes"]] == [note["credit_note_id"]]
    listed = {i["invoice_id"]: i for i in await invoices_of(invoicing, visit.customer.customer_id)}
    assert listed[visit.insurer["invoice_id"]]["open_amount"] == 15200 - 12000
    assert listed[visit.own["invoice_id"]]["open_amount"] == 3800 - 3000
    assert len({note["number"] for note in notes.values()}) == 2


async def test_a_reversal_credits_only_what_is_still_open(invoicing: RunningInvoicing) -> None:
    visit = await billed_visit(invoicing)
    office_to_customer = line_of(visit.own, visit.office_id)
    goodwill = await credit(
        invoicing, visit.own["invoice_id"], {office_to_customer["line_id"]: 1000}
    )
    assert goodwill.status_code == 201, goodwill.text

    reversed_ = await reverse(invoicing, visit.office_id)

    assert reversed_.status_code == 200, reversed_.text
    [own_note] = [
        n for n in reversed_.json()["credit_notes"] if n["invoice_id"] == visit.own["invoice_id"]
    ]
    assert own_note["total"] == office_to_customer["amount"] - 1000
    assert (await invoice(invoicing, visit.own["invoice_id"]))["open_amount"] == 3800 - 3000


async def test_a_reversal_credits_nothing_on_a_voided_invoice(invoicing: RunningInvoicing) -> None:
    visit = await billed_visit(invoicing)
    assert (await void(invoicing, visit.own["invoice_id"])).status_code == 200

    reversed_ = await reverse(invoicing, visit.office_id)

    assert reversed_.status_code == 200, reversed_.text
    assert [n["invoice_id"] for n in reversed_.json()["credit_notes"]] == [
        visit.insurer["invoice_id"]
    ]


async def test_a_correction_is_accepted_only_once_the_charge_it_replaces_is_reversed(
    invoicing: RunningInvoicing,
) -> None:
    visit = await billed_visit(invoicing)
    correction = charge(
        visit.customer.customer_id, "99213", unit_price=12000, corrects=visit.office_id
    )

    early = refusal(await invoicing.api.post("/v1/charges", json=correction))
    assert (
        early["errors"][0]["field"] == "corrects"
        and visit.office_id in early["errors"][0]["message"]
    )
    assert len(await charges_of(invoicing, visit.customer.customer_id)) == 2

    assert (await reverse(invoicing, visit.office_id)).status_code == 200
    [corrected] = await record_charges(invoicing, correction)

    assert corrected["charge"]["corrects"] == visit.office_id and corrected["status"] == "unbilled"
    rebilled = await bill(invoicing, visit.customer.customer_id)
    assert rebilled["bill_id"] != visit.insurer["bill_id"]
    assert (await invoicing.api.get(f"/v1/charges/{corrected['charge']['charge_id']}")).json()[
        "status"
    ] == "billed"


async def test_a_correction_cannot_replace_another_customers_charge(
    invoicing: RunningInvoicing,
) -> None:
    owner, other = await customer_with_coverage(invoicing), await customer_with_coverage(invoicing)
    [mistake] = await record_charges(invoicing, charge(owner.customer_id))
    assert (await reverse(invoicing, mistake["charge"]["charge_id"])).status_code == 200

    answer = await invoicing.api.post(
        "/v1/charges", json=charge(other.customer_id, corrects=mistake["charge"]["charge_id"])
    )

    assert refusal(answer)["errors"][0]["field"] == "corrects"
    assert await charges_of(invoicing, other.customer_id) == []


async def test_a_charge_is_reversed_only_once(invoicing: RunningInvoicing) -> None:
    visit = await billed_visit(invoicing)
    assert (await reverse(invoicing, visit.office_id)).status_code == 200

    again = refusal(await reverse(invoicing, visit.office_id))

    assert (
        again["errors"][0]["field"] == "charge_id"
        and "already reversed" in again["errors"][0]["message"]
    )
    assert len((await invoice(invoicing, visit.insurer["invoice_id"]))["credit_notes"]) == 1
    assert len((await invoice(invoicing, visit.own["invoice_id"]))["credit_notes"]) == 1


async def test_reversing_an_unknown_charge_is_not_found(invoicing: RunningInvoicing) -> None:
    problem = refusal(await reverse(invoicing, unique("chg_")), status=404)
    assert problem["errors"][0]["field"] == "charge_id"


async def test_a_charge_reversed_while_its_payer_bill_is_held_is_not_billed_when_released(
    invoicing: RunningInvoicing,
) -> None:
    """A bill held for want of a crosswalk entry is part of the charge's bill too."""
    payer = payer_registered(unique("cpt-only-"), code_system="CPT")
    customer = await customer_with_coverage(invoicing, TWENTY_PERCENT, payer=payer)
    vaccine, visit = await record_charges(
        invoicing,
        charge(customer.customer_id, "G0008", system="HCPCS", unit_price=3000),
        charge(customer.customer_id, "99213", unit_price=15000),
    )
    billed = await bill(invoicing, customer.customer_id)
    [held_id] = billed["held"]

    assert (await reverse(invoicing, vaccine["charge"]["charge_id"])).status_code == 200
    published = await invoicing.api.post(
        f"/v1/payers/{payer['payer_id']}/crosswalk-versions",
        json={
            "effective_from": "2026-01-01",
            "entries": [
                {"system": "HCPCS", "code": "G0008", "payer_system": "CPT", "payer_code": "90471"}
            ],
        },
    )
    assert published.status_code == 201, published.text

    released = await invoice(invoicing, held_id)
    assert released["status"] == "issued"
    credited = {line["line_id"] for note in released["credit_notes"] for line in note["lines"]}
    still_billed = {
        line["charge_id"] for line in released["lines"] if line["line_id"] not in credited
    }
    assert still_billed == {visit["charge"]["charge_id"]}, released["lines"]


# -- voids ---------------------------------------------------------------------------------------


async def test_an_invoice_nothing_was_remitted_or_credited_against_can_be_voided(
    invoicing: RunningInvoicing,
) -> None:
    visit = await billed_visit(invoicing)

    voided = await void(invoicing, visit.own["invoice_id"])

    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided" and voided.json()["open_amount"] == 0
    assert voided.json()["number"] == visit.own["number"] and voided.json()["total"] == 3800
    [listed] = [
        i
        for i in await invoices_of(invoicing, visit.customer.customer_id)
        if i["invoice_id"] == visit.own["invoice_id"]
    ]
    assert listed["status"] == "voided" and listed["open_amount"] == 0


async def test_a_voided_invoice_is_neither_voided_again_nor_credited(
    invoicing: RunningInvoicing,
) -> None:
    visit = await billed_visit(invoicing)
    assert (await void(invoicing, visit.own["invoice_id"])).status_code == 200

    again = refusal(await void(invoicing, visit.own["invoice_id"]))
    credited = refusal(await credit(invoicing, visit.own["invoice_id"]))

    assert again["errors"][0]["field"] == "invoice_id" and "voided" in again["errors"][0]["message"]
    assert credited["errors"][0]["field"] == "invoice_id"
    assert (await invoice(invoicing, visit.own["invoice_id"]))["credit_notes"] == []


async def test_an_invoice_with_a_credit_note_cannot_be_voided(invoicing: RunningInvoicing) -> None:
    visit = await billed_visit(invoicing)
    assert (
        await credit(
            invoicing,
            visit.insurer["invoice_id"],
            {
                line_of(visit.insurer, visit.strep_id)["line_id"]: 100,
            },
        )
    ).status_code == 201

    problem = refusal(await void(invoicing, visit.insurer["invoice_id"]))

    assert (
        problem["errors"][0]["field"] == "invoice_id"
        and "credit note" in problem["errors"][0]["message"]
    )
    after = await invoice(invoicing, visit.insurer["invoice_id"])
    assert after["status"] == "issued" and after["open_amount"] == 15200 - 100


async def test_a_void_based_on_a_stale_version_is_refused_with_412(
    invoicing: RunningInvoicing,
) -> None:
    """Read before the invoice was e-mailed (which adds to its stream), voided after."""
    address = f"{unique('ada')}@example.com"
    customer = await customer_with_coverage(invoicing, TWENTY_PERCENT, email_address=address)
    await record_charges(invoicing, charge(customer.customer_id))
    await bill(invoicing, customer.customer_id)
    [own] = [
        i
        for i in await invoices_of(invoicing, customer.customer_id)
        if i["party_kind"] == "customer"
    ]
    read = await invoicing.api.get(f"/v1/invoices/{own['invoice_id']}")
    stale = read.headers["ETag"]
    await eventually(
        lambda: _sent(invoicing, own["invoice_id"]), timeout=20, message="the invoice was e-mailed"
    )

    refused = await void(invoicing, own["invoice_id"], **{"If-Match": stale})

    assert refusal(refused, status=412)["errors"][0]["field"] == "If-Match"
    current = await invoicing.api.get(f"/v1/invoices/{own['invoice_id']}")
    assert current.json()["status"] == "issued" and current.headers["ETag"] != stale
    voided = await void(invoicing, own["invoice_id"], **{"If-Match": current.headers["ETag"]})
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"


async def _sent(invoicing: RunningInvoicing, invoice_id: str) -> bool:
    return bool((await invoice(invoicing, invoice_id))["deliveries"])


async def test_a_voided_invoice_still_prints_marked_void(invoicing: RunningInvoicing) -> None:
    """What was sent stays reproducible: the PDF of a voided invoice says it was cancelled."""
    visit = await billed_visit(invoicing)
    assert (await void(invoicing, visit.own["invoice_id"])).status_code == 200

    pdf = await invoicing.api.get(f"/v1/invoices/{visit.own['invoice_id']}/pdf")

    assert pdf.status_code == 200, pdf.text
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert visit.own["number"] in text and "VOID" in text


# -- credit notes --------------------------------------------------------------------------------


async def test_a_credit_note_lowers_what_is_open_on_one_line(invoicing: RunningInvoicing) -> None:
    visit = await billed_visit(invoicing)
    office = line_of(visit.own, visit.office_id)

    answer = await credit(
        invoicing, visit.own["invoice_id"], {office["line_id"]: 500}, "waived in part"
    )

    assert answer.status_code == 201, answer.text
    note = answer.json()
    assert (
        CREDIT_NOTE_NUMBER.fullmatch(note["number"])
        and note["invoice_number"] == visit.own["number"]
    )
    assert note["lines"] == [{"line_id": office["line_id"], "amount": 500}] and note["total"] == 500
    assert answer.headers["Location"] == (
        f"/v1/invoices/{visit.own['invoice_id']}/credit-notes/{note['credit_note_id']}/pdf"
    )
    after = await invoice(invoicing, visit.own["invoice_id"])
    assert after["open_amount"] == 3800 - 500
    assert (after["total"], after["lines"]) == (3800, visit.own["lines"])
    [listed] = [
        i
        for i in await invoices_of(invoicing, visit.customer.customer_id)
        if i["invoice_id"] == visit.own["invoice_id"]
    ]
    assert listed["open_amount"] == 3800 - 500


OVER_CREDITS: dict[str, Callable[[dict[str, Any]], dict[str, int]]] = {
    "more than the line": lambda line: {line["line_id"]: line["amount"] + 1},
    "a negative amount": lambda line: {line["line_id"]: -100},
    "a line the invoice lacks": lambda line: {"chg_not_on_this_invoice": 100},
}


@pytest.mark.parametrize("lines", OVER_CREDITS.values(), ids=OVER_CREDITS.keys())
async def test_a_credit_note_the_lines_do_not_allow_is_refused(
    invoicing: RunningInvoicing, lines: Callable[[dict[str, Any]], dict[str, int]]
) -> None:
    visit = await billed_visit(invoicing)

    problem = refusal(
        await credit(invoicing, visit.own["invoice_id"], lines(line_of(visit.own, visit.strep_id)))
    )

    assert problem["errors"][0]["field"] == "lines"
    after = await invoice(invoicing, visit.own["invoice_id"])
    assert after["credit_notes"] == [] and after["open_amount"] == 3800


async def test_a_line_cannot_be_credited_beyond_what_earlier_credit_notes_left(
    invoicing: RunningInvoicing,
) -> None:
    visit = await billed_visit(invoicing)
    strep = line_of(visit.own, visit.strep_id)  # 800
    assert (
        await credit(invoicing, visit.own["invoice_id"], {strep["line_id"]: 600})
    ).status_code == 201

    problem = refusal(await credit(invoicing, visit.own["invoice_id"], {strep["line_id"]: 201}))

    assert problem["errors"][0]["field"] == "lines" and "200" in problem["errors"][0]["message"]
    assert (
        await credit(invoicing, visit.own["invoice_id"], {strep["line_id"]: 200})
    ).status_code == 201


async def test_a_credit_note_without_lines_credits_everything_still_open(
    invoicing: RunningInvoicing,
) -> None:
    visit = await billed_visit(invoicing)
    office, strep = line_of(visit.own, visit.office_id), line_of(visit.own, visit.strep_id)
    assert (
        await credit(invoicing, visit.own["invoice_id"], {office["line_id"]: 500})
    ).status_code == 201

    answer = await credit(invoicing, visit.own["invoice_id"], reason="account closed")

    assert answer.status_code == 201, answer.text
    note = answer.json()
    assert note["total"] == 3800 - 500
    assert {line["line_id"]: line["amount"] for line in note["lines"]} == {
        office["line_id"]: office["amount"] - 500,
        strep["line_id"]: strep["amount"],
    }
    after = await invoice(invoicing, visit.own["invoice_id"])
    assert (
        after["open_amount"] == 0
        and after["status"] == "issued"
        and len(after["credit_notes"]) == 2
    )
    nothing_left = refusal(await credit(invoicing, visit.own["invoice_id"]))
    assert nothing_left["errors"][0]["field"] == "lines"


async def test_a_credit_note_prints_as_a_pdf_naming_it_and_the_invoice_it_credits(
    invoicing: RunningInvoicing,
) -> None:
    visit = await billed_visit(invoicing)
    issued = await credit(
        invoicing, visit.own["invoice_id"], {line_of(visit.own, visit.office_id)["line_id"]: 1250}
    )
    note = issued.json()

    pdf = await invoicing.api.get(issued.headers["Location"])

    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert note["number"] in text and visit.own["number"] in text and "12.50" in text


async def test_an_unknown_credit_note_has_no_pdf(invoicing: RunningInvoicing) -> None:
    visit = await billed_visit(invoicing)

    answer = await invoicing.api.get(
        f"/v1/invoices/{visit.own['invoice_id']}/credit-notes/{unique('cn')}/pdf"
    )

    refusal(answer, status=404)
