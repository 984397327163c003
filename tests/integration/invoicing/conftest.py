"""The invoicing app, built by its own bootstrap, against the real PostgreSQL and Kafka, with a
real SMTP server (aiosmtpd on a local port) taking its e-mail.

One app per test module, in its own schema, with its own consumer group started at the end of the
topics it reads. Tests publish registration's, eligibility's and payments' events on Kafka exactly
as those services do (CloudEvents binary mode, the published contracts), so the only thing between
them and invoicing is the broker. The code catalogue is loaded over HTTP from the shipped HCPCS and
ICD-10-CM files plus a CPT file standing in for an operator's licensed one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.invoicing.main import create_app
from services.invoicing.settings import InvoicingSettings
from shared.clock import FixedClock
from shared.envelope import EventEnvelope
from shared.http.auth import TokenGrant
from shared.kafka import start_reliable_producer
from tests.kafka_groups import start_group_at_end
from tests.mailbox import Mailbox, serving_mailbox
from tests.polling import eventually
from tests.schemas import scratch_schema

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SERVICE_DATE = date(2026, 3, 2)
TOKEN = "practice-management-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOPICS = ("registration.events", "eligibility.events", "payments.events")
CODES = Path(__file__).resolve().parents[3] / "services" / "invoicing" / "codes"
# Stands in for an operator's licensed CPT file: real code numbers, descriptions of our own.
CPT_FILE = (
    "code,description,valid_from,valid_to\n"
    "99213,Established patient office visit (operator's licensed text),2020-01-01,\n"
    "87880,Rapid strep test (operator's licensed text),2020-01-01,\n"
    "90686,Influenza vaccine (operator's licensed text),2020-01-01,\n"
    "99201,New patient office visit (operator's licensed text),2010-01-01,2020-12-31\n"
)
@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with serving_mailbox() as served:
        yield served


@dataclass
class RunningInvoicing:
    api: httpx.AsyncClient
    app: FastAPI
    clock: FixedClock
    producer: AIOKafkaProducer
    mailbox: Mailbox

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app.state.pool

    async def publish(self, topic: str, event_type: str, key: str, data: dict[str, Any]) -> None:
        """As the owning service's relay does: the key, CloudEvents headers, the contract's JSON."""
        service = topic.split(".")[0]
        envelope = EventEnvelope(
            id=uuid.uuid4(), type=f"billing.{service}.{event_type}", source=f"/billing/{service}",
            subject=key, time=NOW, schema_version=1, data=data,
        )
        await self.producer.send_and_wait(
            topic, value=envelope.kafka_value(), key=envelope.kafka_key(), headers=envelope.kafka_headers()
        )


@pytest.fixture(scope="module")
async def invoicing(
    database_url: str, kafka_bootstrap: str, mailbox: tuple[Mailbox, int]
) -> AsyncIterator[RunningInvoicing]:
    group_id = f"invoicing.feeds.test-{uuid.uuid4().hex[:12]}"
    handler, smtp_port = mailbox
    async with scratch_schema(database_url, "invoicing") as schema:
        for topic in TOPICS:
            await start_group_at_end(kafka_bootstrap, group_id, topic)
        settings = InvoicingSettings(
            environment="test",
            database_url=f"{database_url}?search_path={schema}",
            kafka_bootstrap_servers=kafka_bootstrap,
            feeds_consumer_group=group_id,
            relay_poll_interval_seconds=0.2,
            delivery_poll_interval_seconds=0.05,
            delivery_backoff_seconds=0.05,
            delivery_max_attempts=2,
            billing_interval_seconds=3600,
            smtp_port=smtp_port,
            api_tokens={TOKEN: TokenGrant(
                system="practice-management", scopes=["invoicing:read", "invoicing:write", "invoicing:operate"],
            )},
        )
        clock = FixedClock(NOW)
        app = create_app(settings, clock=clock)
        producer = await start_reliable_producer(kafka_bootstrap, client_id="upstream-stand-in")
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=AUTH) as api:
                    running = RunningInvoicing(api, app, clock, producer, handler)
                    await load_catalogue(api)
                    yield running
        finally:
            await producer.stop()


async def load_catalogue(api: httpx.AsyncClient) -> None:
    files = {"HCPCS": (CODES / "hcpcs.csv").read_bytes(), "ICD-10-CM": (CODES / "icd-10-cm.csv").read_bytes(),
             "CPT": CPT_FILE.encode(), "tariff:city-water": (CODES / "tariff-city-water.csv").read_bytes()}
    for system, content in files.items():
        loaded = await api.put(
            f"/v1/code-systems/{system}/codes", params={"source_name": f"{system}.csv"}, content=content,
            headers={"Content-Type": "text/csv"},
        )
        assert loaded.status_code == 200, loaded.text


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# -- upstream events, as their contracts say -----------------------------------------------------


def customer_registered(customer_id: str, email_address: str = "ada@example.com", **overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id, "kind": "person", "person_name": {"given": "Ada", "family": "Lovelace"},
        "organisation_name": None, "date_of_birth": "1985-12-10",
        "contact": {
            "addresses": [{"id": "addr-1", "use": "home", "lines": ["12 Analytical Row"], "city": "Springfield",
                           "region": "IL", "postal_code": "62701", "country": "US"}],
            "phones": [], "emails": [{"id": "email-1", "use": "home", "address": email_address}],
            "preferred_channel": "email", "consents": {"email": True, "sms": False, "phone": True, "post": True},
            "time_zone": "America/Chicago",
        },
        "concern_notes": [], "flags": [], "possible_duplicate_of": [], "registered_at": NOW.isoformat(),
        **overrides,
    }


def coverage_added(customer_id: str, coverage_id: str, payer_id: str, priority: str = "primary",
                   member_id: str = "W123456789") -> dict[str, Any]:
    return {
        "customer_id": customer_id, "coverage_id": coverage_id, "added_at": NOW.isoformat(),
        "terms": {
            "payer_id": payer_id, "payer_kind": "insurer", "member_id": member_id, "group_number": "GRP-77",
            "plan_name": "Gold PPO", "priority": priority,
            "subscriber": {"relationship": "self", "name": None, "date_of_birth": None},
            "effective_from": "2026-01-01", "effective_to": None,
        },
    }


def payer_registered(payer_id: str, code_system: str = "HCPCS", electronic: bool = True,
                     name: str = "Acme Health", kind: str = "insurer") -> dict[str, Any]:
    connection = (
        {"method": "x12", "endpoint": "http://127.0.0.1:9/x12/270", "payer_identifier": "60054",
         "receiver_id": "CLEARINGHOUSE", "timeout_seconds": 10.0}
        if electronic else {"method": "rules", "program_id": None}
    )
    return {
        "payer_id": payer_id, "registered_at": NOW.isoformat(),
        "profile": {"name": name, "kind": kind, "connection": connection, "code_system": code_system,
                    "billing_contact": {"name": f"{name} Claims", "email": "claims@payer.example", "phone": None,
                                        "address_lines": ["PO Box 1", "Springfield, IL 62701"]}},
    }


def cost_share(**figures: Any) -> dict[str, Any]:
    return {"service_type": "30", "in_network": True, "copay": None, "coinsurance_bp": None, "deductible": None,
            "deductible_remaining": None, "out_of_pocket_max": None, "out_of_pocket_remaining": None,
            "covered": True, "deductible_scope": "30", "out_of_pocket_scope": "30", **figures}


def eligibility_verified(customer_id: str, coverage_id: str, payer_id: str, cost_shares: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "check_id": unique("chk_"), "customer_id": customer_id, "coverage_id": coverage_id, "payer_id": payer_id,
        "service_date": SERVICE_DATE.isoformat(), "verified_on": SERVICE_DATE.isoformat(),
        "valid_until": "2026-04-01", "plan_name": "Gold PPO", "coverage_from": "2026-01-01",
        "coverage_to": "2026-12-31", "group_number": "GRP-77", "currency": "USD", "cost_shares": cost_shares,
        "benefits": [], "notices": [], "method": "x12", "exchange_id": "x12_test", "recorded_by": None,
        "payer_reference": None, "verified_at": NOW.isoformat(),
    }


@dataclass
class Customer:
    customer_id: str
    coverage_id: str | None
    payer_id: str | None


async def customer_with_coverage(
    invoicing: RunningInvoicing, cost_shares: list[dict[str, Any]] | None = None, *, email_address: str = "ada@example.com",
    payer: dict[str, Any] | None = None, verified: bool = True,
) -> Customer:
    """A customer with one primary coverage, its payer in the directory and (by default) verified
    with a $25 copay: as registration and eligibility publish them, then seen by invoicing."""
    customer_id, coverage_id = unique("cus_"), unique("cov_")
    payer = payer or payer_registered(unique("acme-"))
    payer_id = payer["payer_id"]
    await invoicing.publish("eligibility.events", "PayerRegistered", payer_id, payer)
    await invoicing.publish("registration.events", "CustomerRegistered", customer_id,
                            customer_registered(customer_id, email_address))
    await invoicing.publish("registration.events", "CoverageAdded", customer_id,
                            coverage_added(customer_id, coverage_id, payer_id))
    if verified:
        await invoicing.publish("eligibility.events", "EligibilityVerified", customer_id, eligibility_verified(
            customer_id, coverage_id, payer_id, cost_shares if cost_shares is not None else [cost_share(copay=2500)],
        ))
    await eventually(
        lambda: invoicing.pool.fetchval(
            "SELECT 1 FROM coverages c JOIN customers USING (customer_id) JOIN payers p ON p.payer_id = c.payer_id "
            "WHERE c.coverage_id = $1 AND ($2 OR EXISTS (SELECT 1 FROM verifications v WHERE v.coverage_id = $1))",
            coverage_id, not verified,
        ),
        timeout=20, message=f"invoicing saw customer {customer_id} and coverage {coverage_id}",
    )
    return Customer(customer_id, coverage_id, payer_id)


def charge(customer_id: str, code: str = "99213", system: str = "CPT", unit_price: int = 15000, **overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id, "service_date": SERVICE_DATE.isoformat(),
        "procedure": {"system": system, "code": code, "modifiers": []},
        "diagnoses": [{"system": "ICD-10-CM", "code": "J02.9"}], "units": "1", "unit_price": unit_price,
        "rendering_provider": {"given_name": "Grace", "family_name": "Hopper", "npi": "1245319599"},
        **overrides,
    }


async def record_charges(invoicing: RunningInvoicing, *charges: dict[str, Any]) -> list[dict[str, Any]]:
    recorded = []
    for body in charges:
        answer = await invoicing.api.post("/v1/charges", json=body)
        assert answer.status_code == 201, answer.text
        recorded.append(answer.json())
    return recorded


async def bill(invoicing: RunningInvoicing, customer_id: str) -> dict[str, Any]:
    answer = await invoicing.api.post("/v1/billing-runs", json={"customer_id": customer_id})
    assert answer.status_code == 200, answer.text
    [encounter] = answer.json()["encounters"]
    return encounter


async def invoices_of(invoicing: RunningInvoicing, customer_id: str) -> list[dict[str, Any]]:
    listed = await invoicing.api.get("/v1/invoices", params={"customer_id": customer_id})
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


async def invoice(invoicing: RunningInvoicing, invoice_id: str) -> dict[str, Any]:
    answer = await invoicing.api.get(f"/v1/invoices/{invoice_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()
