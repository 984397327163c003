"""The payments app, built by its own bootstrap, against the real PostgreSQL and Kafka.

One app per test module, in its own schema, with its own consumer group started at the end of
the topics it reads (invoicing's and collections'). Tests publish invoicing's events on Kafka
exactly as invoicing does (CloudEvents binary mode, built from invoicing's own event models so
they hold to its contract), so the only thing between them and payments is the broker. What
payments publishes is read back from payments.events by key."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.invoicing.domain import events as invoicing
from services.payments.consumers import TOPICS
from services.payments.main import create_app
from services.payments.settings import PaymentsSettings
from shared.clock import FixedClock
from shared.envelope import EventEnvelope
from shared.http.auth import TokenGrant
from shared.kafka import start_reliable_producer
from tests.kafka_groups import start_group_at_end
from tests.kafka_reading import published
from tests.polling import eventually
from tests.schemas import scratch_schema

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
TOKEN = "front-desk-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GATEWAY_SECRET = "whsec_test_secret_for_cardpay"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclass
class RunningPayments:
    api: httpx.AsyncClient
    app: FastAPI
    clock: FixedClock
    producer: AIOKafkaProducer
    bootstrap: str
    published: list[EventEnvelope] = field(default_factory=list)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app.state.pool

    async def publish(self, event: invoicing.DomainEvent, key: str) -> None:  # type: ignore[name-defined]
        """As invoicing's relay does: the key, CloudEvents headers, the contract's JSON."""
        envelope = EventEnvelope.wrap(event, source=invoicing.SOURCE, subject=key, time=self.clock.now())
        await self.producer.send_and_wait(
            invoicing.TOPIC, value=envelope.kafka_value(), key=envelope.kafka_key(), headers=envelope.kafka_headers()
        )

    async def issue_invoice(
        self, customer_id: str, total: int, *, due_date: date | None = None, payer_id: str | None = None,
        currency: str = "USD", number: str | None = None, issue_date: date | None = None,
    ) -> invoicing.InvoiceIssued:
        """An invoice as invoicing publishes it, then seen by payments."""
        issued = invoice_issued(customer_id, total, due_date=due_date, payer_id=payer_id, currency=currency,
                                number=number, issue_date=issue_date or self.clock.today())
        await self.publish(issued, customer_id)
        await eventually(
            lambda: self.pool.fetchval("SELECT 1 FROM invoices WHERE invoice_id = $1", issued.invoice_id),
            timeout=20, message=f"payments saw invoice {issued.number}",
        )
        return issued

    async def events_of(
        self, key: str, event_type: str, count: int, timeout: float = 20,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> list[dict[str, Any]]:
        """The ``event_type`` events payments published under ``key`` (those ``where`` says), once
        there are ``count``: a key shared by earlier runs needs ``where``."""
        return await published(
            self.bootstrap, "payments.events", key, f"billing.payments.{event_type}", count, timeout=timeout,
            where=where,
        )


def invoice_issued(
    customer_id: str, total: int, *, due_date: date | None = None, payer_id: str | None = None,
    currency: str = "USD", number: str | None = None, issue_date: date = TODAY,
) -> invoicing.InvoiceIssued:
    line = invoicing.InvoiceLine(
        line_id=unique("line_"), charge_id=unique("chg_"), service_date=issue_date,
        code=invoicing.Code(system="CPT", code="99213"), description="Office visit", units=1, unit_price=total,
        charge_amount=total, amount=total,
    )
    party = (
        invoicing.BilledParty(kind=invoicing.PartyKind.PAYER, name="Acme Health", payer_id=payer_id,
                              payer_kind="insurer", coverage_id=unique("cov_"),
                              responsibility=invoicing.Responsibility.PRIMARY)
        if payer_id else
        invoicing.BilledParty(kind=invoicing.PartyKind.CUSTOMER, name="Ada Lovelace",
                              responsibility=invoicing.Responsibility.CUSTOMER)
    )
    return invoicing.InvoiceIssued(
        invoice_id=unique("inv_"), number=number or unique("INV-2026-"), series="PAY" if payer_id else "INV",
        customer_id=customer_id, bill_id=None, party=party, lines=[line], total=total, currency=currency,
        issue_date=issue_date, due_date=due_date or issue_date + timedelta(days=30), payment_terms="Net 30",
        issued_at=NOW,
    )


@pytest.fixture(scope="module")
async def payments(database_url: str, kafka_bootstrap: str) -> AsyncIterator[RunningPayments]:
    group_id = f"payments.feeds.test-{uuid.uuid4().hex[:12]}"
    async with scratch_schema(database_url, "payments") as schema:
        for topic in TOPICS:
            await start_group_at_end(kafka_bootstrap, group_id, topic)
        settings = PaymentsSettings(
            environment="test",
            database_url=f"{database_url}?search_path={schema}",
            kafka_bootstrap_servers=kafka_bootstrap,
            feeds_consumer_group=group_id,
            relay_poll_interval_seconds=0.2,
            missed_payment_interval_seconds=3600,
            plan_minimum_instalment=1000,
            plan_default_after_missed=1,
            gateway_secrets={"cardpay": [GATEWAY_SECRET]},
            api_tokens={TOKEN: TokenGrant(
                system="front-desk", scopes=["payments:read", "payments:write", "payments:operate"],
            )},
        )
        clock = FixedClock(NOW)
        app = create_app(settings, clock=clock)
        producer = await start_reliable_producer(kafka_bootstrap, client_id="invoicing-stand-in")
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=AUTH) as api:
                    yield RunningPayments(api, app, clock, producer, kafka_bootstrap)
        finally:
            await producer.stop()


def customer_payment(customer_id: str, amount: int, **overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id, "party": {"kind": "customer", "name": "Ada Lovelace"}, "method": "card",
        "amount": amount, "currency": "USD", "reference": unique("auth_"), **overrides,
    }


async def pay(payments: RunningPayments, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    answer = await payments.api.post("/v1/payments", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def balance_of(payments: RunningPayments, invoice_id: str) -> dict[str, Any]:
    answer = await payments.api.get(f"/v1/invoices/{invoice_id}/balance")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def customer_balance(payments: RunningPayments, customer_id: str, **params: str) -> dict[str, Any]:
    answer = await payments.api.get(f"/v1/customers/{customer_id}/balance", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def store_settled(payments: RunningPayments) -> None:
    """Wait until the store hands out every event committed so far in its global order, which it
    does once no transaction older than the newest of them is open anywhere on the server: a
    rebuild from the store reads that order, so a rebuild test compares nothing in flight."""

    async def settled() -> bool:
        return not await payments.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM events WHERE xid >= pg_snapshot_xmin(pg_current_snapshot()))"
        )

    await eventually(settled, timeout=20, message="every event committed is in the store's global order")
