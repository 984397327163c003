"""Good Faith Estimates and program determinations over HTTP, from a coverage verified through the
real verifier and payer simulator. Amounts are worked out by hand in the comments.

The member has $650.00 of a $1,500.00 deductible left, 20% coinsurance and $4,200.00 of a
$6,000.00 out-of-pocket maximum left (see conftest.member)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.eligibility.conftest import (
    RunningEligibility,
    coverage_for,
    customer_registered,
    ended_check,
    member,
    unique,
)

pytestmark = pytest.mark.integration

SERVICES = [
    {"code": "99214", "description": "Office visit, established patient", "quantity": 1, "unit_price": 20000},
    {"code": "71046", "description": "Chest X-ray, 2 views", "quantity": 2, "unit_price": 30000},
]
HOUSEHOLD = {"household_size": 3, "annual_income": {"amount": 4000000, "currency": "USD"}}


async def verified_customer(eligibility: RunningEligibility, **member_overrides: Any) -> tuple[str, str]:
    member_id = unique("EST")
    await eligibility.put_member(member(member_id, **member_overrides))
    customer_id, coverage_id = await coverage_for(eligibility, member_id)
    check = await ended_check(eligibility, coverage_id)
    assert check["status"] == ("verified" if member_overrides.get("status", "active") == "active" else "rejected")
    return customer_id, coverage_id


async def test_an_estimate_applies_the_rest_of_the_deductible_then_coinsurance(eligibility: RunningEligibility) -> None:
    customer_id, coverage_id = await verified_customer(eligibility)

    answer = await eligibility.api.post(
        "/v1/estimates", json={"customer_id": customer_id, "service_date": "2026-12-03", "services": SERVICES, **HOUSEHOLD}
    )

    assert answer.status_code == 201, answer.text
    estimate = answer.json()
    visit, x_rays = estimate["lines"]
    # visit: 200.00, all of it deductible (650.00 -> 450.00 left)
    assert (visit["deductible_applied"], visit["customer_portion"], visit["payer_portion"]) == (20000, 20000, 0)
    # x-rays: 2 x 300.00 = 600.00; the last 450.00 of deductible, then 20% of 150.00 = 30.00
    assert (x_rays["total"], x_rays["deductible_applied"], x_rays["coinsurance_applied"]) == (60000, 45000, 3000)
    assert (x_rays["customer_portion"], x_rays["payer_portion"]) == (48000, 12000)
    assert (estimate["total"], estimate["customer_portion"], estimate["payer_portion"]) == (80000, 68000, 12000)
    assert estimate["basis"] == {
        "coverage_id": coverage_id, "payer_id": estimate["basis"]["payer_id"], "check_id": estimate["basis"]["check_id"],
        "determination_id": None, "self_pay": False, "coverage_status": "verified",
    }
    assert estimate["flag_threshold"] == 40000
    kinds = {advice["kind"]: advice for advice in estimate["advice"]}
    # a household of 3 on 40,000.00 a year is at 150% of the 26,650.00 guideline: 60% off would save 408.00
    assert kinds["program"]["program_id"] == "sliding-fee-standard"
    assert kinds["program"]["saving"] == 40800
    # 680.00 is above the 500.00 plan threshold: at most 12 instalments of at least 50.00
    assert len(kinds["payment_plan"]["instalments"]) == 12
    assert sum(kinds["payment_plan"]["instalments"]) == 68000

    stored = await eligibility.api.get(f"/v1/estimates/{estimate['estimate_id']}")
    assert stored.json() == estimate
    listed = (await eligibility.api.get(f"/v1/customers/{customer_id}/estimates")).json()["estimates"]
    assert [e["estimate_id"] for e in listed] == [estimate["estimate_id"]]


async def test_a_program_determination_lowers_the_next_estimate(eligibility: RunningEligibility) -> None:
    customer_id, _ = await verified_customer(eligibility)

    determined = await eligibility.api.post(
        f"/v1/customers/{customer_id}/program-determinations", json={"program_id": "sliding-fee-standard", **HOUSEHOLD}
    )

    assert determined.status_code == 201, determined.text
    determination = determined.json()["determination"]
    # 40,000.00 / 26,650.00 = 150.09% of the guideline: the "up to 166%" tier, 60% off
    assert (determination["percent_of_poverty_bp"], determination["eligible"]) == (15009, True)
    assert (determination["tier_index"], determination["discount_bp"]) == (2, 6000)
    assert determined.json()["valid_until"] == "2027-11-27"

    estimate = (await eligibility.api.post(
        "/v1/estimates", json={"customer_id": customer_id, "service_date": "2026-12-03", "services": SERVICES}
    )).json()

    # before the program: 200.00 + 480.00; 60% off each: 80.00 + 192.00 = 272.00, 408.00 off
    assert [line["customer_portion"] for line in estimate["lines"]] == [8000, 19200]
    assert (estimate["program_discount"], estimate["customer_portion"]) == (40800, 27200)
    assert estimate["basis"]["determination_id"] == determined.json()["determination_id"]
    assert estimate["advice"] == []  # already in the program, and 272.00 is below the plan threshold


async def test_without_a_verified_coverage_the_estimate_is_self_pay_and_says_why(eligibility: RunningEligibility) -> None:
    customer_id, _ = await verified_customer(eligibility, status="inactive", coverage_to="2025-12-31")
    uninsured = unique("cus_")
    await eligibility.publish_registration_event("CustomerRegistered", uninsured, customer_registered(uninsured))

    rejected = (await eligibility.api.post(
        "/v1/estimates", json={"customer_id": customer_id, "service_date": "2026-12-03", "services": SERVICES}
    )).json()
    none = (await eligibility.api.post(
        "/v1/estimates", json={"customer_id": uninsured, "service_date": "2026-12-03", "services": SERVICES}
    )).json()

    assert (rejected["basis"]["self_pay"], rejected["basis"]["coverage_status"]) == (True, "rejected")
    assert (none["basis"]["self_pay"], none["basis"]["coverage_status"]) == (True, "no_coverage")
    for estimate in (rejected, none):
        assert (estimate["customer_portion"], estimate["payer_portion"]) == (80000, 0)


async def test_bad_estimate_and_determination_requests_name_the_field(eligibility: RunningEligibility) -> None:
    negative = await eligibility.api.post("/v1/estimates", json={
        "customer_id": "cus_x", "service_date": "2026-12-03",
        "services": [{"code": "99214", "quantity": 1, "unit_price": -1}],
    })
    assert negative.status_code == 422
    assert negative.headers["content-type"].startswith("application/problem+json")
    assert negative.json()["errors"][0]["field"] == "services[0].unit_price"

    half = await eligibility.api.post("/v1/estimates", json={
        "customer_id": "cus_x", "service_date": "2026-12-03", "services": SERVICES, "household_size": 3,
    })
    assert half.status_code == 422

    unknown = await eligibility.api.post(
        "/v1/customers/cus_x/program-determinations", json={"program_id": "no-such-program", **HOUSEHOLD}
    )
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "program_id"

    euros = await eligibility.api.post("/v1/customers/cus_x/program-determinations", json={
        "program_id": "sliding-fee-standard", "household_size": 3, "annual_income": {"amount": 100, "currency": "EUR"},
    })
    assert euros.status_code == 422 and euros.json()["errors"][0]["field"] == "annual_income"

    programs = (await eligibility.api.get("/v1/programs")).json()
    assert [p["program_id"] for p in programs["programs"]] == ["sliding-fee-standard"]
