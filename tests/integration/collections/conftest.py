"""The collections app, built by its own bootstrap, against the real PostgreSQL and Kafka.

One app per test module, in its own schema, with its own consumer group started at the end of
the topics it reads. Tests publish registration's, invoicing's and payments' events on Kafka
exactly as those services do (CloudEvents binary mode, built from their own event models so they
hold to their contracts), so the only thing between them and collections is the broker. Notices
go to a mailer that keeps what it was given."""

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

from services.collections.consumers import TOPICS
from services.collections.domain.policy import (
    Agency,
    AssignmentRule,
    DunningPolicy,
    Guards,
    Policies,
)
from services.collections.main import create_app
from services.collections.settings import CollectionsSettings
from services.invoicing.domain import events as invoicing
from services.payments.domain import events as payments
from services.registration.domain import events as registration
from shared.clock import FixedClock
from shared.envelope import EventEnvelope
from shared.events import DomainEvent
from shared.http.auth import TokenGrant
from shared.kafka import start_reliable_producer
from shared.mail import OutgoingMail
from tests.kafka_groups import start_group_at_end
from tests.kafka_reading import published
from tests.polling import eventually
from tests.schemas import scratch_schema

# 15:30 UTC is 09:30 in Chicago, within contact hours
NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
TODAY = NOW.date()
TOKEN = "collections-staff-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
AGENCY_TOKEN = "northwind-agency-token-for-tests"
AGENCY_AUTH = {"Authorization": f"Bearer {AGENCY_TOKEN}"}
BUSINESS = "clinic"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class KeptMail:
    """A mailer that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []

    async def send(self, message: OutgoingMail) -> str:
        self.sent.append(message)
        return f"<{uuid.uuid4().hex}@mail.test>"


def policies_with(agency_id: str, **business: Any) -> Policies:
    return Policies(
        businesses={BUSINESS: DunningPolicy(**business)},
        agencies=(Agency(id=agency_id, name="Northwind Recovery Services", fee_rate_bp=2500),),
        assignment=(AssignmentRule(agency=agency_id),),
    )


@dataclass
class RunningCollections:
    api: httpx.AsyncClient
    app: FastAPI
    clock: FixedClock
    producer: AIOKafkaProducer
    bootstrap: str
    mail: KeptMail
    agency_id: str
    published: list[EventEnvelope] = field(default_factory=list)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app.state.pool

    async def publish(self, event: DomainEvent, key: str, *, topic: str, source: str) -> None:
        """As the publishing service's relay does: the key, CloudEvents headers, the contract's JSON."""
        envelope = EventEnvelope.wrap(event, source=source, subject=key, time=self.clock.now())
        await self.producer.send_and_wait(
            topic, value=envelope.kafka_value(), key=envelope.kafka_key(), headers=envelope.kafka_headers()
        )

    async def from_registration(self, event: DomainEvent, key: str) -> None:
        await self.publish(event, key, topic=registration.TOPIC, source=registration.SOURCE)

    async def from_invoicing(self, event: DomainEvent, key: str) -> None:
        await self.publish(event, key, topic=invoicing.TOPIC, source=invoicing.SOURCE)

    async def from_payments(self, event: DomainEvent, key: str) -> None:
        await self.publish(event, key, topic=payments.TOPIC, source=payments.SOURCE)

    async def register(
        self, *, email: bool = True, address: bool = True, time_zone: str = "America/Chicago",
        flags: list[registration.ConcernFlag] | None = None,
    ) -> str:
        customer_id = unique("cus_")
        await self.from_registration(registration.CustomerRegistered(
            customer_id=customer_id, kind=registration.CustomerKind.PERSON,
            person_name=registration.PersonName(given="Ada", family="Lovelace"),
            contact=contact_details(email=email, address=address, time_zone=time_zone),
            flags=flags or [], registered_at=self.clock.now(),
        ), customer_id)
        await eventually(
            lambda: self.pool.fetchval("SELECT 1 FROM customers WHERE customer_id = $1", customer_id),
            timeout=20, message=f"collections saw customer {customer_id}",
        )
        return customer_id

    async def invoice(
        self, customer_id: str, total: int, *, issue_date: date | None = None, due_date: date | None = None,
    ) -> invoicing.InvoiceIssued:
        issue_date = issue_date or self.clock.today() - timedelta(days=30)
        line = invoicing.InvoiceLine(
            line_id=unique("line_"), charge_id=unique("chg_"), service_date=issue_date - timedelta(days=2),
            code=invoicing.Code(system="CPT", code="99213"), description="Office visit", units=1, unit_price=total,
            charge_amount=total, amount=total, diagnoses=["J02.9"],
        )
        issued = invoicing.InvoiceIssued(
            invoice_id=unique("inv_"), number=unique("INV-2026-"), series="INV", customer_id=customer_id,
            bill_id=None, party=invoicing.BilledParty(
                kind=invoicing.PartyKind.CUSTOMER, name="Ada Lovelace",
                responsibility=invoicing.Responsibility.CUSTOMER,
            ),
            lines=[line], total=total, currency="USD", issue_date=issue_date,
            due_date=due_date or issue_date + timedelta(days=30), payment_terms="Net 30", issued_at=self.clock.now(),
        )
        await self.from_invoicing(issued, customer_id)
        await eventually(
            lambda: self.pool.fetchval("SELECT 1 FROM invoices WHERE invoice_id = $1", issued.invoice_id),
            timeout=20, message=f"collections saw invoice {issued.number}",
        )
        return issued

    async def missed(self, issued: invoicing.InvoiceIssued, as_of: date | None = None) -> str:
        """Payments reports the invoice missed; collections opens its debt. The debt's id."""
        as_of = as_of or issued.due_date + timedelta(days=1)
        await self.from_payments(payments.PaymentMissed(
            customer_id=issued.customer_id, item=payments.DueItem.INVOICE, invoice_id=issued.invoice_id,
            invoice_number=issued.number, billed_party="customer", due_date=issued.due_date, amount=issued.total,
            currency=issued.currency, days_overdue=(as_of - issued.due_date).days, as_of=as_of,
            detected_at=self.clock.now(),
        ), issued.customer_id)
        await eventually(
            lambda: self.pool.fetchval("SELECT 1 FROM debts WHERE debt_id = $1", issued.invoice_id),
            timeout=20, message=f"collections opened a debt for {issued.number}",
        )
        return issued.invoice_id

    async def debt_in_arrears(self, total: int = 12_500, **customer: Any) -> tuple[str, invoicing.InvoiceIssued]:
        """A customer whose invoice fell due yesterday, and its debt."""
        customer_id = await self.register(**customer)
        issued = await self.invoice(customer_id, total, due_date=self.clock.today() - timedelta(days=1))
        return await self.missed(issued, self.clock.today()), issued

    async def pay(self, issued: invoicing.InvoiceIssued, amount: int, *, channel: str = "desk") -> str:
        """Payments received a payment and allocated it to the invoice."""
        payment_id = unique("pay_")
        kind = payments.PartyKind.COLLECTION_AGENCY if channel == "agency" else payments.PartyKind.CUSTOMER
        await self.from_payments(payments.PaymentReceived(
            payment_id=payment_id, customer_id=issued.customer_id,
            party=payments.PayingParty(kind=kind, name="Ada Lovelace"), method=payments.PaymentMethod.CARD,
            channel=payments.PaymentChannel(channel), amount=amount, currency="USD", received_on=self.clock.today(),
            recorded_by="front-desk", recorded_at=self.clock.now(),
        ), issued.customer_id)
        await self.from_payments(payments.PaymentAllocated(
            payment_id=payment_id, customer_id=issued.customer_id,
            allocations=[payments.Allocation(invoice_id=issued.invoice_id, invoice_number=issued.number,
                                             amount=amount)],
            currency="USD", rule=payments.AllocationRule.EXPLICIT, unallocated=0, allocated_at=self.clock.now(),
        ), issued.customer_id)
        await eventually(
            lambda: self.pool.fetchval(
                "SELECT 1 FROM invoice_payments WHERE payment_id = $1", payment_id,
            ), timeout=20, message=f"collections saw payment {payment_id}",
        )
        return payment_id

    async def run(self, at: datetime | None = None) -> dict[str, Any]:
        if at is not None:
            self.clock.set(at)
        answer = await self.api.post("/v1/dunning-runs", json={})
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def debt(self, debt_id: str) -> dict[str, Any]:
        answer = await self.api.get(f"/v1/debts/{debt_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def history(self, debt_id: str) -> list[str]:
        """The debt's events by type, in order."""
        rows = await self.pool.fetch(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version", f"debt-{debt_id}",
        )
        return [r["event_type"].rsplit(".", 1)[-1] for r in rows]

    async def events_of(
        self, topic: str, key: str, event_type: str, count: int, timeout: float = 20,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> list[dict[str, Any]]:
        """The ``event_type`` messages under ``key`` on ``topic`` (those ``where`` says), once there are ``count``."""
        return await published(self.bootstrap, topic, key, event_type, count, timeout=timeout, where=where)


def contact_details(*, email: bool, address: bool, time_zone: str) -> registration.ContactDetails:
    return registration.ContactDetails(
        addresses=[registration.PostalAddress(
            id=unique("adr_"), lines=["12 Analytical Row"], city="Springfield", region="IL", postal_code="62704",
            country="US",
        )] if address else [],
        phones=[registration.Phone(id=unique("tel_"), number="+15555550123")],
        emails=[registration.Email(id=unique("eml_"), address=f"{unique('ada')}@example.com")] if email else [],
        preferred_channel=registration.Channel.EMAIL if email else registration.Channel.POST,
        consents=registration.Consents(email=email, post=True), time_zone=time_zone,
    )


async def start_collections(
    database_url: str, kafka_bootstrap: str, policies: Policies, agency_id: str,
) -> AsyncIterator[RunningCollections]:
    group_id = f"collections.feeds.test-{uuid.uuid4().hex[:12]}"
    async with scratch_schema(database_url, "collections") as schema:
        for topic in TOPICS:
            await start_group_at_end(kafka_bootstrap, group_id, topic)
        settings = CollectionsSettings(
            environment="test",
            database_url=f"{database_url}?search_path={schema}",
            kafka_bootstrap_servers=kafka_bootstrap,
            feeds_consumer_group=group_id,
            relay_poll_interval_seconds=0.2,
            dunning_interval_seconds=3600,
            delivery_poll_interval_seconds=0.1,
            business_id=BUSINESS,
            api_tokens={
                TOKEN: TokenGrant(
                    system="collections-desk",
                    scopes=["collections:read", "collections:write", "collections:operate"],
                ),
                AGENCY_TOKEN: TokenGrant(system=f"agency-{agency_id}", scopes=[f"agency:{agency_id}"]),
            },
        )
        clock = FixedClock(NOW)
        mail = KeptMail()
        app = create_app(settings, clock=clock, policies=policies, mailer=mail)
        producer = await start_reliable_producer(kafka_bootstrap, client_id="upstream-stand-in")
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=AUTH) as api:
                    yield RunningCollections(api, app, clock, producer, kafka_bootstrap, mail, agency_id)
        finally:
            await producer.stop()


@pytest.fixture(scope="module")
async def collections(database_url: str, kafka_bootstrap: str) -> AsyncIterator[RunningCollections]:
    """Collections with the default policy (every guard on) and the demo agency, which needs no
    topic here: tests of this fixture don't escalate."""
    async for running in start_collections(database_url, kafka_bootstrap, policies_with("northwind"), "northwind"):
        yield running


__all__ = ["Guards", "RunningCollections", "policies_with", "start_collections"]
