"""The eligibility app, built by its own bootstrap, against the real PostgreSQL and Kafka, with the
payer simulator answering 270s over real HTTP.

One app per test module, in its own schema and with its own registration-feed consumer group
started at the end of registration.events. Tests publish registration's events on Kafka exactly as
registration does (CloudEvents binary mode, the published contract), so the only thing between
"registration" and eligibility is the broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.eligibility.main import create_app
from services.eligibility.settings import EligibilitySettings
from shared.clock import FixedClock
from shared.envelope import EventEnvelope
from shared.http.auth import TokenGrant
from shared.kafka import start_reliable_producer
from simulators.clearinghouse.background import running_clearinghouse
from tests.kafka_groups import start_group_at_end
from tests.polling import eventually
from tests.schemas import scratch_schema

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
TOKEN = "front-desk-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REGISTRATION_TOPIC = "registration.events"
PAYER_TIMEOUT_SECONDS = 0.5
MAX_ATTEMPTS = 3


@dataclass
class RunningEligibility:
    api: httpx.AsyncClient
    app: FastAPI
    clock: FixedClock
    clearinghouse: httpx.AsyncClient
    clearinghouse_url: str
    producer: AIOKafkaProducer

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app.state.pool

    async def publish_registration_event(self, event_type: str, customer_id: str, data: dict[str, Any]) -> None:
        """Publish as registration's relay does: the customer id as key, CloudEvents headers."""
        envelope = EventEnvelope(
            id=uuid.uuid4(), type=f"billing.registration.{event_type}", source="/billing/registration",
            subject=customer_id, time=NOW, schema_version=1, data=data,
        )
        await self.producer.send_and_wait(
            REGISTRATION_TOPIC, value=envelope.kafka_value(), key=envelope.kafka_key(),
            headers=envelope.kafka_headers(),
        )

    async def put_member(self, member: dict[str, Any]) -> None:
        answer = await self.clearinghouse.put(f"/members/{member['member_id']}", json=member)
        answer.raise_for_status()

    async def inquiries_for(self, member_id: str) -> int:
        stats = (await self.clearinghouse.get("/stats")).json()
        return int(stats.get(member_id, 0))


@pytest.fixture(scope="module")
async def eligibility(database_url: str, kafka_bootstrap: str) -> AsyncIterator[RunningEligibility]:
    group_id = f"eligibility.registration-feed.test-{uuid.uuid4().hex[:12]}"
    async with running_clearinghouse({}) as clearinghouse_url, scratch_schema(database_url, "eligibility") as schema:
        await start_group_at_end(kafka_bootstrap, group_id, REGISTRATION_TOPIC)
        settings = EligibilitySettings(
            environment="test",
            database_url=f"{database_url}?search_path={schema}",
            kafka_bootstrap_servers=kafka_bootstrap,
            registration_consumer_group=group_id,
            relay_poll_interval_seconds=0.2,
            verifier_poll_interval_seconds=0.1,
            verifier_backoff_seconds=0.05,
            verifier_max_attempts=MAX_ATTEMPTS,
            inquiry_service_types=["30", "98"],
            api_tokens={TOKEN: TokenGrant(system="front-desk", scopes=["eligibility:read", "eligibility:write"])},
        )
        clock = FixedClock(NOW)
        app = create_app(settings, clock=clock)
        producer = await start_reliable_producer(kafka_bootstrap, client_id="registration-stand-in")
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with (
                    httpx.AsyncClient(transport=transport, base_url="http://test", headers=AUTH) as api,
                    httpx.AsyncClient(base_url=clearinghouse_url) as clearinghouse,
                ):
                    yield RunningEligibility(api, app, clock, clearinghouse, clearinghouse_url, producer)
        finally:
            await producer.stop()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def a_payer(clearinghouse_url: str, payer_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    return {
        "payer_id": payer_id or unique("acme-"),
        "name": "Acme Health",
        "kind": "insurer",
        "connection": {
            "method": "x12", "endpoint": f"{clearinghouse_url}/x12/270", "payer_identifier": "60054",
            "receiver_id": "CLEARINGHOUSE", "timeout_seconds": PAYER_TIMEOUT_SECONDS,
        },
        "code_system": "HCPCS",
        "billing_contact": {"name": "Acme Claims", "email": "claims@acme.example", "phone": "+18005550100"},
        **overrides,
    }


def customer_registered(customer_id: str, family: str = "Lovelace") -> dict[str, Any]:
    """The fields of registration's CustomerRegistered contract (and some eligibility ignores)."""
    return {
        "customer_id": customer_id, "kind": "person", "person_name": {"given": "Ada", "family": family},
        "organisation_name": None, "date_of_birth": "1985-12-10",
        "contact": {"addresses": [], "phones": [], "emails": [{"id": "email-1", "use": "home", "address": "ada@example.com"}],
                    "preferred_channel": "email", "consents": {"email": True, "sms": False, "phone": True, "post": True},
                    "time_zone": "America/Chicago"},
        "concern_notes": [], "flags": [], "possible_duplicate_of": [], "registered_at": NOW.isoformat(),
    }


def coverage_added(
    customer_id: str, coverage_id: str, payer_id: str, member_id: str, subscriber: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "customer_id": customer_id, "coverage_id": coverage_id, "added_at": NOW.isoformat(),
        "terms": {
            "payer_id": payer_id, "payer_kind": "insurer", "member_id": member_id, "group_number": "GRP-77",
            "plan_name": "Gold PPO", "priority": "primary",
            "subscriber": subscriber or {"relationship": "self", "name": None, "date_of_birth": None},
            "effective_from": date(2026, 1, 1).isoformat(), "effective_to": None,
        },
    }


def member(member_id: str, **overrides: Any) -> dict[str, Any]:
    """A PPO member who has met $850 of a $1,500 deductible, with 20% coinsurance and a $25 office copay."""
    return {
        "member_id": member_id, "given": "Ada", "family": "Lovelace", "dob": "1985-12-10", "group": "GRP-77",
        "plan_name": "Gold PPO", "status": "active", "coverage_from": "2026-01-01", "coverage_to": "2026-12-31",
        "benefits": [
            {"info_code": "C", "service_types": ["30"], "time_period": "23", "amount": "1500.00", "in_network": True},
            {"info_code": "C", "service_types": ["30"], "time_period": "29", "amount": "650.00", "in_network": True},
            {"info_code": "A", "service_types": ["30"], "percent": "0.2", "in_network": True},
            {"info_code": "B", "service_types": ["98"], "time_period": "27", "amount": "25.00", "in_network": True},
            {"info_code": "G", "service_types": ["30"], "time_period": "23", "amount": "6000.00", "in_network": True},
            {"info_code": "G", "service_types": ["30"], "time_period": "29", "amount": "4200.00", "in_network": True},
        ],
        "behaviour": "normal", "delay_seconds": 0,
        **overrides,
    }


async def registered_payer(eligibility: RunningEligibility) -> str:
    payer = a_payer(eligibility.clearinghouse_url)
    created = await eligibility.api.post("/v1/payers", json=payer)
    assert created.status_code == 201, created.text
    return payer["payer_id"]


async def coverage_for(
    eligibility: RunningEligibility, member_id: str, payer_id: str | None = None,
    subscriber: dict[str, Any] | None = None, customer: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Registration's events for a new customer with one coverage, on Kafka: (customer, coverage).
    ``customer`` overrides fields of the registration, ``subscriber`` the coverage's subscriber."""
    payer_id = payer_id or await registered_payer(eligibility)
    customer_id, coverage_id = unique("cus_"), unique("cov_")
    await eligibility.publish_registration_event(
        "CustomerRegistered", customer_id, {**customer_registered(customer_id), **(customer or {})}
    )
    await eligibility.publish_registration_event(
        "CoverageAdded", customer_id, coverage_added(customer_id, coverage_id, payer_id, member_id, subscriber)
    )
    return customer_id, coverage_id


async def ended_check(eligibility: RunningEligibility, coverage_id: str) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        checks = (await eligibility.api.get("/v1/checks", params={"coverage_id": coverage_id})).json()["checks"]
        return next((c for c in checks if c["status"] != "pending"), None)

    return await eventually(ended, timeout=30, message=f"a check of {coverage_id} ended")
