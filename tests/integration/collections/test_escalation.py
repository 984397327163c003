"""Escalation through Kafka and HTTP: after the final notice and the policy's silence, a debt
needs a validation notice and its dispute period before it is placed with an agency; a non-profit
hospital waits 120 days after the first statement. The placement reaches the agency's own topic in
the agency contract, with no diagnosis or procedure codes; the agency's reports are recorded; a
direct payment in full recalls the account from the agency."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from deploy.agencies import provision_agency, revoke_agency
from services.collections.domain.events import Step
from services.collections.domain.policy import Guards, NoticeStep
from tests.integration.collections.conftest import (
    AGENCY_AUTH,
    NOW,
    RunningCollections,
    policies_with,
    start_collections,
)

AGENCY = f"esc-{uuid.uuid4().hex[:8]}"
ESCALATED = "billing.collections.agency.v1.AccountEscalated"
RECALLED = "billing.collections.agency.v1.AccountRecalled"


@pytest.fixture(scope="module")
async def escalating(database_url: str, kafka_bootstrap: str) -> AsyncIterator[RunningCollections]:
    """A policy of one final notice, answered within 10 days, and escalation 5 days after it."""
    await provision_agency(AGENCY, uuid.uuid4().hex, bootstrap=kafka_bootstrap)
    policies = policies_with(
        AGENCY, steps=(NoticeStep(step=Step.FINAL_NOTICE, days_past_due=1, template="final", respond_within_days=10),),
        escalate_after_silence_days=5,
    )
    try:
        async for running in start_collections(database_url, kafka_bootstrap, policies, AGENCY):
            yield running
    finally:
        await revoke_agency(AGENCY, bootstrap=kafka_bootstrap, delete_topic=True)


async def _history(collections: RunningCollections, debt_id: str) -> list[str]:
    return [t for t in await collections.history(debt_id) if t not in ("NoticeSent", "NoticeDeliveryFailed")]


async def test_escalation_waits_for_the_validation_notice_and_its_dispute_period(escalating: RunningCollections) -> None:
    escalating.clock.set(NOW)
    debt_id, issued = await escalating.debt_in_arrears(12_500)
    await escalating.run(NOW)
    await escalating.run(NOW + timedelta(days=4))  # still quiet for less than 5 days
    assert await _history(escalating, debt_id) == ["DebtOpened", "DemandIssued"]

    await escalating.run(NOW + timedelta(days=5))  # escalation is due, but needs the validation notice first
    assert await _history(escalating, debt_id) == ["DebtOpened", "DemandIssued", "ValidationNoticeIssued"]
    debt = await escalating.debt(debt_id)
    assert debt["status"] == "dunning"
    validation = debt["notices"][-1]
    assert validation["kind"] == "validation" and validation["deadline"] == (NOW + timedelta(days=35)).date().isoformat()

    await escalating.run(NOW + timedelta(days=35))  # the customer may still dispute today
    debt = await escalating.debt(debt_id)
    assert debt["status"] == "dunning" and debt["postponed"]["guard"] == "validation_period"

    await escalating.run(NOW + timedelta(days=36))
    debt = await escalating.debt(debt_id)
    assert debt["status"] == "escalated"
    assert debt["placement"]["agency_id"] == AGENCY and debt["placement"]["placed_balance"] == 12_500

    placed = await escalating.events_of(
        f"collections.agency.{AGENCY}", debt["placement"]["placement_id"], ESCALATED, 1,
    )
    message = placed[0]
    assert message["account_reference"] == issued.number
    assert message["itemization"]["balance"] == 12_500
    assert message["itemization"]["itemization_date"] == (NOW + timedelta(days=36)).date().isoformat()
    assert message["debtor"]["name"] == "Ada Lovelace" and message["debtor"]["time_zone"] == "America/Chicago"
    assert message["service_dates"] == [issued.lines[0].service_date.isoformat()]
    text = str(message)
    assert "J02.9" not in text and "99213" not in text and "Office visit" not in text  # no codes, no care


async def test_the_agency_reports_and_a_direct_payment_in_full_recalls_the_account(
    escalating: RunningCollections,
) -> None:
    escalating.clock.set(NOW)
    debt_id, issued = await escalating.debt_in_arrears(20_000)
    for days in (0, 5, 36):
        await escalating.run(NOW + timedelta(days=days))
    placement = (await escalating.debt(debt_id))["placement"]
    placement_id = placement["placement_id"]

    acknowledged = await escalating.api.post(
        f"/v1/agency/placements/{placement_id}/acknowledgement", json={"agency_reference": "NW-1"},
        headers=AGENCY_AUTH,
    )
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged"
    reported = await escalating.api.post(
        f"/v1/agency/placements/{placement_id}/payments", json={"amount": 8_000, "currency": "USD"},
        headers={**AGENCY_AUTH, "Idempotency-Key": f"report-{placement_id}"},
    )
    assert reported.status_code == 201, reported.text
    assert (reported.json()["fee"], reported.json()["net"]) == (2_000, 6_000)  # 25 %
    again = await escalating.api.post(
        f"/v1/agency/placements/{placement_id}/payments", json={"amount": 8_000, "currency": "USD"},
        headers={**AGENCY_AUTH, "Idempotency-Key": f"report-{placement_id}"},
    )
    assert again.json() == reported.json()  # taken once
    assert (await escalating.history(debt_id)).count("AgencyPaymentReported") == 1
    staff_cannot = await escalating.api.post(
        f"/v1/agency/placements/{placement_id}/payments", json={"amount": 1, "currency": "USD"},
        headers={"Idempotency-Key": "x"},
    )
    assert staff_cannot.status_code == 403

    # payments applies the agency's 80.00; then the customer pays the remaining 120.00 directly
    await escalating.pay(issued, 8_000, channel="agency")
    assert (await escalating.debt(debt_id))["status"] == "escalated"
    await escalating.pay(issued, 12_000)
    debt = await escalating.debt(debt_id)
    assert debt["status"] == "settled"
    assert debt["placement"]["status"] == "recalled" and debt["placement"]["closed_reason"] == "paid_directly"
    assert debt["placement"]["collected"] == 8_000 and debt["placement"]["fees"] == 2_000
    recalled = await escalating.events_of(f"collections.agency.{AGENCY}", placement_id, RECALLED, 1)
    assert recalled[0]["reason"] == "paid_directly" and recalled[0]["account_reference"] == issued.number


async def test_another_agencys_placement_is_unknown_to_an_agency(escalating: RunningCollections) -> None:
    answer = await escalating.api.post(
        "/v1/agency/placements/not-yours/acknowledgement", json={}, headers=AGENCY_AUTH,
    )
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["field"] == "placement_id"


@pytest.fixture(scope="module")
async def non_profit(database_url: str, kafka_bootstrap: str) -> AsyncIterator[RunningCollections]:
    """A non-profit hospital's policy; the validation notice is switched off to show this guard alone."""
    agency = f"np-{uuid.uuid4().hex[:8]}"
    await provision_agency(agency, uuid.uuid4().hex, bootstrap=kafka_bootstrap)
    policies = policies_with(
        agency, steps=(NoticeStep(step=Step.FINAL_NOTICE, days_past_due=1, template="final", respond_within_days=10),),
        escalate_after_silence_days=5, non_profit=True, guards=Guards(validation_notice=False),
    )
    try:
        async for running in start_collections(database_url, kafka_bootstrap, policies, agency):
            yield running
    finally:
        await revoke_agency(agency, bootstrap=kafka_bootstrap, delete_topic=True)


async def test_a_non_profit_hospital_waits_120_days_after_the_first_statement(non_profit: RunningCollections) -> None:
    non_profit.clock.set(NOW)
    customer_id = await non_profit.register()
    first_statement = NOW.date() - timedelta(days=31)
    issued = await non_profit.invoice(customer_id, 9_900, issue_date=first_statement,
                                      due_date=NOW.date() - timedelta(days=1))
    debt_id = await non_profit.missed(issued, NOW.date())
    await non_profit.run(NOW)
    await non_profit.run(NOW + timedelta(days=5))
    debt = await non_profit.debt(debt_id)
    assert debt["status"] == "dunning"
    assert debt["postponed"]["guard"] == "non_profit_wait"
    assert debt["postponed"]["until"].startswith((first_statement + timedelta(days=120)).isoformat())

    await non_profit.run(NOW.replace() + timedelta(days=88))  # the 119th day after the first statement
    assert (await non_profit.debt(debt_id))["status"] == "dunning"
    await non_profit.run(NOW + timedelta(days=89))
    assert (await non_profit.debt(debt_id))["status"] == "escalated"




async def test_the_agency_returns_an_account_and_staff_recall_one_placed_in_error(
    escalating: RunningCollections,
) -> None:
    escalating.clock.set(NOW)
    returned_id, _ = await escalating.debt_in_arrears(3_000)
    mistaken_id, _ = await escalating.debt_in_arrears(4_000)
    for days in (0, 5, 36):
        await escalating.run(NOW + timedelta(days=days))

    returned = (await escalating.debt(returned_id))["placement"]["placement_id"]
    answer = await escalating.api.post(
        f"/v1/agency/placements/{returned}/return", json={"reason": "debtor cannot be located"},
        headers={**AGENCY_AUTH, "Idempotency-Key": f"return-{returned}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "returned"
    assert (await escalating.debt(returned_id))["status"] == "returned"
    late = await escalating.api.post(
        f"/v1/agency/placements/{returned}/payments", json={"amount": 100, "currency": "USD"},
        headers={**AGENCY_AUTH, "Idempotency-Key": f"late-{returned}"},
    )
    assert late.status_code == 422 and late.json()["errors"][0]["field"] == "placement"

    mistaken = (await escalating.debt(mistaken_id))["placement"]["placement_id"]
    recalled = await escalating.api.post(
        f"/v1/debts/{mistaken_id}/recall", json={"reason": "placed_in_error", "note": "insurer still deciding"},
    )
    assert recalled.status_code == 200, recalled.text
    assert recalled.json()["placement"]["status"] == "recalled"
    [message] = await escalating.events_of(f"collections.agency.{AGENCY}", mistaken, RECALLED, 1)
    assert message["reason"] == "placed_in_error"
    await escalating.run(NOW + timedelta(days=60))  # a recalled debt is not placed again on its own
    assert (await escalating.debt(mistaken_id))["status"] == "dunning"
