"""The customer search read model (name, e-mail, phone, member id) and its queries.

It is fed from the registration.events topic through the platform consumer, exactly as another
service would keep a read model of registration, and can be rebuilt from Kafka or from the store.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import asyncpg

from services.registration.domain.events import (
    REGISTRATION_EVENTS,
    ContactDetails,
    ContactDetailsChanged,
    CoverageAdded,
    CoverageChanged,
    CoverageEnded,
    CustomerKind,
    CustomerRegistered,
    SpecialConcernNoted,
)
from shared.envelope import EventEnvelope

def _contact_columns(contact: ContactDetails) -> tuple[list[str], list[str]]:
    return sorted({e.address.lower() for e in contact.emails}), sorted({p.number for p in contact.phones})


class CustomerSearchProjection:
    name = "customer-search"
    tables = ("customer_search", "customer_search_coverages")
    event_types = frozenset(event.event_type for event in REGISTRATION_EVENTS)

    async def apply(self, conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
        event = REGISTRATION_EVENTS.decode(envelope.type, envelope.data)  # validates first
        if isinstance(event, CustomerRegistered):
            if event.kind is CustomerKind.PERSON and event.person_name:
                display = f"{event.person_name.given} {event.person_name.family}"
                sort_name = f"{event.person_name.family} {event.person_name.given}".lower()
            else:
                display = event.organisation_name or ""
                sort_name = display.lower()
            emails, phones = _contact_columns(event.contact)
            await conn.execute(
                """INSERT INTO customer_search (customer_id, display_name, sort_name, date_of_birth,
                       emails, phones, flags, events_applied, last_event_id, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9)""",
                event.customer_id, display, sort_name, event.date_of_birth, emails, phones,
                sorted(event.flags), envelope.id, envelope.time,
            )
            return
        if isinstance(event, ContactDetailsChanged):
            emails, phones = _contact_columns(event.contact)
            await conn.execute(
                "UPDATE customer_search SET emails = $2, phones = $3 WHERE customer_id = $1",
                event.customer_id, emails, phones,
            )
        elif isinstance(event, (CoverageAdded, CoverageChanged)):
            await conn.execute(
                """INSERT INTO customer_search_coverages (customer_id, coverage_id, member_id)
                   VALUES ($1, $2, $3)
                   ON CONFLICT (customer_id, coverage_id) DO UPDATE SET member_id = EXCLUDED.member_id""",
                event.customer_id, event.coverage_id, event.terms.member_id,
            )
            await self._refresh_coverages(conn, event.customer_id)
        elif isinstance(event, CoverageEnded):
            await conn.execute(
                "UPDATE customer_search_coverages SET ended = true WHERE customer_id = $1 AND coverage_id = $2",
                event.customer_id, event.coverage_id,
            )
            await self._refresh_coverages(conn, event.customer_id)
        elif isinstance(event, SpecialConcernNoted):
            await conn.execute(
                """UPDATE customer_search SET flags = ARRAY(
                       SELECT DISTINCT f FROM unnest(flags || $2::text[]) AS f
                       WHERE f <> ALL($3::text[]) ORDER BY f)
                   WHERE customer_id = $1""",
                event.customer_id, [f.value for f in event.flags_raised], [f.value for f in event.flags_cleared],
            )
        await conn.execute(
            """UPDATE customer_search SET events_applied = events_applied + 1, last_event_id = $2,
                   updated_at = $3
               WHERE customer_id = $1""",
            envelope.subject, envelope.id, envelope.time,
        )

    @staticmethod
    async def _refresh_coverages(conn: asyncpg.Connection, customer_id: str) -> None:
        await conn.execute(
            """UPDATE customer_search SET
                   member_ids = ARRAY(SELECT DISTINCT member_id FROM customer_search_coverages
                                      WHERE customer_id = $1 ORDER BY member_id),
                   active_coverages = (SELECT count(*) FROM customer_search_coverages
                                       WHERE customer_id = $1 AND NOT ended)
               WHERE customer_id = $1""",
            customer_id,
        )


@dataclass(frozen=True)
class SearchQuery:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    member_id: str | None = None
    page_size: int = 50
    page_token: str | None = None


@dataclass(frozen=True)
class SearchPage:
    customers: list[dict[str, object]]
    next_page_token: str | None


class InvalidPageToken(ValueError):
    pass


def _encode_token(sort_name: str, customer_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_name, customer_id]).encode()).decode()


def _decode_token(token: str) -> tuple[str, str]:
    try:
        sort_name, customer_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(sort_name), str(customer_id)
    except Exception:
        raise InvalidPageToken("page_token is not one this API issued") from None


async def search_customers(pool: asyncpg.Pool, query: SearchQuery) -> SearchPage:
    """Customers matching every given criterion, ordered by family name, keyset-paginated."""
    after_name, after_id = _decode_token(query.page_token) if query.page_token else ("", "")
    name_pattern = f"%{query.name.lower()}%" if query.name else None
    rows = await pool.fetch(
        """SELECT customer_id, display_name, sort_name, date_of_birth, emails, phones, member_ids,
                  flags, active_coverages
           FROM customer_search
           WHERE ($1::text IS NULL OR lower(display_name) LIKE $1)
             AND ($2::text IS NULL OR emails @> ARRAY[lower($2)])
             AND ($3::text IS NULL OR phones @> ARRAY[$3])
             AND ($4::text IS NULL OR member_ids @> ARRAY[$4])
             AND (sort_name, customer_id) > ($5, $6)
           ORDER BY sort_name, customer_id
           LIMIT $7""",
        name_pattern, query.email, query.phone, query.member_id, after_name, after_id,
        query.page_size + 1,
    )
    page = rows[: query.page_size]
    next_token = (
        _encode_token(page[-1]["sort_name"], page[-1]["customer_id"]) if len(rows) > query.page_size else None
    )
    return SearchPage(
        customers=[
            {
                "customer_id": r["customer_id"],
                "display_name": r["display_name"],
                "date_of_birth": r["date_of_birth"],
                "emails": list(r["emails"]),
                "phones": list(r["phones"]),
                "member_ids": list(r["member_ids"]),
                "flags": list(r["flags"]),
                "active_coverages": r["active_coverages"],
            }
            for r in page
        ],
        next_page_token=next_token,
    )
