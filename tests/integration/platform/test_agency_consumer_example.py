"""The reference agency consumer (examples/agency/agency_consumer.py) against the real broker: it
logs in as a freshly provisioned agency, reads the placements published on the agency's topic,
talks to a stub of the collections API and commits after each message; and it runs as a process
with the credentials file deploy/agencies.py writes."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.agencies import AgencyAccess, provision_agency, revoke_agency
from shared.envelope import EventEnvelope
from tests.agency_example import EXAMPLE, load_example

pytestmark = pytest.mark.integration

PLACED = "billing.collections.agency.v1.AccountEscalated"
RECALLED = "billing.collections.agency.v1.AccountRecalled"


example = load_example()


@pytest.fixture
async def agency(kafka_bootstrap: str) -> AsyncIterator[AgencyAccess]:
    agency_id = f"example-{uuid.uuid4().hex[:8]}"
    try:
        yield await provision_agency(agency_id, uuid.uuid4().hex, bootstrap=kafka_bootstrap)
    finally:
        await revoke_agency(agency_id, bootstrap=kafka_bootstrap, delete_topic=True)


async def publish(
    producer: AIOKafkaProducer, access: AgencyAccess, event_type: str, data: dict[str, Any]
) -> None:
    """As collections' agency relay publishes: CloudEvents binary mode, key = placement id."""
    envelope = EventEnvelope(
        id=uuid.uuid4(), type=event_type, source="/billing/collections/agency",
        subject=data["placement_id"], time=datetime(2026, 3, 1, 12, tzinfo=UTC),
        schema_version=1, data=data,
    )
    await producer.send_and_wait(
        access.topic, envelope.kafka_value(), key=data["placement_id"].encode(),
        headers=envelope.kafka_headers(),
    )


def placement(access: AgencyAccess, placement_id: str) -> dict[str, Any]:
    return {
        "placement_id": placement_id,
        "agency_id": access.username.removeprefix("agency-"),
        "account_reference": f"INV-{placement_id}",
        "itemization": {
            "currency": "USD", "itemization_date": "2026-02-27", "original_amount": 15000,
            "payments": 5000, "adjustments": 0, "balance": 10000,
        },
    }


def settings(access: AgencyAccess, **overrides: Any) -> Any:
    return example.Settings(**{
        "bootstrap": access.bootstrap, "username": access.username, "password": access.password,
        "topic": access.topic, "group": f"{access.group_prefix}placements",
        "api": "http://collections.test", "token": "agency-token", "timeout": 20.0,
        **overrides,
    })


async def run(config: Any, api: Any) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    status = await example.run(
        config, transport=httpx.MockTransport(api), out=out, err=err,
        today=lambda: date(2026, 3, 2),
    )
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


async def committed(kafka_bootstrap: str, group: str, topic: str) -> int | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    at = offsets.get(TopicPartition(topic, 0))
    return at.offset if at is not None else None


class StubApi:
    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.refuse and request.url.path.endswith(self.refuse):
            return httpx.Response(422, json={"title": "refused"})
        return httpx.Response(201, json={"path": request.url.path, **json.loads(request.content)})


async def test_it_reads_acknowledges_pays_and_commits_each_message(
    agency: AgencyAccess, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    await publish(producer, agency, PLACED, placement(agency, "plc-1"))
    await publish(producer, agency, RECALLED, {**placement(agency, "plc-0"), "reason": "settled"})
    await publish(producer, agency, PLACED, placement(agency, "plc-2"))
    api = StubApi()

    status, lines, err = await run(settings(agency, pay=2500, max_messages=3), api)

    assert (status, err) == (0, "")
    assert [line.get("type") or "reported" for line in lines] == [
        PLACED, "reported", RECALLED, PLACED, "reported"
    ]
    assert lines[0]["key"] == "plc-1" and lines[0]["data"] == placement(agency, "plc-1")
    assert lines[1]["reported"]["amount"] == 2500 and lines[1]["reported"]["currency"] == "USD"
    assert api.paths == [
        "/v1/agency/placements/plc-1/acknowledgement", "/v1/agency/placements/plc-1/payments",
        "/v1/agency/placements/plc-2/acknowledgement", "/v1/agency/placements/plc-2/payments",
    ]
    group = f"{agency.group_prefix}placements"
    assert await committed(kafka_bootstrap, group, agency.topic) == 3

    # The group has read everything: the next run finds nothing new and stops at its deadline.
    status, lines, err = await run(settings(agency, timeout=1.0), StubApi())
    assert (status, lines, err) == (0, [], "")


async def test_a_refused_request_stops_it_with_status_1_and_the_message_uncommitted(
    agency: AgencyAccess, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    await publish(producer, agency, PLACED, placement(agency, "plc-1"))
    await publish(producer, agency, PLACED, placement(agency, "plc-2"))
    group = f"{agency.group_prefix}placements"

    status, lines, err = await run(settings(agency, pay=100), StubApi(refuse="plc-2/payments"))

    assert status == 1
    assert "POST /v1/agency/placements/plc-2/payments: 422" in err
    assert [line.get("type") or "reported" for line in lines] == [PLACED, "reported", PLACED]
    assert await committed(kafka_bootstrap, group, agency.topic) == 1  # plc-2 is read again

    api = StubApi()
    status, lines, err = await run(settings(agency, pay=100, max_messages=1), api)
    assert (status, err) == (0, "")
    assert lines[0]["key"] == "plc-2"
    assert api.paths == [
        "/v1/agency/placements/plc-2/acknowledgement", "/v1/agency/placements/plc-2/payments"
    ]


async def test_it_runs_as_a_process_with_the_credentials_file(
    agency: AgencyAccess, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    recall = {**placement(agency, "plc-7"), "reason": "paid_directly"}
    await publish(producer, agency, RECALLED, recall)  # nothing to post: no API needed
    credentials = tmp_path / "agency.json"
    credentials.write_text(json.dumps(agency.as_json()))

    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--credentials", str(credentials),
        "--api", "http://127.0.0.1:9", "--token", "agency-token",
        "--max-messages", "1", "--timeout", "30",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 0, stderr.decode()
    assert [json.loads(line) for line in stdout.decode().splitlines()] == [
        {"type": RECALLED, "key": "plc-7", "data": recall}
    ]
