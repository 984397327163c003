"""270s over real HTTP to the clearinghouse simulator served by uvicorn, through HttpClearinghouse,
and the 271s read back: each way a payer answers, and each way it fails to."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from services.eligibility.adapters.clearinghouse import (
    HttpClearinghouse,
    PayerRefused,
    PayerUnreachable,
)
from services.eligibility.adapters.x12_270 import build_270
from services.eligibility.adapters.x12_271 import Malformed271, parse_271
from services.eligibility.domain.cost_share import cost_share
from services.eligibility.domain.coverage import (
    EligibilityInquiry,
    Member,
    Party,
    RejectionSource,
    ResponseStatus,
)
from simulators.clearinghouse.background import running_clearinghouse

pytestmark = pytest.mark.integration

CREATED_AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
TIMEOUT_SECONDS = 0.3


def member(member_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "given": "Ada",
        "family": "Lovelace",
        "dob": "1985-12-10",
        "group": "GRP-77",
        "plan_name": "Gold PPO",
        "coverage_from": "2026-01-01",
        "benefits": [
            {
                "info_code": "C",
                "service_types": ["30"],
                "time_period": "23",
                "amount": "1500.00",
                "in_network": True,
            },
            {
                "info_code": "C",
                "service_types": ["30"],
                "time_period": "29",
                "amount": "650.00",
                "in_network": True,
            },
            {"info_code": "A", "service_types": ["30"], "percent": "0.2", "in_network": True},
            {
                "info_code": "B",
                "service_types": ["98"],
                "time_period": "27",
                "amount": "25.00",
                "in_network": True,
            },
        ],
        **overrides,
    }


MEMBERS = {
    record["member_id"]: record
    for record in (
        member("ACTIVE0001"),
        member("INACTIVE01", status="inactive", coverage_to="2025-12-31"),
        member("SLOW000001", behaviour="delay", delay_seconds=TIMEOUT_SECONDS * 3),
        member("DOWN000001", behaviour="unavailable"),
        member("BROKEN0001", behaviour="malformed"),
        member(
            "FAMILY0001", dependents=[{"given": "Byron", "family": "Lovelace", "dob": "2015-03-01"}]
        ),
    )
}


def inquiry(member_id: str, dependent: Member | None = None) -> str:
    return build_270(
        EligibilityInquiry(
            trace_number=f"trace-{member_id}",
            control_number=4711,
            sender_id="BILLINGPLATFORM",
            receiver_id="CLEARINGHOUSE",
            payer=Party(name="ACME HEALTH", identifier="60054", identifier_qualifier="PI"),
            provider=Party(name="EXAMPLE COMMUNITY CLINIC", identifier="1234567893"),
            subscriber=Member(member_id=member_id, family_name="LOVELACE", given_name="ADA"),
            dependent=dependent,
            service_date=date(2026, 11, 30),
            service_types=["30", "98"],
        ),
        created_at=CREATED_AT,
    )


@pytest.fixture(scope="module")
async def simulator_url() -> AsyncIterator[str]:
    async with running_clearinghouse(MEMBERS) as base_url:
        yield base_url


@pytest.fixture
async def clearinghouse() -> AsyncIterator[HttpClearinghouse]:
    client = HttpClearinghouse()
    try:
        yield client
    finally:
        await client.aclose()


async def inquiries_for(simulator_url: str, member_id: str) -> int:
    async with httpx.AsyncClient(base_url=simulator_url) as client:
        return int((await client.get("/stats")).json().get(member_id, 0))


async def test_an_active_member_round_trips_with_benefits(
    simulator_url: str, clearinghouse: HttpClearinghouse
) -> None:
    document = await clearinghouse.exchange(
        f"{simulator_url}/x12/270", inquiry("ACTIVE0001"), timeout=5
    )

    response = parse_271(document)

    assert response.status is ResponseStatus.ACTIVE
    assert (response.trace_number, response.plan_name, response.coverage_from) == (
        "trace-ACTIVE0001",
        "Gold PPO",
        date(2026, 1, 1),
    )
    share = cost_share(response.benefits, "98")
    assert share is not None
    assert (share.copay, share.coinsurance_bp, share.deductible, share.deductible_remaining) == (
        2500,
        2000,
        150000,
        65000,
    )


async def test_a_dependent_round_trips_with_the_subscribers_benefits(
    simulator_url: str, clearinghouse: HttpClearinghouse
) -> None:
    byron = Member(
        member_id="FAMILY0001",
        family_name="LOVELACE",
        given_name="BYRON",
        date_of_birth=date(2015, 3, 1),
    )

    response = parse_271(
        await clearinghouse.exchange(
            f"{simulator_url}/x12/270", inquiry("FAMILY0001", dependent=byron), timeout=5
        )
    )

    assert response.status is ResponseStatus.ACTIVE
    assert response.subscriber is not None and response.subscriber.given_name == "Ada"
    assert (response.trace_number, response.plan_name) == ("trace-FAMILY0001", "Gold PPO")
    share = cost_share(response.benefits, "98")
    assert share is not None and (share.copay, share.deductible_remaining) == (2500, 65000)


async def test_an_inactive_member_round_trips_inactive(
    simulator_url: str, clearinghouse: HttpClearinghouse
) -> None:
    response = parse_271(
        await clearinghouse.exchange(f"{simulator_url}/x12/270", inquiry("INACTIVE01"), timeout=5)
    )

    assert response.status is ResponseStatus.INACTIVE
    assert response.rejections[0].source is RejectionSource.INACTIVE
    assert response.coverage_to == date(2025, 12, 31)


async def test_an_unknown_member_round_trips_as_aaa_75(
    simulator_url: str, clearinghouse: HttpClearinghouse
) -> None:
    response = parse_271(
        await clearinghouse.exchange(f"{simulator_url}/x12/270", inquiry("NOBODY0001"), timeout=5)
    )

    assert response.status is ResponseStatus.REJECTED
    assert [(r.code, r.loop) for r in response.rejections] == [("75", "2100C")]


async def test_a_payer_slower_than_the_timeout_is_unreachable(
    simulator_url: str, clearinghouse: HttpClearinghouse
) -> None:
    with pytest.raises(PayerUnreachable, match=f"no answer within {TIMEOUT_SECONDS}s"):
        await clearinghouse.exchange(
            f"{simulator_url}/x12/270", inquiry("SLOW000001"), timeout=TIMEOUT_SECONDS
        )

    assert await inquiries_for(simulator_url, "SLOW000001") == 1


async def test_a_payer_answering_503_is_unreachable(
    simulator_url: str, clearinghouse: HttpClearinghouse
) -> None:
    with pytest.raises(PayerUnreachable, match="HTTP 503 payer system unavailable"):
        await clearinghouse.exchange(f"{simulator_url}/x12/270", inquiry("DOWN000001"), timeout=5)


async def test_a_broken_271_is_refused_by_the_reader(
    simulator_url: str, clearinghouse: HttpClearinghouse
) -> None:
    document = await clearinghouse.exchange(
        f"{simulator_url}/x12/270", inquiry("BROKEN0001"), timeout=5
    )

    with pytest.raises(Malformed271, match="SE01 says"):
        parse_271(document)


async def test_a_270_the_clearinghouse_rejects_is_refused_not_retried(
    simulator_url: str,
    clearinghouse: HttpClearinghouse,
) -> None:
    with pytest.raises(PayerRefused, match="HTTP 400 999 rejected"):
        await clearinghouse.exchange(f"{simulator_url}/x12/270", "not a 270", timeout=5)


async def test_nothing_listening_is_unreachable(clearinghouse: HttpClearinghouse) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound but not listening: connections are refused

        with pytest.raises(PayerUnreachable, match="cannot connect"):
            await clearinghouse.exchange(
                f"http://127.0.0.1:{port}/x12/270", inquiry("ACTIVE0001"), timeout=5
            )
