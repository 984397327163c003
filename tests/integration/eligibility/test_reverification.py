"""Verifications are renewed before they go stale, so invoicing finds a current one when it bills.
This module moves its app's clock, so it has an app of its own."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from tests.integration.eligibility.conftest import (
    NOW,
    RunningEligibility,
    coverage_for,
    ended_check,
    member,
    unique,
)
from tests.polling import eventually

pytestmark = pytest.mark.integration


async def reverify(eligibility: RunningEligibility, **body: Any) -> list[str]:
    answer = await eligibility.api.post("/v1/operations/reverification", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["check_ids"]


async def test_a_coverage_is_asked_about_again_before_its_verification_goes_stale(
    eligibility: RunningEligibility,
) -> None:
    member_id = unique("STALE")
    await eligibility.put_member(member(member_id))
    _, coverage_id = await coverage_for(eligibility, member_id)
    first = await ended_check(eligibility, coverage_id)
    assert first["valid_until"] == "2026-12-27"

    assert await reverify(eligibility) == []  # a month before it goes stale, nothing to do

    eligibility.clock.set(datetime(2026, 12, 25, 8, 0, tzinfo=timezone.utc))  # three days before
    try:
        [check_id] = await reverify(eligibility)

        async def renewed() -> dict[str, Any] | None:
            body = (await eligibility.api.get(f"/v1/checks/{check_id}")).json()
            return body if body["status"] == "verified" else None

        check = await eventually(renewed, timeout=30)
        assert (check["coverage_id"], check["trigger"], check["service_date"]) == (coverage_id, "stale", "2026-12-25")
        assert check["valid_until"] == "2027-01-24"
        assert await reverify(eligibility) == []  # renewed: nothing left going stale
        standing = (await eligibility.api.get(
            f"/v1/coverages/{coverage_id}/verification", params={"as_of": "2026-12-30"})).json()
        assert standing["status"] == "verified"  # the old verification would be stale by then
    finally:
        eligibility.clock.set(NOW)


async def test_an_ended_coverage_is_not_asked_about_again(eligibility: RunningEligibility) -> None:
    member_id = unique("ENDED")
    await eligibility.put_member(member(member_id))
    customer_id, coverage_id = await coverage_for(eligibility, member_id)
    await ended_check(eligibility, coverage_id)
    await eligibility.publish_registration_event("CoverageEnded", customer_id, {
        "customer_id": customer_id, "coverage_id": coverage_id, "ended_on": "2026-12-15", "reason": "moved",
        "ended_at": NOW.isoformat(),
    })

    async def ended() -> bool:
        return await eligibility.pool.fetchval(
            "SELECT ended_on IS NOT NULL FROM coverages WHERE coverage_id = $1", coverage_id)

    await eventually(ended, timeout=20)

    assert coverage_id not in await check_coverages(eligibility, await reverify(eligibility, as_of="2026-12-25"))


async def check_coverages(eligibility: RunningEligibility, check_ids: list[str]) -> list[str]:
    return [(await eligibility.api.get(f"/v1/checks/{c}")).json()["coverage_id"] for c in check_ids]
