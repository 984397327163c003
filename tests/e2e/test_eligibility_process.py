"""Registration, eligibility and the payer simulator run as real processes, as `make run` runs
them: a coverage added in registration ends up verified in eligibility with only Kafka between the
two services, and what eligibility publishes is readable with Kafka's own console consumer."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from tests.e2e.conftest import TOKEN, ServiceProcess, console_consumer
from tests.polling import eventually

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOPIC = "eligibility.events"


def a_customer(family: str) -> dict[str, Any]:
    return {
        "kind": "person",
        "person_name": {"given": "Grace", "family": family},
        "date_of_birth": "1976-12-09",
        "contact": {
            "emails": [{"address": f"{family.lower()}@example.com"}],
            "preferred_channel": "email",
            "consents": {"email": True},
            "time_zone": "America/New_York",
        },
    }


async def verified_check(eligibility: httpx.AsyncClient, coverage_id: str) -> dict[str, Any]:
    async def verified() -> dict[str, Any] | None:
        checks = (await eligibility.get("/v1/checks", params={"coverage_id": coverage_id})).json()["checks"]
        return next((c for c in checks if c["status"] == "verified"), None)

    return await eventually(verified, timeout=60, message=f"coverage {coverage_id} verified in eligibility")


async def verified_record(bootstrap: str, customer_id: str) -> Any:
    """The EligibilityVerified of ``customer_id`` as a plain Kafka consumer reads it: no platform
    code, just the topic, the key and the CloudEvents headers."""
    reader = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await reader.start()
    try:
        seen: list[Any] = []

        async def found() -> Any:
            for records in (await reader.getmany(timeout_ms=500)).values():
                seen.extend(r for r in records if r.key == customer_id.encode())
            return next(
                (r for r in seen if dict(r.headers).get("ce_type") == b"billing.eligibility.EligibilityVerified"), None
            )

        return await eventually(found, timeout=60, message="EligibilityVerified on eligibility.events")
    finally:
        await reader.stop()


async def register_covered_customer(
    registration: httpx.AsyncClient, payer_id: str, member_id: str, family: str = "Hopper"
) -> tuple[str, str]:
    """What the front desk does in registration: a customer and their insurance."""
    customer = await registration.post("/v1/customers", json=a_customer(family))
    assert customer.status_code == 201, customer.text
    customer_id = customer.json()["customer_id"]
    coverage = await registration.post(f"/v1/customers/{customer_id}/coverages", json={"terms": {
        "payer_id": payer_id, "payer_kind": "insurer", "member_id": member_id, "priority": "primary",
        "subscriber": {"relationship": "self"}, "effective_from": "2026-01-01",
    }})
    assert coverage.status_code == 201, coverage.text
    return customer_id, coverage.json()["coverage_id"]


async def test_a_check_in_flight_when_eligibility_is_killed_is_asked_again_after_restart(
    registration_process: ServiceProcess, eligibility_process: ServiceProcess,
    clearinghouse_process: ServiceProcess,
) -> None:
    clearinghouse_process.start()
    eligibility_process.start(ELIGIBILITY_VERIFIER_LEASE_SECONDS="3")
    registration_process.start()
    member_id, payer_id = f"KILL{uuid.uuid4().hex[:8]}", f"acme-{uuid.uuid4().hex[:8]}"
    async with (
        httpx.AsyncClient(base_url=clearinghouse_process.url) as clearinghouse,
        httpx.AsyncClient(base_url=eligibility_process.url, headers=AUTH) as eligibility,
        httpx.AsyncClient(base_url=registration_process.url, headers=AUTH) as registration,
    ):
        # the payer answers slowly, so the first inquiry is still in flight when the process dies
        (await clearinghouse.put(f"/members/{member_id}", json={
            "member_id": member_id, "given": "Grace", "family": "Hopper", "plan_name": "Silver HMO",
            "status": "active", "coverage_from": "2026-01-01", "behaviour": "delay", "delay_seconds": 2,
        })).raise_for_status()
        assert (await eligibility.post("/v1/payers", json={
            "payer_id": payer_id, "name": "Acme Health", "kind": "insurer",
            "connection": {"method": "x12", "endpoint": f"{clearinghouse_process.url}/x12/270",
                           "payer_identifier": "60054", "receiver_id": "CLEARINGHOUSE", "timeout_seconds": 10},
            "code_system": "HCPCS", "billing_contact": {"name": "Acme Claims"},
        })).status_code == 201
        _, coverage_id = await register_covered_customer(registration, payer_id, member_id)

        async def in_flight() -> bool:
            return (await clearinghouse.get("/stats")).json().get(member_id, 0) == 1

        await eventually(in_flight, timeout=60, message="the first inquiry reached the payer")
        eligibility_process.kill()
        eligibility_process.start(ELIGIBILITY_VERIFIER_LEASE_SECONDS="3")

        check = await verified_check(eligibility, coverage_id)
        exchanges = (await eligibility.get(f"/v1/checks/{check['check_id']}/exchanges")).json()["exchanges"]
        assert check["attempts"] == 2
        assert [e["response"] is not None for e in exchanges] == [False, True]  # the lost answer, then the kept one
        assert (await clearinghouse.get("/stats")).json()[member_id] == 2
        checks = (await eligibility.get("/v1/checks", params={"coverage_id": coverage_id})).json()["checks"]
        assert len(checks) == 1  # asked again, not requested twice


async def test_a_coverage_added_in_registration_is_verified_in_eligibility_through_kafka_alone(
    registration_process: ServiceProcess, eligibility_process: ServiceProcess,
    clearinghouse_process: ServiceProcess, kafka_bootstrap: str,
) -> None:
    clearinghouse_process.start()
    eligibility_process.start()
    registration_process.start()
    member_id, payer_id, family = f"E2E{uuid.uuid4().hex[:8]}", f"acme-{uuid.uuid4().hex[:8]}", f"Hopper{uuid.uuid4().hex[:6]}"
    async with (
        httpx.AsyncClient(base_url=clearinghouse_process.url) as clearinghouse,
        httpx.AsyncClient(base_url=eligibility_process.url, headers=AUTH) as eligibility,
        httpx.AsyncClient(base_url=registration_process.url, headers=AUTH) as registration,
    ):
        # the payer knows the member; eligibility knows how to reach the payer
        (await clearinghouse.put(f"/members/{member_id}", json={
            "member_id": member_id, "given": "Grace", "family": family, "dob": "1976-12-09", "plan_name": "Silver HMO",
            "status": "active", "coverage_from": "2026-01-01",
            "benefits": [
                {"info_code": "C", "service_types": ["30"], "time_period": "23", "amount": "2000.00", "in_network": True},
                {"info_code": "C", "service_types": ["30"], "time_period": "29", "amount": "1200.00", "in_network": True},
                {"info_code": "A", "service_types": ["30"], "percent": "0.3", "in_network": True},
            ],
        })).raise_for_status()
        payer = await eligibility.post("/v1/payers", json={
            "payer_id": payer_id, "name": "Acme Health", "kind": "insurer",
            "connection": {"method": "x12", "endpoint": f"{clearinghouse_process.url}/x12/270",
                           "payer_identifier": "60054", "receiver_id": "CLEARINGHOUSE"},
            "code_system": "HCPCS", "billing_contact": {"name": "Acme Claims"},
        })
        assert payer.status_code == 201, payer.text

        # the front desk registers the customer and their insurance in registration only
        customer_id, coverage_id = await register_covered_customer(registration, payer_id, member_id, family)

        check = await verified_check(eligibility, coverage_id)
        assert check["customer_id"] == customer_id and check["trigger"] == "coverage_added"
        [share] = check["outcome"]["cost_shares"]
        assert (share["deductible_remaining"], share["coinsurance_bp"]) == (120000, 3000)
        [exchange] = (await eligibility.get(f"/v1/checks/{check['check_id']}/exchanges")).json()["exchanges"]
        # the name came from registration's CustomerRegistered, through Kafka
        assert f"NM1*IL*1*{family}*Grace****MI*{member_id}" in exchange["request"]

    record = await verified_record(kafka_bootstrap, customer_id)
    headers, key, value = await asyncio.to_thread(
        console_consumer, kafka_bootstrap, TOPIC, record.partition, record.offset
    )
    assert "ce_type:billing.eligibility.EligibilityVerified" in headers
    assert "ce_source:/billing/eligibility" in headers
    assert "ce_dataschema:urn:billing:contracts:billing.eligibility.EligibilityVerified:v1" in headers
    assert key == customer_id
    data = json.loads(value)
    assert (data["coverage_id"], data["check_id"], data["plan_name"]) == (coverage_id, check["check_id"], "Silver HMO")
