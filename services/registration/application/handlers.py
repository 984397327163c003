"""Registration's use cases. Each reads as a sentence: load the customer, decide, save.

Every handler runs inside a transaction the caller opened (the HTTP layer's idempotency guard),
so the events, the inline read models and the idempotency record commit together."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from services.registration.adapters.customer_repository import PostgresCustomerRepository
from services.registration.application.identity_index import IdentityIndex
from services.registration.domain import commands
from services.registration.domain.customer import Customer
from shared.clock import Clock
from shared.events import DomainEvent


def new_id(prefix: str) -> Callable[[], str]:
    return lambda: f"{prefix}_{uuid.uuid4().hex}"


@dataclass
class Registration:
    """The use cases, with what they need injected (bootstrap wires the real ones)."""

    customers: PostgresCustomerRepository
    identities: IdentityIndex
    clock: Clock
    new_customer_id: Callable[[], str] = field(default_factory=lambda: new_id("cus"))
    new_coverage_id: Callable[[], str] = field(default_factory=lambda: new_id("cov"))
    new_enrolment_id: Callable[[], str] = field(default_factory=lambda: new_id("enr"))

    async def register_customer(self, conn: asyncpg.Connection, command: commands.RegisterCustomer) -> Customer:
        possible_duplicates = await self.identities.likely_duplicates(conn, command)
        customer = Customer(self.new_customer_id())
        events = Customer.register(
            command, customer_id=customer.customer_id, now=self.clock.now(),
            possible_duplicates=possible_duplicates,
        )
        await self.customers.save(
            customer.customer_id, customer, events, subject=customer.customer_id, connection=conn
        )
        return customer

    async def change_contact_details(
        self, conn: asyncpg.Connection, customer_id: str, command: commands.ChangeContactDetails,
        expected_version: int | None = None,
    ) -> Customer:
        return await self._update(
            conn, customer_id, expected_version,
            lambda customer: customer.change_contact_details(command, now=self.clock.now()),
        )

    async def mark_contact_point_bounced(
        self, conn: asyncpg.Connection, customer_id: str, command: commands.MarkContactPointBounced,
        expected_version: int | None = None,
    ) -> Customer:
        return await self._update(
            conn, customer_id, expected_version,
            lambda customer: customer.mark_contact_point_bounced(command, now=self.clock.now()),
        )

    async def mark_contact_point_verified(
        self, conn: asyncpg.Connection, customer_id: str, command: commands.MarkContactPointVerified,
        expected_version: int | None = None,
    ) -> Customer:
        return await self._update(
            conn, customer_id, expected_version,
            lambda customer: customer.mark_contact_point_verified(command, now=self.clock.now()),
        )

    async def add_coverage(
        self, conn: asyncpg.Connection, customer_id: str, command: commands.AddCoverage,
        expected_version: int | None = None,
    ) -> tuple[Customer, str]:
        coverage_id = self.new_coverage_id()
        customer = await self._update(
            conn, customer_id, expected_version,
            lambda customer: customer.add_coverage(command, coverage_id=coverage_id, now=self.clock.now()),
        )
        return customer, coverage_id

    async def change_coverage(
        self, conn: asyncpg.Connection, customer_id: str, command: commands.ChangeCoverage,
        expected_version: int | None = None,
    ) -> Customer:
        return await self._update(
            conn, customer_id, expected_version,
            lambda customer: customer.change_coverage(command, now=self.clock.now()),
        )

    async def end_coverage(
        self, conn: asyncpg.Connection, customer_id: str, command: commands.EndCoverage,
        expected_version: int | None = None,
    ) -> Customer:
        return await self._update(
            conn, customer_id, expected_version,
            lambda customer: customer.end_coverage(command, now=self.clock.now()),
        )

    async def enrol_in_program(
        self, conn: asyncpg.Connection, customer_id: str, command: commands.EnrolInProgram,
        expected_version: int | None = None,
    ) -> tuple[Customer, str]:
        enrolment_id = self.new_enrolment_id()
        customer = await self._update(
            conn, customer_id, expected_version,
            lambda customer: customer.enrol_in_program(command, enrolment_id=enrolment_id, now=self.clock.now()),
        )
        return customer, enrolment_id

    async def note_special_concern(
        self, conn: asyncpg.Connection, customer_id: str, command: commands.NoteSpecialConcern,
        expected_version: int | None = None,
    ) -> Customer:
        return await self._update(
            conn, customer_id, expected_version,
            lambda customer: customer.note_special_concern(command, now=self.clock.now()),
        )

    async def _update(
        self, conn: asyncpg.Connection, customer_id: str, expected_version: int | None,
        decide: Callable[[Customer], list[DomainEvent]],
    ) -> Customer:
        customer = await self.customers.get(customer_id, connection=conn, expected_version=expected_version)
        await self.customers.save(
            customer.customer_id, customer, decide(customer), subject=customer.customer_id, connection=conn
        )
        return customer
