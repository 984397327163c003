"""Insurance verification as it runs in production, in-process against the real PostgreSQL and
Kafka: registration's coverage events arrive on Kafka, the verifier sends X12 270s over HTTP to the
payer simulator, and the 271s end each check as an event. Every way a payer answers or fails."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from services.eligibility.domain.events import (
    EligibilityCheckFailed,
    EligibilityCheckRequested,
    EligibilityRejected,
    EligibilityVerified,
)
from shared.eventstore import PostgresEventStore
from tests.integration.eligibility.conftest import (
    MAX_ATTEMPTS,
    PAYER_TIMEOUT_SECONDS,
    RunningEligibility,
    a_payer,
    coverage_added,
    coverage_for,
    ended_check,
    member,
    registered_payer,
    unique,
)
from tests.polling import eventually

pytestmark = pytest.mark.integration


async def stream_types(eligibility: RunningEligibility, coverage_id: str) -> list[str]:
    store = PostgresEventStore(eligibility.pool, source="/billing/eligibility")
    return [r.envelope.type for r in await store.read_stream(f"coverage-{coverage_id}")]


async def test_an_active_member_is_verified_with_the_coverage_facts(eligibility: RunningEligibility) -> None:
    member_id = unique("ACT")
    await eligibility.put_member(member(member_id))
    customer_id, coverage_id = await coverage_for(eligibility, member_id)

    check = await ended_check(eligibility, coverage_id)

    assert check["status"] == "verified", check
    assert check["trigger"] == "coverage_added"
    assert (check["customer_id"], check["service_date"]) == (customer_id, "2026-11-27")
    outcome = check["outcome"]
    assert outcome["plan_name"] == "Gold PPO"
    assert (outcome["coverage_from"], outcome["coverage_to"]) == ("2026-01-01", "2026-12-31")
    assert (outcome["verified_on"], outcome["valid_until"]) == ("2026-11-27", "2026-12-27")
    shares = {share["service_type"]: share for share in outcome["cost_shares"]}
    assert shares["30"]["deductible"] == 150000
    assert shares["30"]["deductible_remaining"] == 65000
    assert shares["30"]["coinsurance_bp"] == 2000
    assert shares["30"]["out_of_pocket_remaining"] == 420000
    assert shares["98"]["copay"] == 2500
    assert len(outcome["benefits"]) >= 6  # every EB loop, as sent
    assert await stream_types(eligibility, coverage_id) == [
        EligibilityCheckRequested.event_type, EligibilityVerified.event_type,
    ]
    exchanges = (await eligibility.api.get(f"/v1/checks/{check['check_id']}/exchanges")).json()["exchanges"]
    [exchange] = exchanges
    assert exchange["request"].startswith("ISA*") and "ST*270*" in exchange["request"]
    assert f"NM1*IL*1*Lovelace*Ada****MI*{member_id}" in exchange["request"]
    assert "ST*271*" in exchange["response"]  # the raw 271, kept for audit
    standing = (await eligibility.api.get(f"/v1/coverages/{coverage_id}/verification")).json()
    assert standing["verified"] is True
    stale = (await eligibility.api.get(
        f"/v1/coverages/{coverage_id}/verification", params={"as_of": "2026-12-28"})).json()
    assert (stale["verified"], stale["status"]) == (False, "stale")


async def test_an_inactive_member_is_rejected_with_the_reason(eligibility: RunningEligibility) -> None:
    member_id = unique("INA")
    await eligibility.put_member(member(member_id, status="inactive", coverage_to="2025-12-31"))
    _, coverage_id = await coverage_for(eligibility, member_id)

    check = await ended_check(eligibility, coverage_id)

    assert check["status"] == "rejected", check
    [reason] = check["outcome"]["reasons"]
    assert (reason["source"], reason["code"]) == ("inactive", "inactive")
    assert await stream_types(eligibility, coverage_id) == [
        EligibilityCheckRequested.event_type, EligibilityRejected.event_type,
    ]


async def test_a_member_the_payer_does_not_know_is_rejected_with_its_aaa_reason(eligibility: RunningEligibility) -> None:
    _, coverage_id = await coverage_for(eligibility, unique("NOBODY"))  # never put in the simulator

    check = await ended_check(eligibility, coverage_id)

    assert check["status"] == "rejected", check
    [reason] = check["outcome"]["reasons"]
    assert (reason["source"], reason["code"], reason["follow_up_action"]) == ("aaa", "75", "C")
    assert "subscriber" in reason["description"].lower()


async def test_a_payer_that_times_out_is_retried_then_the_check_fails_and_an_operator_retries_it(
    eligibility: RunningEligibility,
) -> None:
    member_id = unique("SLOW")
    await eligibility.put_member(member(member_id, behaviour="delay", delay_seconds=PAYER_TIMEOUT_SECONDS * 4))
    _, coverage_id = await coverage_for(eligibility, member_id)

    check = await ended_check(eligibility, coverage_id)

    assert check["status"] == "failed", check
    assert check["attempts"] == MAX_ATTEMPTS
    assert check["outcome"]["retryable"] is True
    assert f"after {MAX_ATTEMPTS} attempts" in check["outcome"]["reason"]
    assert await eligibility.inquiries_for(member_id) == MAX_ATTEMPTS
    exchanges = (await eligibility.api.get(f"/v1/checks/{check['check_id']}/exchanges")).json()["exchanges"]
    assert [e["attempt"] for e in exchanges] == list(range(1, MAX_ATTEMPTS + 1))
    assert all(e["response"] is None and e["error"] for e in exchanges)

    # The payer recovers; the request was not lost, and an operator sends it again.
    await eligibility.put_member(member(member_id))
    retried = await eligibility.api.post(f"/v1/checks/{check['check_id']}/retry")
    assert retried.status_code == 202, retried.text

    async def verified() -> bool:
        body = (await eligibility.api.get(f"/v1/checks/{check['check_id']}")).json()
        return body["status"] == "verified"

    await eventually(verified, timeout=30, message="the retried check verified")
    assert await stream_types(eligibility, coverage_id) == [
        EligibilityCheckRequested.event_type, EligibilityCheckFailed.event_type,
        "billing.eligibility.EligibilityCheckRetried", EligibilityVerified.event_type,
    ]


async def test_an_unavailable_clearinghouse_is_retried_like_a_timeout(eligibility: RunningEligibility) -> None:
    member_id = unique("DOWN")
    await eligibility.put_member(member(member_id, behaviour="unavailable"))
    _, coverage_id = await coverage_for(eligibility, member_id)

    check = await ended_check(eligibility, coverage_id)

    assert (check["status"], check["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert "503" in check["outcome"]["reason"]


async def test_a_malformed_271_fails_the_check_clearly_and_keeps_what_came(eligibility: RunningEligibility) -> None:
    member_id = unique("BAD")
    await eligibility.put_member(member(member_id, behaviour="malformed"))
    _, coverage_id = await coverage_for(eligibility, member_id)

    check = await ended_check(eligibility, coverage_id)

    assert check["status"] == "failed", check
    assert check["attempts"] == 1  # asking again would get the same answer
    reason = check["outcome"]["reason"]
    assert reason.startswith("the payer's answer is not a valid 271:")
    assert "SE" in reason
    [exchange] = (await eligibility.api.get(f"/v1/checks/{check['check_id']}/exchanges")).json()["exchanges"]
    assert exchange["exchange_id"] == check["outcome"]["exchange_id"]
    assert "ST*271*" in exchange["response"]  # nothing lost: the raw answer is kept
    assert check["outcome"]["retryable"] is True


async def test_a_coverage_of_a_payer_missing_from_the_directory_fails_with_the_reason(
    eligibility: RunningEligibility,
) -> None:
    _, coverage_id = await coverage_for(eligibility, unique("ORPHAN"), payer_id=unique("nowhere-"))

    check = await ended_check(eligibility, coverage_id)

    assert check["status"] == "failed"
    assert "is not in the directory" in check["outcome"]["reason"]


async def test_a_check_on_demand_over_http(eligibility: RunningEligibility) -> None:
    member_id = unique("DEM")
    await eligibility.put_member(member(member_id))
    _, coverage_id = await coverage_for(eligibility, member_id)
    await ended_check(eligibility, coverage_id)

    asked = await eligibility.api.post(
        f"/v1/coverages/{coverage_id}/checks", json={"service_date": "2026-12-15", "service_types": ["UC"]}
    )

    assert asked.status_code == 202, asked.text
    check_id = asked.json()["check_id"]
    assert asked.json()["trigger"] == "on_demand"

    async def verified() -> dict[str, Any] | None:
        body = (await eligibility.api.get(f"/v1/checks/{check_id}")).json()
        return body if body["status"] == "verified" else None

    body = await eventually(verified, timeout=30)
    assert body["service_date"] == "2026-12-15"
    unknown = await eligibility.api.post("/v1/coverages/cov_never_registered/checks", json={})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")


async def test_a_registration_event_that_breaks_its_contract_is_dead_lettered_and_the_feed_goes_on(
    eligibility: RunningEligibility, kafka_bootstrap: str,
) -> None:
    customer_id = unique("cus_")
    await eligibility.publish_registration_event(
        "CoverageAdded", customer_id, {"customer_id": customer_id, "coverage_id": "cov_x", "terms": {"payer_id": 7}}
    )
    member_id = unique("AFTER")
    await eligibility.put_member(member(member_id))
    _, coverage_id = await coverage_for(eligibility, member_id)

    assert (await ended_check(eligibility, coverage_id))["status"] == "verified"
    dead = await dead_letters(kafka_bootstrap, customer_id)
    assert dead, "the broken event reached the dead-letter topic"
    headers = dict(dead[0])
    assert b"ValidationError" in headers["dlq_reason"]
    assert headers["dlq_original_topic"] == b"registration.events"


async def dead_letters(bootstrap: str, customer_id: str) -> list[list[tuple[str, bytes]]]:
    reader = AIOKafkaConsumer(
        "eligibility.registration-feed.dlq", bootstrap_servers=bootstrap, group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await reader.start()
    try:
        found: list[list[tuple[str, bytes]]] = []

        async def scan() -> bool:
            batches = await reader.getmany(timeout_ms=500)
            for records in batches.values():
                found.extend(list(r.headers) for r in records if r.key == customer_id.encode())
            return bool(found)

        await eventually(scan, timeout=20, message="dead letter found")
        return found
    finally:
        await reader.stop()


async def test_payer_directory_over_http(eligibility: RunningEligibility) -> None:
    payer = a_payer(eligibility.clearinghouse_url)
    created = await eligibility.api.post("/v1/payers", json=payer)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    again = await eligibility.api.post("/v1/payers", json=payer)
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "payer_id"

    profile = {k: v for k, v in payer.items() if k != "payer_id"}
    program = {**profile, "kind": "government_program", "connection": {"method": "rules", "program_id": "sliding-fee-standard"}}
    stale = await eligibility.api.put(f"/v1/payers/{payer['payer_id']}", json=program, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    changed = await eligibility.api.put(f"/v1/payers/{payer['payer_id']}", json=program, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["profile"]["connection"] == {"method": "rules", "program_id": "sliding-fee-standard"}

    listed = (await eligibility.api.get("/v1/payers", params={"kind": "government_program"})).json()["payers"]
    assert payer["payer_id"] in [p["payer_id"] for p in listed]
    retired = await eligibility.api.post(f"/v1/payers/{payer['payer_id']}/retirement", json={"reason": "contract ended"})
    assert retired.json()["retired"] is True
    listed = (await eligibility.api.get("/v1/payers")).json()["payers"]
    assert payer["payer_id"] not in [p["payer_id"] for p in listed]

    bad = await eligibility.api.post("/v1/payers", json={**payer, "payer_id": unique("p-"), "connection": {"method": "fax"}})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"].startswith("connection") for e in bad.json()["errors"])
    missing = await eligibility.api.get("/v1/payers/not-a-payer")
    assert missing.status_code == 404


async def test_eligibility_events_reach_kafka_as_cloudevents(eligibility: RunningEligibility, kafka_bootstrap: str) -> None:
    member_id = unique("KAF")
    await eligibility.put_member(member(member_id))
    customer_id, coverage_id = await coverage_for(eligibility, member_id)
    check = await ended_check(eligibility, coverage_id)

    reader = AIOKafkaConsumer(
        "eligibility.events", bootstrap_servers=kafka_bootstrap, group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await reader.start()
    try:
        seen: list[Any] = []

        async def verified_on_kafka() -> Any:
            batches = await reader.getmany(timeout_ms=500)
            for records in batches.values():
                seen.extend(r for r in records if r.key == customer_id.encode())
            return next((r for r in seen if dict(r.headers)["ce_type"] == EligibilityVerified.event_type.encode()), None)

        record = await eventually(verified_on_kafka, timeout=30)
    finally:
        await reader.stop()
    headers = dict(record.headers)
    assert headers["ce_source"] == b"/billing/eligibility"
    assert headers["content-type"] == b"application/json"
    data = json.loads(record.value)
    assert (data["check_id"], data["coverage_id"]) == (check["check_id"], coverage_id)


async def test_a_payer_without_electronic_inquiries_is_verified_by_staff(eligibility: RunningEligibility) -> None:
    payer = a_payer(eligibility.clearinghouse_url, kind="employer", connection={"method": "rules"})
    assert (await eligibility.api.post("/v1/payers", json=payer)).status_code == 201
    _, coverage_id = await coverage_for(eligibility, unique("EMP"), payer_id=payer["payer_id"])

    check = await ended_check(eligibility, coverage_id)
    assert check["status"] == "failed"
    assert check["outcome"]["retryable"] is False
    assert "staff confirm" in check["outcome"]["reason"]

    answered = await eligibility.api.post(f"/v1/checks/{check['check_id']}/staff-answer", json={
        "active": True, "plan_name": "Employer wellness plan", "coverage_from": "2026-01-01",
        "cost_shares": [{"service_type": "30", "copay": 1000}], "reference": "HR-CALL-17",
    })

    assert answered.status_code == 200, answered.text
    outcome = answered.json()["outcome"]
    assert answered.json()["status"] == "verified"
    assert (outcome["method"], outcome["recorded_by"], outcome["payer_reference"]) == ("staff", "front-desk", "HR-CALL-17")
    standing = (await eligibility.api.get(f"/v1/coverages/{coverage_id}/verification")).json()
    assert standing["verified"] is True
    again = await eligibility.api.post(f"/v1/checks/{check['check_id']}/staff-answer", json={"active": False})
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "check_id"


async def test_verification_attempts_are_counted_in_metrics(eligibility: RunningEligibility) -> None:
    member_id = unique("MET")
    await eligibility.put_member(member(member_id))
    _, coverage_id = await coverage_for(eligibility, member_id)
    await ended_check(eligibility, coverage_id)

    metrics = (await eligibility.api.get("/metrics")).text

    assert 'eligibility_check_attempts_total{outcome="active"}' in metrics


async def test_a_child_on_a_parents_plan_is_asked_about_as_a_dependent(eligibility: RunningEligibility) -> None:
    member_id = unique("FAM")
    await eligibility.put_member(member(
        member_id, given="Charles", family="Babbage", dob="1971-12-26",
        dependents=[{"given": "Benjamin", "family": "Babbage", "dob": "2014-05-06"}],
    ))
    _, coverage_id = await coverage_for(
        eligibility, member_id,
        customer={"person_name": {"given": "Benjamin", "family": "Babbage"}, "date_of_birth": "2014-05-06"},
        subscriber={"relationship": "child", "name": {"given": "Charles", "family": "Babbage"},
                    "date_of_birth": "1971-12-26"},
    )

    check = await ended_check(eligibility, coverage_id)

    assert check["status"] == "verified", check
    [exchange] = (await eligibility.api.get(f"/v1/checks/{check['check_id']}/exchanges")).json()["exchanges"]
    assert f"NM1*IL*1*Babbage*Charles****MI*{member_id}" in exchange["request"]
    assert "HL*4*3*23*0" in exchange["request"] and "NM1*03*1*Babbage*Benjamin" in exchange["request"]
    assert "HL*4*3*23*0" in exchange["response"]  # the payer answered for the dependent


async def test_a_dependent_the_payer_does_not_know_is_rejected_with_patient_not_found(
    eligibility: RunningEligibility,
) -> None:
    member_id = unique("FAM")
    await eligibility.put_member(member(member_id, given="Charles", family="Babbage", dob="1971-12-26"))
    _, coverage_id = await coverage_for(
        eligibility, member_id,
        customer={"person_name": {"given": "Ada", "family": "Babbage"}, "date_of_birth": "2016-01-01"},
        subscriber={"relationship": "child", "name": {"given": "Charles", "family": "Babbage"}},
    )

    check = await ended_check(eligibility, coverage_id)

    assert check["status"] == "rejected"
    [reason] = check["outcome"]["reasons"]
    assert (reason["code"], reason["loop"]) == ("67", "2100D")


async def test_the_front_desk_sees_a_customers_coverages_in_order_with_their_standing(
    eligibility: RunningEligibility,
) -> None:
    primary_member, secondary_member = unique("PRI"), unique("SEC")
    await eligibility.put_member(member(primary_member))
    await eligibility.put_member(member(secondary_member, status="inactive", coverage_to="2025-12-31"))
    customer_id, primary = await coverage_for(eligibility, primary_member)
    payer_id = await registered_payer(eligibility)
    secondary = unique("cov_")
    added = coverage_added(customer_id, secondary, payer_id, secondary_member)
    added["terms"]["priority"] = "secondary"
    await eligibility.publish_registration_event("CoverageAdded", customer_id, added)
    await ended_check(eligibility, primary)
    await ended_check(eligibility, secondary)

    answer = (await eligibility.api.get(f"/v1/customers/{customer_id}/coverages")).json()

    assert answer["as_of"] == "2026-11-27"
    assert [(c["coverage_id"], c["priority"], c["status"], c["verified"]) for c in answer["coverages"]] == [
        (primary, "primary", "verified", True), (secondary, "secondary", "rejected", False),
    ]
    assert answer["coverages"][0]["member_id"] == primary_member
    later = (await eligibility.api.get(f"/v1/customers/{customer_id}/coverages", params={"as_of": "2026-12-28"})).json()
    assert later["coverages"][0]["status"] == "stale"
