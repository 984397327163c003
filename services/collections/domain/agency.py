"""The agency contract, version 1: what a collection agency reads on its own topic
``collections.agency.<agency id>`` (one topic per agency, readable by that agency alone).

It is kept apart from collections' internal events on purpose: agencies are outside parties,
so their messages carry only what an agency needs to work a placement (who owes what, since
when, how to reach them, the flags that change how they may be approached) and nothing of the
care behind the debt: no diagnosis or procedure codes, no coverage, no notes. The contract is
versioned in the message type (``billing.collections.agency.v1.*``); a breaking change is a v2
published alongside v1 until every agency has moved. Its JSON Schemas and AsyncAPI document are
in shared/contracts/agency/.

Messages are CloudEvents in Kafka binary mode, like every topic of the platform: ``ce_type``,
``ce_id`` (unique; deduplicate by it), ``ce_time``, ... as headers, the JSON data as the value,
and the placement id as the key.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from services.collections.domain.events import (
    AccountEscalated,
    AccountRecalled,
    Debtor,
    Flags,
    Itemization,
    RecallReason,
)
from shared.events import DomainEvent, EventRegistry

SOURCE = "/billing/collections/agency"


def agency_topic(agency_id: str) -> str:
    return f"collections.agency.{agency_id}"


def agency_group_prefix(agency_id: str) -> str:
    """An agency's consumer groups must start with this."""
    return f"agency.{agency_id}."


class AgencyAccountEscalated(DomainEvent):
    """A debt placed with the agency: work it, report what you collect, acknowledge the placement."""

    event_type = "billing.collections.agency.v1.AccountEscalated"
    placement_id: str = Field(description="Quote it in every report about this account")
    agency_id: str
    account_reference: str = Field(description="The provider's reference, as the debtor knows the debt")
    debtor: Debtor
    itemization: Itemization = Field(description="The amounts as of the itemization date")
    service_dates: list[date] = Field(description="When the services billed were given")
    flags: Flags
    fee_rate_bp: int = Field(description="The agreed fee in basis points of what is collected")
    placed_at: datetime


class AgencyAccountRecalled(DomainEvent):
    """The provider takes the account back: stop working it."""

    event_type = "billing.collections.agency.v1.AccountRecalled"
    placement_id: str
    agency_id: str
    account_reference: str
    reason: RecallReason = Field(description="paid_directly, disputed, placed_in_error or settled")
    recalled_at: datetime


AGENCY_EVENTS = EventRegistry([AgencyAccountEscalated, AgencyAccountRecalled])


def for_agency(event: DomainEvent) -> DomainEvent | None:
    """The agency's message for one of collections' events, or None if agencies don't hear of it."""
    match event:
        case AccountEscalated():
            return AgencyAccountEscalated(
                placement_id=event.placement_id, agency_id=event.agency_id,
                account_reference=event.account_reference, debtor=event.debtor, itemization=event.itemization,
                service_dates=event.service_dates, flags=event.flags, fee_rate_bp=event.fee_rate_bp,
                placed_at=event.escalated_at,
            )
        case AccountRecalled():
            return AgencyAccountRecalled(
                placement_id=event.placement_id, agency_id=event.agency_id,
                account_reference=event.account_reference, reason=event.reason, recalled_at=event.recalled_at,
            )
    return None
