"""The customer search read model (name, e-mail, phone, member id) and its queries.

It is fed from the registration.events topic through the platform consumer, exactly as another
service would keep a read model of registration, and can be rebuilt from Kafka or from the store.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

import asyncpg

from services.registration.domain.events import (
    REGISTRATION_EVENTS,
    ContactDetailsChanged,
    CoverageAdded,
    CoverageChanged,
    CoverageEnded,
    CustomerKind,
    CustomerRegistered,
    SpecialConcernNoted,
)
from shared.envelope import EventEnvelope


@dataclass
class SearchRow:
    """One customer as search sees them."""

    customer_id: str
    display_name: str
    sort_name: str
    date_of_birth: date | None
    emails: list[str]
    phones: list[str]
    flags: list[str]
    coverages: dict[str, dict[str, Any]]
    events_applied: int
    last_event_id: uuid.UUID
    updated_at: datetime

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "customer_id", "display_name", "sort_name", "date_of_birth", "emails", "phones", "member_ids",
        "flags", "coverages", "active_coverages", "events_applied", "last_event_id", "updated_at",
    )

    def record(self) -> tuple[Any, ...]:
        return (
            self.customer_id, self.display_name, self.sort_name, self.date_of_birth, self.emails,
            self.phones, sorted({c["member_id"] for c in self.coverages.values()}), self.flags,
            json.dumps(self.coverages, sort_keys=True),
            sum(1 for c in self.coverages.values() if not c["ended"]),
            self.events_applied, self.last_event_id, self.updated_at,
        )

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> SearchRow:
        return cls(
            customer_id=record["customer_id"], display_name=record["display_name"],
            sort_name=record["sort_name"], date_of_birth=record["date_of_birth"],
            emails=list(record["emails"]), phones=list(record["phones"]), flags=list(record["flags"]),
            coverages=json.loads(record["coverages"]), events_applied=record["events_applied"],
            last_event_id=record["last_event_id"], updated_at=record["updated_at"],
        )


def _contact_columns(contact: dict[str, Any]) -> tuple[list[str], list[str]]:
    return (
        sorted({e["address"].lower() for e in contact["emails"]}),
        sorted({p["number"] for p in contact["phones"]}),
    )


def evolve(row: SearchRow | None, envelope: EventEnvelope) -> SearchRow | None:
    """The search row after the event in ``envelope``: the one fold used live and in rebuilds.

    It reads the event's JSON as it was recorded (validated when written, and again by ``apply``
    before it gets here), so a rebuild from the store does not pay for validating every event."""
    data = envelope.data
    match envelope.type:
        case CustomerRegistered.event_type:
            name = data.get("person_name")
            if data["kind"] == CustomerKind.PERSON and name:
                display = f"{name['given']} {name['family']}"
                sort_name = f"{name['family']} {name['given']}".lower()
            else:
                display = data.get("organisation_name") or ""
                sort_name = display.lower()
            emails, phones = _contact_columns(data["contact"])
            born = data.get("date_of_birth")
            row = SearchRow(
                customer_id=data["customer_id"], display_name=display, sort_name=sort_name,
                date_of_birth=date.fromisoformat(born) if born else None, emails=emails, phones=phones,
                flags=sorted(data.get("flags", [])), coverages={}, events_applied=0,
                last_event_id=envelope.id, updated_at=envelope.time,
            )
        case _ if row is None:
            return None  # an event of a customer registered before this model's history began
        case ContactDetailsChanged.event_type:
            row.emails, row.phones = _contact_columns(data["contact"])
        case CoverageAdded.event_type | CoverageChanged.event_type:
            ended = row.coverages.get(data["coverage_id"], {}).get("ended", False)
            row.coverages[data["coverage_id"]] = {"member_id": data["terms"]["member_id"], "ended": ended}
        case CoverageEnded.event_type if data["coverage_id"] in row.coverages:
            row.coverages[data["coverage_id"]]["ended"] = True
        case SpecialConcernNoted.event_type:
            raised, cleared = set(data.get("flags_raised", [])), set(data.get("flags_cleared", []))
            row.flags = sorted((set(row.flags) | raised) - cleared)
    row.events_applied += 1
    row.last_event_id = envelope.id
    row.updated_at = envelope.time
    return row


_UPSERT = f"""
INSERT INTO customer_search ({", ".join(SearchRow.COLUMNS)})
VALUES ({", ".join(f"${i}" for i in range(1, len(SearchRow.COLUMNS) + 1))})
ON CONFLICT (customer_id) DO UPDATE SET
{", ".join(f"{c} = EXCLUDED.{c}" for c in SearchRow.COLUMNS[1:])}
"""


class CustomerSearchProjection:
    name = "customer-search"
    tables = ("customer_search",)
    event_types = frozenset(event.event_type for event in REGISTRATION_EVENTS)

    async def apply(self, conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
        REGISTRATION_EVENTS.decode(envelope.type, envelope.data)  # refuses a malformed event
        stored = await conn.fetchrow("SELECT * FROM customer_search WHERE customer_id = $1", envelope.subject)
        row = evolve(SearchRow.from_record(stored) if stored else None, envelope)
        if row is not None:
            await conn.execute(_UPSERT, *row.record())

    async def rebuild_in_bulk(self, conn: asyncpg.Connection, batches: AsyncIterator[list[EventEnvelope]]) -> None:
        """Fold the whole history in memory and write the rows with one COPY."""
        rows: dict[str, SearchRow] = {}
        async for batch in batches:
            for envelope in batch:
                row = evolve(rows.get(envelope.subject), envelope)
                if row is not None:
                    rows[envelope.subject] = row
        await conn.copy_records_to_table(
            "customer_search", records=[row.record() for row in rows.values()], columns=SearchRow.COLUMNS
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
