"""An operator rebuilds eligibility's read models from the log and gets what the live service
built, without asking any payer again."""

from __future__ import annotations

from typing import Any

import pytest

from services.eligibility.rebuild import MODELS, rebuild
from tests.integration.eligibility.conftest import (
    RunningEligibility,
    coverage_for,
    ended_check,
    member,
    unique,
)

pytestmark = pytest.mark.integration

SNAPSHOTS = {
    "payers": "SELECT payer_id, name, kind, profile, retired, version FROM payers ORDER BY payer_id",
    "checks": """SELECT check_id, customer_id, coverage_id, payer_id, status, trigger, service_date, service_types,
                        subscriber, patient, requested_at, completed_at, verified_on, valid_until, outcome
                 FROM checks ORDER BY check_id""",
    "program-determinations": "SELECT * FROM program_determinations ORDER BY determination_id",
    "estimates": "SELECT * FROM estimates ORDER BY estimate_id",
    "registration-feed": """SELECT 'customer', customer_id, to_jsonb(c) FROM customers c WHERE customer_id = ANY($1)
                            UNION ALL
                            SELECT 'coverage', coverage_id, to_jsonb(v) - 'updated_at' FROM coverages v
                            WHERE customer_id = ANY($1) ORDER BY 1, 2""",
}


async def snapshot(eligibility: RunningEligibility, model: str, customers: list[str]) -> list[Any]:
    query = SNAPSHOTS[model]
    arguments = [customers] if "$1" in query else []
    return [tuple(row) for row in await eligibility.pool.fetch(query, *arguments)]


async def test_every_read_model_rebuilt_from_the_log_equals_the_live_one(eligibility: RunningEligibility) -> None:
    customers, members = [], []
    for outcome in ("active", "inactive"):
        member_id = unique("RB")
        members.append(member_id)
        await eligibility.put_member(member(member_id, status=outcome))
        customer_id, coverage_id = await coverage_for(eligibility, member_id)
        await ended_check(eligibility, coverage_id)
        customers.append(customer_id)
    determined = await eligibility.api.post(f"/v1/customers/{customers[0]}/program-determinations", json={
        "program_id": "sliding-fee-standard", "household_size": 2, "annual_income": {"amount": 2500000, "currency": "USD"},
    })
    assert determined.status_code == 201
    estimated = await eligibility.api.post("/v1/estimates", json={
        "customer_id": customers[0], "service_date": "2026-12-01",
        "services": [{"code": "99213", "unit_price": 15000}],
    })
    assert estimated.status_code == 201
    inquiries_before = {m: await eligibility.inquiries_for(m) for m in members}

    for model in MODELS:
        live = await snapshot(eligibility, model, customers)
        assert live, f"{model} has rows to compare"
        await rebuild(model, eligibility.app.state.settings)
        assert await snapshot(eligibility, model, customers) == live, model

    assert {m: await eligibility.inquiries_for(m) for m in members} == inquiries_before == {m: 1 for m in members}
    assert await eligibility.pool.fetchval("SELECT count(*) FROM checks WHERE status = 'pending'") == 0
