"""The clearinghouse simulator pays claims it received with an 835 (POST /x12/835), in process: its
835s, written by its own writer, are valid, balance, and say what the request asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.payments.adapters.x12_835 import read_835, validate_835
from services.payments.domain.remittance import RemittanceAdvice, balancing_problems
from simulators.clearinghouse.app import create_app, load_members

FIXTURES = Path(__file__).parent / "fixtures"
# Two 837Ps as invoicing writes them: Ada's visit (PAY-2026-000001) and her son Byron's
# (PAY-2026-000002), each 125.00 (99213-25) + 25.50 (G0008) + 31.00 (90686-SL) = 181.50.
CLAIMS = [(FIXTURES / name).read_text() for name in ("837p-ada.x12", "837p-byron.x12")]


@pytest.fixture
async def simulator() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(load_members())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        for claim in CLAIMS:
            taken = await client.post("/x12/837", content=claim)
            assert taken.status_code == 200, taken.text
        yield client


async def pay(simulator: httpx.AsyncClient, **request: Any) -> httpx.Response:
    body = {"trace_number": "EFT-20261215-1", "payment_date": "2026-12-15", **request}
    return await simulator.post("/x12/835", json=body)


def advice_of(response: httpx.Response) -> RemittanceAdvice:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/edi-x12"
    assert validate_835(response.text) == []
    (advice,) = read_835(response.text)
    assert balancing_problems(advice) == []
    return advice


async def test_lines_left_out_are_paid_in_full(simulator: httpx.AsyncClient) -> None:
    response = await pay(simulator, claims=[{"claim_reference": "PAY-2026-000001"}])
    advice = advice_of(response)

    (claim,) = advice.claims
    assert (claim.claim_reference, claim.claim_status) == ("PAY-2026-000001", "1")
    assert (claim.charge, claim.paid, advice.payment_amount) == (18150, 18150, 18150)
    assert [(line.line_reference, line.procedure_code, line.paid) for line in claim.lines] == [
        ("INV-1-L1", "HC:99213:25", 12500),
        ("INV-1-L2", "HC:G0008", 2550),
        ("INV-1-L3", "HC:90686:SL", 3100),
    ]
    assert (claim.patient_name, claim.member_id) == ("LOVELACE, ADA", "W123456789")
    # the parties are the claim's: its payer and billing provider, from the clearinghouse it was
    # sent to, to its submitter
    assert (advice.payer_name, advice.payer_identifier) == ("ACME HEALTH", "60054")
    assert (advice.payee_name, advice.payee_npi) == ("EXAMPLE COMMUNITY CLINIC", "1234567893")
    assert response.text.startswith(
        "ISA*00*          *00*          *ZZ*CLEARINGHOUSE  *ZZ*BILLINGPLATFORM*"
    )


async def test_a_line_paid_less_has_its_adjustments_and_the_rest_written_off(
    simulator: httpx.AsyncClient,
) -> None:
    visit = {
        "line_reference": "INV-1-L1",
        "paid": 8000,
        "adjustments": [{"group": "PR", "reason_code": "2", "amount": 2000}],
    }
    response = await pay(
        simulator,
        method="CHK",
        claims=[{"claim_reference": "PAY-2026-000001", "lines": [visit]}],
    )
    advice = advice_of(response)

    (claim,) = advice.claims
    line = claim.lines[0]
    assert (line.charge, line.paid, line.allowed) == (12500, 8000, 10000)
    assert [(a.group, a.reason_code, a.amount) for a in line.adjustments] == [
        ("PR", "2", 2000),
        ("CO", "45", 2500),  # the rest of the charge: over the fee schedule
    ]
    assert (claim.paid, claim.patient_responsibility) == (8000 + 2550 + 3100, 2000)
    assert advice.payment_method == "CHK"


async def test_a_denied_claim_pays_nothing_and_says_why(simulator: httpx.AsyncClient) -> None:
    not_covered = {
        "line_reference": "INV-1-L3",
        "adjustments": [{"group": "PR", "reason_code": "204", "amount": 3100}],
    }
    advice = advice_of(
        await pay(
            simulator,
            claims=[
                {"claim_reference": "PAY-2026-000001"},
                {"claim_reference": "PAY-2026-000002", "denied": True, "lines": [not_covered]},
            ],
            provider_adjustments=[
                {"reason_code": "L6", "reference": "PAY-2026-000001", "amount": -125}
            ],
        )
    )

    paid, denied = advice.claims
    assert advice.payment_amount == 18150 + 125  # with interest
    assert denied.denied and denied.paid == 0 and denied.patient_responsibility == 3100
    assert denied.denied_lines() == denied.lines
    assert [(a.group, a.reason_code) for line in denied.lines for a in line.adjustments] == [
        ("CO", "50"),
        ("CO", "50"),
        ("PR", "204"),
    ]
    # Byron is the patient, his mother the subscriber whose member id it is
    assert (denied.patient_name, denied.member_id) == ("LOVELACE, BYRON", "W123456789")
    assert paid.payer_claim_number != denied.payer_claim_number


async def test_a_claim_never_received_is_a_404_problem(simulator: httpx.AsyncClient) -> None:
    response = await pay(simulator, claims=[{"claim_reference": "PAY-2026-999999"}])

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "no claim PAY-2026-999999 was received"


async def test_adjudicating_more_than_a_line_charged_is_refused(
    simulator: httpx.AsyncClient,
) -> None:
    too_much = {
        "line_reference": "INV-1-L2",
        "paid": 2000,
        "adjustments": [{"group": "CO", "reason_code": "45", "amount": 600}],
    }
    unknown = {"line_reference": "INV-9-L9", "paid": 0}

    over = await pay(
        simulator, claims=[{"claim_reference": "PAY-2026-000001", "lines": [too_much]}]
    )
    missing = await pay(
        simulator, claims=[{"claim_reference": "PAY-2026-000001", "lines": [unknown]}]
    )

    assert over.status_code == missing.status_code == 422
    assert "exceed the charge 2550" in over.json()["detail"]
    assert "has no line INV-9-L9" in missing.json()["detail"]
