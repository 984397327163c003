"""Likely-duplicate detection: the same name and date of birth, or the same e-mail address.

A read model kept in the same transaction as the events that change it (so a customer registered
a moment ago is found at once), and like every read model rebuildable from the event store."""

from __future__ import annotations

import unicodedata

import asyncpg

from services.registration.domain.commands import ContactDetailsInput, RegisterCustomer
from services.registration.domain.events import (
    REGISTRATION_EVENTS,
    ContactDetails,
    ContactDetailsChanged,
    CustomerRegistered,
    PersonName,
)
from shared.envelope import EventEnvelope


def _normal(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().split())


def name_dob_key(name: PersonName | None, organisation: str | None, date_of_birth: object) -> str | None:
    if name is not None and date_of_birth is not None:
        return f"{_normal(name.given)}|{_normal(name.family)}|{date_of_birth}"
    if organisation:
        return f"org|{_normal(organisation)}"
    return None


def email_keys(contact: ContactDetails | ContactDetailsInput) -> list[str]:
    return sorted({e.address.strip().lower() for e in contact.emails})


class IdentityIndex:
    name = "identity-index"
    tables = ("customer_identities",)
    event_types = frozenset({CustomerRegistered.event_type, ContactDetailsChanged.event_type})

    async def apply(self, conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
        event = REGISTRATION_EVENTS.decode(envelope.type, envelope.data)
        if isinstance(event, CustomerRegistered):
            key = name_dob_key(event.person_name, event.organisation_name, event.date_of_birth)
            if key:
                await self._add(conn, event.customer_id, "name_dob", [key])
            await self._add(conn, event.customer_id, "email", email_keys(event.contact))
        elif isinstance(event, ContactDetailsChanged):
            await conn.execute(
                "DELETE FROM customer_identities WHERE customer_id = $1 AND kind = 'email'",
                event.customer_id,
            )
            await self._add(conn, event.customer_id, "email", email_keys(event.contact))

    @staticmethod
    async def _add(conn: asyncpg.Connection, customer_id: str, kind: str, values: list[str]) -> None:
        await conn.executemany(
            "INSERT INTO customer_identities (customer_id, kind, value) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            [(customer_id, kind, value) for value in values],
        )

    @staticmethod
    async def likely_duplicates(conn: asyncpg.Connection, command: RegisterCustomer) -> list[str]:
        key = name_dob_key(command.person_name, command.organisation_name, command.date_of_birth)
        emails = email_keys(command.contact)
        rows = await conn.fetch(
            """SELECT DISTINCT customer_id FROM customer_identities
               WHERE (kind = 'name_dob' AND value = $1) OR (kind = 'email' AND value = ANY($2::text[]))
               ORDER BY customer_id""",
            key,
            emails,
        )
        return [r["customer_id"] for r in rows]
