"""Collections' own read models, updated in the transaction that records the events they fold
and rebuildable from the store: one row per debt, the notice delivery queue, skip-trace tasks,
and placements with agencies."""

from __future__ import annotations

import json

import asyncpg

from services.collections.domain.events import (
    AccountEscalated,
    AccountRecalled,
    AccountReturned,
    ActionPostponed,
    AgencyPaymentReported,
    ContactVerificationRequested,
    DebtOpened,
    DebtSettled,
    DemandIssued,
    DisputeOpened,
    DisputeResolved,
    NoticeDeliveryFailed,
    NoticeSent,
    PlacementAcknowledged,
    ValidationNoticeIssued,
)
from shared.envelope import EventEnvelope


class DebtBook:
    """One row per debt: where dunning stands."""

    name = "collections.debts"
    tables = ("debts",)
    event_types = frozenset({
        DebtOpened.event_type, DemandIssued.event_type, ValidationNoticeIssued.event_type,
        ActionPostponed.event_type, DisputeOpened.event_type, DisputeResolved.event_type,
        DebtSettled.event_type, AccountEscalated.event_type, AccountRecalled.event_type,
        AccountReturned.event_type,
    })

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        match event.type:
            case DebtOpened.event_type:
                await conn.execute(
                    """INSERT INTO debts (debt_id, invoice_id, customer_id, business_id, status, opened_at, updated_at)
                       VALUES ($1, $2, $3, $4, 'dunning', $5, $5)""",
                    data["debt_id"], data["invoice_id"], data["customer_id"], data["business_id"], event.time,
                )
            case DemandIssued.event_type:
                await conn.execute(
                    "UPDATE debts SET last_step = $2, last_notice_at = $3, updated_at = $3 WHERE debt_id = $1",
                    data["debt_id"], data["step"], event.time,
                )
            case ValidationNoticeIssued.event_type:
                await conn.execute(
                    "UPDATE debts SET last_notice_at = $2, updated_at = $2 WHERE debt_id = $1",
                    data["debt_id"], event.time,
                )
            case DisputeOpened.event_type | DisputeResolved.event_type:
                await conn.execute(
                    """UPDATE debts SET dispute_open = $2, updated_at = $3 WHERE debt_id = $1""",
                    data["debt_id"], event.type == DisputeOpened.event_type, event.time,
                )
            case DebtSettled.event_type:
                await conn.execute(
                    "UPDATE debts SET status = 'settled', updated_at = $2 WHERE debt_id = $1", data["debt_id"], event.time,
                )
            case AccountEscalated.event_type:
                await conn.execute(
                    """UPDATE debts SET status = 'escalated', placement_id = $2, agency_id = $3, updated_at = $4
                       WHERE debt_id = $1""",
                    data["debt_id"], data["placement_id"], data["agency_id"], event.time,
                )
            case AccountRecalled.event_type:
                await conn.execute(
                    "UPDATE debts SET status = 'dunning', updated_at = $2 WHERE debt_id = $1 AND status = 'escalated'",
                    data["debt_id"], event.time,
                )
            case AccountReturned.event_type:
                await conn.execute(
                    "UPDATE debts SET status = 'returned', updated_at = $2 WHERE debt_id = $1", data["debt_id"], event.time,
                )
            case ActionPostponed.event_type:
                await conn.execute("UPDATE debts SET updated_at = $2 WHERE debt_id = $1", data["debt_id"], event.time)


class NoticeQueue:
    """Every notice issued, waiting for the delivery worker, and what became of it (the worker
    marks the row as it reports; the outcome events say the same, so a rebuild agrees)."""

    name = "collections.notice-queue"
    tables = ("notice_deliveries",)
    event_types = frozenset({
        DemandIssued.event_type, ValidationNoticeIssued.event_type, NoticeSent.event_type,
        NoticeDeliveryFailed.event_type,
    })

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        match event.type:
            case NoticeSent.event_type:
                await conn.execute(
                    "UPDATE notice_deliveries SET status = 'sent', reference = $2 WHERE notice_id = $1",
                    data["notice_id"], data["reference"],
                )
            case NoticeDeliveryFailed.event_type:
                await conn.execute(
                    "UPDATE notice_deliveries SET status = 'failed', last_error = $2 WHERE notice_id = $1",
                    data["notice_id"], data["reason"],
                )
            case _:
                destination = data["destination"]
                await conn.execute(
                    """INSERT INTO notice_deliveries (notice_id, debt_id, customer_id, kind, channel, recipient,
                           contact_point_id, document, created_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (notice_id) DO NOTHING""",
                    data["notice_id"], data["debt_id"], data["customer_id"],
                    "demand" if event.type == DemandIssued.event_type else "validation",
                    destination["channel"], destination["recipient"], destination["contact_point_id"],
                    json.dumps(data), event.time,
                )


class VerificationTasks:
    """Skip-trace tasks; registration's new contact details close them (the feed does that)."""

    name = "collections.verification-tasks"
    tables = ("verification_tasks",)
    event_types = frozenset({ContactVerificationRequested.event_type})

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        await conn.execute(
            """INSERT INTO verification_tasks (debt_id, customer_id, channel, contact_point_id, reason, status,
                   requested_at)
               VALUES ($1, $2, $3, $4, $5, 'open', $6) ON CONFLICT DO NOTHING""",
            data["debt_id"], data["customer_id"], data["channel"], data.get("contact_point_id"), data["reason"],
            event.time,
        )


class PlacementBook:
    """Placements with agencies: what each was placed for, collected and kept as fees."""

    name = "collections.placements"
    tables = ("placements",)
    event_types = frozenset({
        AccountEscalated.event_type, PlacementAcknowledged.event_type, AgencyPaymentReported.event_type,
        AccountRecalled.event_type, AccountReturned.event_type,
    })

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        match event.type:
            case AccountEscalated.event_type:
                await conn.execute(
                    """INSERT INTO placements (placement_id, debt_id, customer_id, agency_id, account_reference, status,
                           currency, placed_balance, escalated_at, updated_at)
                       VALUES ($1, $2, $3, $4, $5, 'placed', $6, $7, $8, $8)""",
                    data["placement_id"], data["debt_id"], data["customer_id"], data["agency_id"],
                    data["account_reference"], data["itemization"]["currency"], data["itemization"]["balance"],
                    event.time,
                )
            case PlacementAcknowledged.event_type:
                await conn.execute(
                    """UPDATE placements SET status = 'acknowledged', agency_reference = $2, updated_at = $3
                       WHERE placement_id = $1""",
                    data["placement_id"], data.get("agency_reference"), event.time,
                )
            case AgencyPaymentReported.event_type:
                await conn.execute(
                    """UPDATE placements SET collected = collected + $2, fees = fees + $3, updated_at = $4
                       WHERE placement_id = $1""",
                    data["placement_id"], data["amount"], data["fee"], event.time,
                )
            case AccountRecalled.event_type | AccountReturned.event_type:
                recalled = event.type == AccountRecalled.event_type
                await conn.execute(
                    """UPDATE placements SET status = $2, closed_reason = $3, updated_at = $4 WHERE placement_id = $1""",
                    data["placement_id"], "recalled" if recalled else "returned", data["reason"], event.time,
                )


INLINE_READ_MODELS = (DebtBook(), NoticeQueue(), VerificationTasks(), PlacementBook())
